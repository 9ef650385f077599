/**
 * Events in the half-open interval (now - spanMs, now]. A true sliding window, not fixed
 * one-second buckets: a burst straddling a second boundary is still seen as one burst, which is
 * how a client that aligns its sends to wall-clock seconds gets caught.
 *
 * Assumes a non-decreasing clock (monotonic time).
 */
export class SlidingWindow {
  readonly #spanMs: number;
  #times: number[] = [];
  #head = 0;

  constructor(spanMs = 1000) {
    if (!(spanMs > 0)) throw new RangeError(`spanMs must be > 0, got ${spanMs}`);
    this.#spanMs = spanMs;
  }

  /** Number of events in (nowMs - span, nowMs]. */
  count(nowMs: number): number {
    this.#prune(nowMs);
    return this.#times.length - this.#head;
  }

  /** Records an event at nowMs and returns the count including it. */
  add(nowMs: number): number {
    this.#prune(nowMs);
    this.#times.push(nowMs);
    return this.#times.length - this.#head;
  }

  clear(): void {
    this.#times = [];
    this.#head = 0;
  }

  #prune(nowMs: number): void {
    const floor = nowMs - this.#spanMs;
    while (this.#head < this.#times.length && (this.#times[this.#head] as number) <= floor) this.#head++;
    // Compact occasionally instead of shift()ing each entry: O(1) amortised per event.
    if (this.#head > 1024 && this.#head * 2 > this.#times.length) {
      this.#times = this.#times.slice(this.#head);
      this.#head = 0;
    }
  }
}
