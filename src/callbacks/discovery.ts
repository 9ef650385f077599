import type { DiscoverConfig } from '../config/types.js';

/** `*` matches any run of characters; everything else is literal. */
export function globToRegExp(glob: string): RegExp {
  const body = glob
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('.*');
  return new RegExp(`^${body}$`);
}

export type DiscoverResult = 'added' | 'no_match' | 'full';

/**
 * Which unlisted streams are watched because a stream_create named them. Listed streams never pass
 * through here, so they are never forgotten. It only decides; the callbacks part (part.ts) hands the set to the Exporter.
 */
export class Discovery {
  #cfg: DiscoverConfig;
  #patterns: RegExp[];
  readonly #ids = new Set<string>();

  constructor(cfg: DiscoverConfig) {
    this.#cfg = cfg;
    this.#patterns = cfg.patterns.map(globToRegExp);
  }

  /** New patterns or cap: discovered streams that no longer match, or exceed the cap, go. */
  setConfig(cfg: DiscoverConfig): void {
    this.#cfg = cfg;
    this.#patterns = cfg.patterns.map(globToRegExp);
    for (const id of this.#ids) if (!this.matches(id) || this.#ids.size > cfg.maxStreams) this.#ids.delete(id);
  }

  get forgetAfterMs(): number {
    return this.#cfg.forgetAfterMs;
  }

  matches(id: string): boolean {
    return this.#patterns.some((p) => p.test(id));
  }

  offer(id: string): DiscoverResult {
    if (this.#ids.has(id)) return 'added';
    if (!this.matches(id)) return 'no_match';
    if (this.#ids.size >= this.#cfg.maxStreams) return 'full';
    this.#ids.add(id);
    return 'added';
  }

  /** A stream the config now lists stops being "discovered" (and so can't be forgotten). */
  drop(id: string): boolean {
    return this.#ids.delete(id);
  }

  /** Forgets streams closed for longer than forget_after; `closedSince` gives when each closed (null: up or unknown). */
  sweep(nowMs: number, closedSince: (id: string) => number | null): string[] {
    const gone: string[] = [];
    for (const id of this.#ids) {
      const since = closedSince(id);
      if (since !== null && nowMs - since >= this.#cfg.forgetAfterMs) {
        this.#ids.delete(id);
        gone.push(id);
      }
    }
    return gone;
  }

  ids(): IterableIterator<string> {
    return this.#ids.values();
  }

  get size(): number {
    return this.#ids.size;
  }
}
