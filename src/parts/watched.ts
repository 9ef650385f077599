import type { WatchedStream } from '../state/store.js';

/** Parts are told apart by a bit each (their place in the list): a few, never more than this. */
export const MAX_PARTS = 30;

/**
 * Which ids are watched and on whose behalf: the config's streams, and those each part added. It
 * decides when a part's add or remove changes what is watched (an id the config lists, or that
 * another part still watches, stays), in O(1), so discovering a stream never costs a pass over
 * the others. A part's streams are held as a bit per part, not a set per id (10k streams).
 */
export class WatchedSet {
  readonly #listed = new Set<string>();
  /** Per id a part watches: the bits of the parts that watch it. */
  readonly #owners = new Map<string, number>();

  /**
   * Starts over from the config's streams and every part's full list (a reload, or a part that
   * changed wholesale): the watched set in order, config first, each id once (the first wins).
   */
  reset(config: readonly WatchedStream[], parts: readonly (Iterable<WatchedStream> | undefined)[]): WatchedStream[] {
    if (parts.length > MAX_PARTS) throw new Error(`at most ${MAX_PARTS} parts`);
    this.#listed.clear();
    this.#owners.clear();
    const out: WatchedStream[] = [];
    for (const w of config) {
      if (this.#listed.has(w.id)) continue;
      this.#listed.add(w.id);
      out.push(w);
    }
    parts.forEach((streams, part) => {
      for (const w of streams ?? []) {
        const bits = this.#owners.get(w.id);
        if (bits === undefined && !this.#listed.has(w.id)) out.push(w);
        this.#owners.set(w.id, (bits ?? 0) | bit(part));
      }
    });
    return out;
  }

  /** Part `part` watches `id`: true when nobody watched it before (the caller starts watching it). */
  add(part: number, id: string): boolean {
    const bits = this.#owners.get(id);
    this.#owners.set(id, (bits ?? 0) | bit(part));
    return bits === undefined && !this.#listed.has(id);
  }

  /** Part `part` no longer watches `id`: true when nobody does any more (the caller stops watching it). */
  remove(part: number, id: string): boolean {
    const bits = this.#owners.get(id);
    if (bits === undefined || (bits & bit(part)) === 0) return false;
    const left = bits & ~bit(part);
    if (left !== 0) {
      this.#owners.set(id, left);
      return false;
    }
    this.#owners.delete(id);
    return !this.#listed.has(id);
  }
}

function bit(part: number): number {
  return 1 << part;
}
