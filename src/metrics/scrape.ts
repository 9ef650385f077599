import { setImmediate as nextTurn } from 'node:timers/promises';
import type { StreamState } from '../state/store.js';
import { trailer, type Format } from './exposition.js';
import type { SelfMetrics } from './self.js';
import type { StreamFamilies } from './streams.js';

export interface ScrapeSources {
  self: SelfMetrics;
  families: StreamFamilies;
  snapshot: () => Iterable<Readonly<StreamState>>;
  now: () => number;
}

/**
 * Builds the /metrics body. Scrapes that arrive while a render of the same format is under way
 * share its result: ten scrapers cost one render, not ten, and the values are still those of the
 * moment the render ran. Between families the render yields, so a 10k-stream scrape never holds
 * the event loop for long (probing and other requests keep their pace). The body is a list of
 * Buffers, mostly the families' cached chunks, written to every waiting socket as they are: a
 * scrape allocates only what changed, not a fresh multi-megabyte copy of the whole body.
 */
export class ScrapeRenderer {
  readonly #src: ScrapeSources;
  readonly #inflight = new Map<Format, Promise<Buffer[]>>();

  constructor(src: ScrapeSources) {
    this.#src = src;
  }

  render(format: Format): Promise<Buffer[]> {
    const running = this.#inflight.get(format);
    if (running) return running;
    const p = this.#render(format).finally(() => this.#inflight.delete(format));
    this.#inflight.set(format, p);
    return p;
  }

  async #render(format: Format): Promise<Buffer[]> {
    const chunks: Buffer[] = [Buffer.from(await this.#src.self.render(format))];
    for (const chunk of this.#src.families.chunks(this.#src.snapshot(), this.#src.now(), format)) {
      if (chunk.length > 0) chunks.push(chunk);
      await nextTurn();
    }
    chunks.push(Buffer.from(trailer(format)));
    return chunks;
  }
}
