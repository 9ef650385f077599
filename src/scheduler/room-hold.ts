/**
 * The per-room rule in one process: a room's DescribeSimpleStreamList holds the room from send
 * until `holdMs` (10 s) after its response ends, so two calls for one room never arrive within
 * 10 s whatever the network does. The fleet's equivalent is src/fleet/room-lock.ts.
 */
export class RoomHold {
  readonly #now: () => number;
  /** Room → when its hold ends (Infinity while its call is in flight). */
  readonly #until = new Map<string, number>();

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Takes the room if it is free; false while a call for it is in flight or in its hold. */
  acquire(roomId: string): boolean {
    const now = this.#now();
    const until = this.#until.get(roomId);
    if (until !== undefined && until > now) return false;
    this.#until.set(roomId, Number.POSITIVE_INFINITY);
    return true;
  }

  /** The call's response has ended: the room is free again `holdMs` from now. */
  release(roomId: string, holdMs: number): void {
    if (!this.#until.has(roomId)) return;
    this.#until.set(roomId, this.#now() + holdMs);
  }

  /** Ms until the room may be called again: 0 if free now, Infinity while its call is in flight. */
  waitMs(roomId: string): number {
    const until = this.#until.get(roomId);
    return until === undefined ? 0 : Math.max(0, until - this.#now());
  }

  /** Forgets holds that have ended, so rooms removed from the config leave nothing behind. */
  sweep(): void {
    const now = this.#now();
    for (const [room, until] of this.#until) if (until <= now) this.#until.delete(room);
  }

  get size(): number {
    return this.#until.size;
  }
}
