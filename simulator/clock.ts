import { performance } from 'node:perf_hooks';

/**
 * Two clocks, because they answer different questions: the rate window and the Sequence window
 * must not jump when the wall clock is stepped (NTP, tests), while Timestamp validation and the
 * `Date` header are about wall time. Both are injectable so tests can drive time explicitly.
 */
export interface SimClock {
  /** Monotonic milliseconds (arbitrary origin). */
  monoMs(): number;
  /** Wall-clock epoch milliseconds, before the simulator's `clockOffsetMs` is applied. */
  wallMs(): number;
}

export const systemClock: SimClock = {
  monoMs: () => performance.now(),
  wallMs: () => Date.now(),
};
