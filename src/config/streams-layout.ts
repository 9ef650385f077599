/**
 * Where a config text's `streams:` list lies, item by item, found from the text's lines alone, so
 * that the loader can parse the list a slice of items at a time instead of holding the whole
 * file's YAML syntax tree (some 75 bytes of tree per byte of file) and document (another 35) at
 * once. Only the plain shape operators write is recognised: a top-level `streams:` line, then a
 * block list whose items all begin `- ` at one indentation, then a top-level line or the end.
 * Anything else (a flow list, a second `streams:` key, a tab, an item indented otherwise) is
 * null, and the loader reads the whole document as before. The layout is a guess from lines:
 * the loader checks it against the parse of each slice and reads the whole document if they
 * disagree, so a guess can cost time, never a different result.
 */
export interface StreamsLayout {
  /** Offset of the start of each item's first line (its indentation included). */
  readonly itemStarts: readonly number[];
  /** Offset just past the list: the start of the next top-level line, or the text's length. */
  readonly end: number;
}

const STREAMS_KEY = /^streams[ \t]*:[ \t]*(?:#.*)?\r?$/;

export function streamsLayout(text: string): StreamsLayout | null {
  let keyEnd = -1;
  let at = 0;
  // The top-level `streams:` line; a second one is a duplicate key the whole parse must report.
  while (at < text.length) {
    const eol = lineEnd(text, at);
    if (text.charCodeAt(at) === 0x73 /* s */ && STREAMS_KEY.test(text.slice(at, eol))) {
      if (keyEnd !== -1) return null;
      keyEnd = eol;
    }
    at = eol + 1;
  }
  if (keyEnd === -1) return null;

  const itemStarts: number[] = [];
  let indent = -1;
  for (at = keyEnd + 1; at < text.length;) {
    const eol = lineEnd(text, at);
    let i = at;
    while (text.charCodeAt(i) === 0x20) i++;
    const c = text.charCodeAt(i);
    const blank = i >= eol || c === 0x0d || c === 0x23; /* # */
    if (!blank) {
      if (c === 0x09) return null; // a tab: indentation YAML forbids, or one this guess will not read
      const depth = i - at;
      const item = c === 0x2d /* - */ && (i + 1 >= eol || text.charCodeAt(i + 1) === 0x20 || text.charCodeAt(i + 1) === 0x0d);
      if (indent === -1) {
        if (!item) return null; // `streams:` is not followed by a block list
        indent = depth;
      }
      if (item && depth === indent) itemStarts.push(at);
      else if (depth <= indent) {
        // The list ends at a top-level key; any other line at or left of the items is not this shape.
        return depth === 0 ? { itemStarts, end: at } : null;
      }
    }
    at = eol + 1;
  }
  return indent === -1 ? null : { itemStarts, end: text.length };
}

function lineEnd(text: string, from: number): number {
  const eol = text.indexOf('\n', from);
  return eol === -1 ? text.length : eol;
}
