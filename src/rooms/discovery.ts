export type RoomOffer = 'added' | 'known' | 'full';

/**
 * Which unlisted streams are watched because a watched room's list named them, and the room each
 * was last seen in (its labels follow the room). Listed streams never pass through here, so they
 * are never forgotten. Capped: past `max` new streams are refused (and counted) until some are
 * forgotten. It only decides; the rooms part hands the set to the Exporter.
 */
export class RoomDiscovery {
  readonly #rooms = new Map<string, string>();
  #max: number;
  /** Streams refused because the cap was reached, since start. */
  refused = 0;

  constructor(max: number) {
    this.#max = max;
  }

  /** A lower cap drops the newest discoveries beyond it. */
  setMax(max: number): void {
    this.#max = max;
    if (this.#rooms.size <= max) return;
    const ids = [...this.#rooms.keys()];
    for (const id of ids.slice(max)) this.#rooms.delete(id);
  }

  offer(id: string, roomId: string): RoomOffer {
    if (this.#rooms.has(id)) {
      this.#rooms.set(id, roomId);
      return 'known';
    }
    if (this.#rooms.size >= this.#max) {
      this.refused++;
      return 'full';
    }
    this.#rooms.set(id, roomId);
    return 'added';
  }

  roomOf(id: string): string | undefined {
    return this.#rooms.get(id);
  }

  drop(id: string): boolean {
    return this.#rooms.delete(id);
  }

  /** Forgets streams closed for at least `forgetAfterMs`; `closedSince` gives when each closed (null: up or unknown). */
  sweep(nowMs: number, forgetAfterMs: number, closedSince: (id: string) => number | null): string[] {
    const gone: string[] = [];
    for (const id of this.#rooms.keys()) {
      const since = closedSince(id);
      if (since !== null && nowMs - since >= forgetAfterMs) {
        this.#rooms.delete(id);
        gone.push(id);
      }
    }
    return gone;
  }

  entries(): IterableIterator<[string, string]> {
    return this.#rooms.entries();
  }

  get size(): number {
    return this.#rooms.size;
  }
}
