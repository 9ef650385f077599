import { createHash } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { isScalar, isSeq, LineCounter, parseDocument } from 'yaml';
import { CONFIG_FILE_MAX_BYTES, FileReadError, readRegularFile } from './regular-file.js';
import { ConfigReader, type ConfigError, type Fields, type ParseOptions, type YamlNode } from './reader.js';
import { readCallbacks } from './sections/callbacks.js';
import { readFleet } from './sections/fleet.js';
import { readProbe } from './sections/probe.js';
import { readMixTasks } from './sections/mix-tasks.js';
import { readOutputDiscovery } from './sections/output-discovery.js';
import { readOutputs } from './sections/outputs.js';
import { readRooms } from './sections/rooms.js';
import { readStreams, type ListItems } from './sections/streams.js';
import { streamsLayout, type StreamsLayout } from './streams-layout.js';
import { readZego } from './sections/zego.js';
import { MIX_TASK_DEFAULT_INTERVAL_MS, type Config } from './types.js';

export type { ConfigError, ParseOptions } from './reader.js';

/** `warnings`: the config is valid, but something in it is probably not what was meant (logged, printed by --config.check). */
export type LoadResult = { ok: true; config: Config; hash: string; warnings: ConfigError[] } | { ok: false; errors: ConfigError[] };

/**
 * Streams one config file may list. The list is read a slice at a time (parseBySlices), so a
 * load costs about 25× the file's size at its peak (a 100 000-stream file of 3.3 MB: 82 MB of
 * RSS, 21 MB of it the loader thread itself); 100 000 short entries also fit the file cap
 * (CONFIG_FILE_MAX_BYTES, 4 MiB). A file in a shape the slices cannot read is parsed whole and
 * may meet the loader's heap first, with the same message. More streams are watched by discovery
 * (callbacks.discover, rooms), which costs no config at all.
 */
export const MAX_CONFIG_STREAMS = 100_000;

/** The one wording of the limit: in the error of a file over it, and of a load that ran out of memory. */
export function streamsLimitText(max = MAX_CONFIG_STREAMS): string {
  return `a config file may list at most ${max.toLocaleString('en-US')} streams (docs/limits.md); watch more by discovery (callbacks.discover, rooms)`;
}

/** The top-level keys, each read by its own section reader in sections/. */
const SECTIONS = ['zego', 'probe', 'streams', 'fleet', 'callbacks', 'rooms', 'mix_tasks', 'outputs', 'output_discovery'] as const;

export async function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Promise<LoadResult> {
  let text: string;
  try {
    // A regular file under the cap: a FIFO or a device in its place is refused, not read.
    text = readRegularFile(file, CONFIG_FILE_MAX_BYTES).toString('utf8');
  } catch (err) {
    const why = err instanceof FileReadError ? err.reason : (err as Error).message;
    return { ok: false, errors: [{ path: '', message: `cannot read config file ${file}: ${explain(why)}` }] };
  }
  return parseConfig(text, { env, baseDir: dirname(resolve(file)) });
}

/** The two mistakes of a first run, said with what to do: no file where --config.file points, or a directory there. */
function explain(why: string): string {
  if (why === 'ENOENT')
    return 'it does not exist (ENOENT): give its path with --config.file=<path>, or start from the example: cp config.example.yaml config.yaml (the default --config.file)';
  if (why === 'not a regular file (a directory)') return `${why}: --config.file=<path> names the YAML file itself, e.g. --config.file=config.yaml`;
  return why;
}

/** `file:line:col: path: warning: message` — a warning, in the same shape as an error. */
export function formatConfigWarning(w: ConfigError, file: string): string {
  return formatConfigError({ ...w, message: `warning: ${w.message}` }, file);
}

export function formatConfigError(e: ConfigError, file: string): string {
  const where = e.line === undefined ? file : `${file}:${e.line}:${e.col ?? 1}`;
  return `${where}: ${e.path === '' ? '' : `${e.path}: `}${e.message}`;
}

/**
 * Items of a long `streams:` list parsed at a time: a slice's syntax tree and document are a few
 * hundred KB and garbage once read, where the whole list's of 50 000 items were ~250 MB at once.
 */
const SLICE_ITEMS = 1000;

/** A slice of the streams list did not parse as the layout said: the whole document is read instead. */
class SliceMismatch extends Error {}

/**
 * Pure: text in, typed config or every error out. Never throws on bad input. A file whose
 * `streams:` list has the plain shape (streams-layout.ts) is read with that list parsed a slice
 * at a time; any YAML error, or a slice that does not parse as its lines said, sends the file
 * through the whole-document parse, which gives every error where it is and is the result.
 */
export function parseConfig(text: string, opts: ParseOptions): LoadResult {
  const layout = opts.wholeDocument === true ? null : streamsLayout(text);
  return (layout ? parseBySlices(text, layout, opts) : undefined) ?? parseWhole(text, opts);
}

function parseWhole(text: string, opts: ParseOptions): LoadResult {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const r = new ConfigReader(lc, opts);
  for (const e of doc.errors) {
    const pos = lc.linePos(e.pos[0]);
    r.errors.push({ path: '', line: pos.line, col: pos.col, message: `YAML: ${e.message.split('\n')[0]}` });
  }
  if (r.errors.length > 0) return { ok: false, errors: r.errors };
  return readDocument(text, r, doc.contents);
}

