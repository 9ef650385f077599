import type { StreamRecord } from '../state/store.js';
import { familyHeader, formatLabels, type Format } from './exposition.js';

const NAME = 'zego_stream_source_info';
const HELP =
  "Why the stream is watched: source is config (listed in streams:), room (found in a watched room's list) callback (discovered by a stream_create callback) or output (it feeds a watched output); when several watch it, config wins, else the first to watch it. Always 1.";

/**
 * zego_stream_source_info{stream_id,source} for every watched stream, label-free like
 * zego_stream_room_info (a join never meets the stream's own labels). Kept encoded until the
 * watched set (a new snapshot) or a kept stream's origin (the store's originsVersion) changes, so a
 * scrape of 10k streams costs a comparison.
 */
export class SourceInfoFamily {
  #key: { list: readonly Readonly<StreamRecord>[]; version: number } | null = null;
  /** The encoded family per format (the header differs), built at most once per key. */
  readonly #encoded = new Map<Format, Buffer>();

  /** The family's bytes; empty when nothing is watched. The same Buffer while nothing changed. */
  render(list: readonly Readonly<StreamRecord>[], originsVersion: number, format: Format): Buffer {
    if (this.#key?.list !== list || this.#key.version !== originsVersion) {
      this.#encoded.clear();
      this.#key = { list, version: originsVersion };
    }
    let out = this.#encoded.get(format);
    if (!out) {
      let body = '';
      for (const s of list) body += `${NAME}${formatLabels({ stream_id: s.id, source: s.origin })} 1\n`;
      out = Buffer.from(body === '' ? '' : familyHeader(NAME, HELP, 'gauge', format) + body);
      this.#encoded.set(format, out);
    }
    return out;
  }
}
