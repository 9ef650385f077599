import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { StreamRecord } from '../state/store.js';
import { trailer, type Format } from './exposition.js';
import type { SelfMetrics } from './self.js';
import type { StreamFamilies } from './block-cache.js';

export interface ScrapeSources {
  self: Pick<SelfMetrics, 'render'>;
  families: StreamFamilies;
  snapshot: () => Iterable<Readonly<StreamRecord>>;
  now: () => number;
  /** Families the parts render themselves (rooms), after the exporter's own. */
  parts?: (format: Format) => string;
  /** Per-stream info families without the streams' labels (zego_stream_source_info), after the parts'. */
  info?: (format: Format) => Buffer;
}

interface Waiter {
  resolve: (body: Buffer[]) => void;
  reject: (err: unknown) => void;
}

/**
 * Builds the /metrics body. Scrapes that arrive while a render of the same format is under way
 * share its result: ten scrapers cost one render, not ten, and the values are still those of the
 * moment the render ran. Every few milliseconds of work the render yields, so a 10k-stream scrape
 * never holds the event loop for long (probing and other requests keep their pace). The body is a
 * list of Buffers, mostly the families' cached blocks, written to every waiting socket as they are: a
 * scrape allocates only what changed, not a fresh multi-megabyte copy of the whole body.
 */
export class ScrapeRenderer {
  readonly #src: ScrapeSources;
  /** Scrapes waiting for the render of their format that is under way. */
  readonly #inflight = new Map<Format, Waiter[]>();

  constructor(src: ScrapeSources) {
    this.#src = src;
  }

  /**
   * Builds the caches in the background (a yielding render) once the stream list is known, so the
   * first scrape after a start or reload costs what any other does.
   */
  prerender(log: Pick<Logger, 'debug' | 'warn'>, streams: number): void {
    const started = performance.now();
    this.render('text').then(
      () => log.debug({ streams, ms: Math.round(performance.now() - started) }, 'metrics caches built'),
      (err: unknown) => log.warn({ err }, 'pre-rendering /metrics failed'),
    );
  }

  render(format: Format): Promise<Buffer[]> {
    return new Promise((resolve, reject) => {
      const waiting = this.#inflight.get(format);
      if (waiting) {
        waiting.push({ resolve, reject });
        return;
      }
      const waiters = [{ resolve, reject }];
      this.#inflight.set(format, waiters);
      void this.#run(format, waiters);
    });
  }

  /**
   * Hands the body to the waiting scrapes one per turn of the event loop: each of them writes
   * megabytes to its socket, and ten such writes in one turn would stall everything else.
   */
  async #run(format: Format, waiters: Waiter[]): Promise<void> {
    let body: Buffer[] | undefined;
    let error: unknown;
    try {
      body = await this.#render(format);
    } catch (err) {
      error = err;
    }
    this.#inflight.delete(format);
    for (let i = 0; i < waiters.length; i++) {
      if (i > 0) await nextTurn();
      if (body) waiters[i]!.resolve(body);
      else waiters[i]!.reject(error);
    }
  }

  async #render(format: Format): Promise<Buffer[]> {
    const chunks: Buffer[] = [Buffer.from(await this.#src.self.render(format))];
    const own = this.#src.parts?.(format) ?? '';
    if (own !== '') chunks.push(Buffer.from(own));
    const info = this.#src.info?.(format);
    if (info && info.length > 0) chunks.push(info);
    for (const chunk of this.#src.families.chunks(this.#src.snapshot(), this.#src.now(), format)) {
      if (chunk.length > 0) chunks.push(chunk);
      else await nextTurn();
    }
    chunks.push(Buffer.from(trailer(format)));
    return chunks;
  }
}
