/**
 * Sequence must increase strictly per StreamId within any 10 s. One process-wide counter of
 * max(nowMs, last + 1) satisfies that for every stream at once, and survives the wall clock
 * stepping backwards and bursts within one millisecond. Pass one instance to every client the
 * process builds (reloads included), so a new client never reuses a value.
 */
export class SequenceCounter {
  #last = 0;
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** The last Sequence given (0 before the first). */
  get last(): number {
    return this.#last;
  }

  /**
   * The next Sequence. `fleet` is one the fleet gave for this call (fleet mode, Redis reachable):
   * used as it is, because the fleet's number is what every replica's next one is above; the
   * local counter only rises with it, so it stays above it once Redis is away.
   */
  next(fleet?: number): string {
    if (fleet !== undefined) {
      this.#last = Math.max(this.#last, fleet);
      return String(fleet);
    }
    this.#last = Math.max(Math.floor(this.#now()), this.#last + 1);
    return String(this.#last);
  }
}
