/**
 * Bytes of request bodies held in memory across every connection, whatever listener they came
 * through. Unfinished uploads cost no secret to send, so without a shared bound each connection
 * adds up to the per-request cap and memory grows with the number of sockets. A request that does
 * not fit is refused at once (503, Retry-After) instead of being buffered: ZEGO retries a refused
 * callback, an attacker only gets its connection closed.
 */
export class BodyBudget {
  readonly limitBytes: number;
  #held = 0;

  constructor(limitBytes: number) {
    this.limitBytes = limitBytes;
  }

  /** Bytes reserved now (for tests and diagnostics). */
  get held(): number {
    return this.#held;
  }

  tryReserve(bytes: number): boolean {
    if (bytes <= 0) return true;
    if (this.#held + bytes > this.limitBytes) return false;
    this.#held += bytes;
    return true;
  }

  release(bytes: number): void {
    this.#held = Math.max(0, this.#held - bytes);
  }
}

/**
 * 16 MiB: 256 bodies at the 64 KiB per-request cap, or thousands of real callbacks (about 1 KiB
 * each) at once; small next to the exporter's own heap.
 */
export const DEFAULT_BODY_BUDGET_BYTES = 16 * 1024 * 1024;

/** One budget per process, so a reload that builds a new receiver does not reset what is held. */
export const processBodyBudget = new BodyBudget(DEFAULT_BODY_BUDGET_BYTES);
