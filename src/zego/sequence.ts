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

  next(): string {
    this.#last = Math.max(Math.floor(this.#now()), this.#last + 1);
    return String(this.#last);
  }
}