/**
 * The document without its streams list but its first item (so `streams` is still a list where
 * the file has it), then the list a slice at a time as readStreams asks for items. Undefined when
 * the whole document must be read instead.
 */
function parseBySlices(text: string, layout: StreamsLayout, opts: ParseOptions): LoadResult | undefined {
  const { itemStarts, end } = layout;
  const per = opts.sliceItems ?? SLICE_ITEMS;
  const cut = itemStarts[1] ?? end;
  const doc = parseDocument(text.slice(0, cut) + text.slice(end), { prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) return undefined;
  const r = new ConfigReader(lineCounter(text), opts);
  const inRest = (offset: number): number => (offset < cut ? offset : offset + end - cut);
  r.textOffset = inRest;

  function* slices(): Generator<YamlNode | null> {
    try {
      for (let k = 0; k < itemStarts.length; k += per) {
        const from = itemStarts[k]!;
        const slice = parseDocument(text.slice(from, itemStarts[k + per] ?? end), { prettyErrors: false, uniqueKeys: true });
        const items = isSeq(slice.contents) ? slice.contents.items : undefined;
        if (slice.errors.length > 0 || items?.length !== Math.min(per, itemStarts.length - k)) throw new SliceMismatch();
        r.textOffset = (offset) => offset + from;
        yield* items as (YamlNode | null)[];
      }
    } finally {
      r.textOffset = inRest;
    }
  }

  try {
    return readDocument(text, r, doc.contents, { count: itemStarts.length, items: slices() });
  } catch (err) {
    if (err instanceof SliceMismatch) return undefined;
    throw err;
  }
}

/** The LineCounter a parse of the whole text would have filled: where each line starts. */
function lineCounter(text: string): LineCounter {
  const lc = new LineCounter();
  lc.addNewLine(0);
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lc.addNewLine(i + 1);
  return lc;
}

/** Every section of a parsed document; `listed`, the streams list's items when they are parsed apart. */
function readDocument(text: string, r: ConfigReader, root: YamlNode | null, listed?: ListItems): LoadResult {
  if (!root || (isScalar(root) && root.value === null)) return { ok: false, errors: [{ path: '', message: 'config is empty' }] };
  const top: Fields | undefined = r.fields(root, '', SECTIONS);
  if (!top) return { ok: false, errors: r.errors };

  const list = top.get('streams');
  const count = listed?.count ?? (isSeq(list) ? list.items.length : 0);
  if (isSeq(list) && count > (r.opts.maxStreams ?? MAX_CONFIG_STREAMS)) {
    r.err('streams', list, `lists ${count.toLocaleString('en-US')} streams: ${streamsLimitText(r.opts.maxStreams)}`);
    return { ok: false, errors: r.errors };
  }

  // zego first: the streams' prefix and length rule and the fleet's fallback rate depend on it.
  const zego = readZego(r, top.get('zego'));
  const probe = readProbe(r, top.get('probe'), top.has('probe'));
  const rooms = readRooms(r, top.get('rooms'));
  const mixTasks = readMixTasks(r, top.get('mix_tasks'));
  const outputs = readOutputs(r, top.get('outputs'));
  const outputDiscovery = top.has('output_discovery') ? readOutputDiscovery(r, top.get('output_discovery')) : undefined;
  // Rooms, mix tasks or outputs alone are something to watch: streams may then be left out.
  const others = (rooms?.length ?? 0) > 0 || (mixTasks?.length ?? 0) > 0 || (outputs?.length ?? 0) > 0;
  const streams = readStreams(r, list, probe.intervalMs, zego, others, isSeq(list) ? listed : undefined);
  const fleet = top.has('fleet') ? readFleet(r, top.get('fleet'), zego?.rateLimit) : undefined;
  const callbacks = top.has('callbacks') ? readCallbacks(r, top.get('callbacks')) : undefined;

  if (r.errors.length > 0 || !zego || !streams || !rooms || !mixTasks || !outputs) return { ok: false, errors: r.errors };
  // A mix task an output names is its mixer layer: watched (severity none, no alert of its own) when mix_tasks: does not list it.
  const listedTasks = new Set(mixTasks.map((m) => m.id));
  for (const o of outputs) {
    if (o.mixTask === undefined || listedTasks.has(o.mixTask)) continue;
    listedTasks.add(o.mixTask);
    mixTasks.push({ id: o.mixTask, intervalMs: MIX_TASK_DEFAULT_INTERVAL_MS, labels: { severity: 'none' } });
  }
  const hash = createHash('sha256').update(text).update(r.secretFileText).digest('hex');
  return {
    ok: true,
    config: {
      zego,
      probe,
      streams,
      ...(fleet ? { fleet } : {}),
      ...(callbacks ? { callbacks } : {}),
      ...(rooms.length > 0 ? { rooms } : {}),
      ...(mixTasks.length > 0 ? { mixTasks } : {}),
      ...(outputs.length > 0 ? { outputs } : {}),
      ...(outputDiscovery ? { outputDiscovery } : {}),
    },
    hash,
    warnings: r.warnings,
  };
}
