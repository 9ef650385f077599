import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Budget, HOLD_MS, type Gate } from '../../src/scheduler/budget.js';

/**
 * The budget's rules one at a time (scheduler/budget.ts): the AIMD arithmetic, whole slots, the
 * hard spacing, the latency average, and what happens to a call that is cancelled, refused or fails.
 * Fake timers throughout: the budget's clock and its hold timers advance together.
 */

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('Budget rules', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  describe('back-off and recovery (AIMD)', () => {
    it('each throttling signal a second or more apart keeps 80% of the rate, never going below 0.5/s', () => {
      const budget = new Budget({ rateLimit: 10, hardLimit: 40 });
      const rates: number[] = [];
      for (let i = 0; i < 20; i++) {
        budget.noteThrottled();
        rates.push(budget.effectiveRate);
        vi.advanceTimersByTime(HOLD_MS);
      }
      expect(rates[0]).toBeCloseTo(8);
      expect(rates[1]).toBeCloseTo(6.4);
      expect(rates.at(-1)).toBe(0.5);
      expect(Math.min(...rates)).toBe(0.5);
    });

    it('a second signal 999 ms after the first is the same burst; at 1000 ms it is a new one', () => {
      const budget = new Budget({ rateLimit: 10, hardLimit: 40 });
      budget.noteThrottled();
      vi.advanceTimersByTime(999);
      budget.noteThrottled();
      expect(budget.effectiveRate).toBeCloseTo(8);
      vi.advanceTimersByTime(1);
      budget.noteThrottled();
      expect(budget.effectiveRate).toBeCloseTo(6.4);
    });

    it('climbs only after the quiet spell, from its end, at rate_limit per climb period', () => {
      const budget = new Budget({ rateLimit: 60, hardLimit: 100, recoverAfterMs: 5000, climbSeconds: 60 });
      budget.noteThrottled(); // 48
      vi.advanceTimersByTime(4999);
      budget.noteAccepted();
      expect(budget.effectiveRate).toBeCloseTo(48);
      vi.advanceTimersByTime(1);
      budget.noteAccepted(); // the spell just ended: nothing climbed yet
      expect(budget.effectiveRate).toBeCloseTo(48);
      vi.advanceTimersByTime(2000);
      budget.noteAccepted(); // 2 s at 1/s
      expect(budget.effectiveRate).toBeCloseTo(50);
      vi.advanceTimersByTime(3000);
      budget.noteAccepted(); // counted from the last climb, not from the spell's end again
      expect(budget.effectiveRate).toBeCloseTo(53);
    });

    it('a throttling answer inside a burst restarts the quiet spell without cutting again', () => {
      const budget = new Budget({ rateLimit: 60, hardLimit: 100, recoverAfterMs: 5000, climbSeconds: 60 });
      budget.noteThrottled(); // 48, cut at 0
      vi.advanceTimersByTime(500);
      budget.noteThrottled(); // same burst: no cut, but the climb clock moves to 500
      expect(budget.effectiveRate).toBeCloseTo(48);
      vi.advanceTimersByTime(6500); // t = 7000
      budget.noteAccepted(); // climbs from max(500, 0 + 5000) = 5000: 2 s
      expect(budget.effectiveRate).toBeCloseTo(50);
    });

    it('the first accepted calls after a long quiet climb from the quiet spell, not from the cut', () => {
      const budget = new Budget({ rateLimit: 60, hardLimit: 100, recoverAfterMs: 5000, climbSeconds: 60 });
      budget.noteThrottled(); // 48 at t = 0
      vi.advanceTimersByTime(8000);
      budget.noteAccepted(); // 3 s of climbing, not 8
      expect(budget.effectiveRate).toBeCloseTo(51);
    });

    it('never climbs above rate_limit; at the limit an accepted call changes nothing', () => {
      const budget = new Budget({ rateLimit: 10, hardLimit: 40, recoverAfterMs: 0, climbSeconds: 1 });
      budget.noteAccepted();
      expect(budget.effectiveRate).toBe(10);
      budget.noteThrottled();
      vi.advanceTimersByTime(10_000);
      budget.noteAccepted();
      expect(budget.effectiveRate).toBe(10);
    });

    it('defaults: climbing starts 5 s after the last throttle and takes 60 s from 0 to the limit', () => {
      const budget = new Budget({ rateLimit: 60, hardLimit: 100 });
      budget.noteThrottled(); // 48
      vi.advanceTimersByTime(4999);
      budget.noteAccepted();
      expect(budget.effectiveRate).toBeCloseTo(48);
      vi.advanceTimersByTime(6001); // 6 s past the spell
      budget.noteAccepted();
      expect(budget.effectiveRate).toBeCloseTo(54);
    });

    it('cuts from the current limit: after a lower rate_limit a throttle takes 80% of that', () => {
      const budget = new Budget({ rateLimit: 40, hardLimit: 40 });
      budget.setRateLimit(10);
      budget.noteThrottled();
      expect(budget.effectiveRate).toBeCloseTo(8);
    });
  });

  describe('rate_limit and slow mode', () => {
    it('a new rate_limit keeps the backed-off share, within [0.5, rate_limit]', () => {
      const budget = new Budget({ rateLimit: 40, hardLimit: 40 });
      expect(budget.rateLimit).toBe(40);
      budget.noteThrottled(); // 32 = 80%
      budget.setRateLimit(20);
      expect(budget.rateLimit).toBe(20);
      expect(budget.effectiveRate).toBeCloseTo(16);
      budget.setRateLimit(0.1);
      expect(budget.effectiveRate).toBe(0.5);
      const full = new Budget({ rateLimit: 10, hardLimit: 40 });
      full.setRateLimit(30);
      expect(full.effectiveRate).toBe(30);
    });

    it('slow mode is 1/s, or the backed-off rate when that is lower; toggling it twice is harmless', () => {
      const budget = new Budget({ rateLimit: 10, hardLimit: 40 });
      expect(budget.slowMode).toBe(false);
      budget.setSlowMode(true);
      budget.setSlowMode(true);
      expect(budget.slowMode).toBe(true);
      expect(budget.effectiveRate).toBe(1);
      for (let i = 0; i < 20; i++) {
        budget.noteThrottled();
        vi.advanceTimersByTime(HOLD_MS);
      }
      expect(budget.effectiveRate).toBe(0.5);
      budget.setSlowMode(false);
      expect(budget.slowMode).toBe(false);
      expect(budget.effectiveRate).toBe(0.5);
    });
  });

  describe('slots, spacing and the achievable rate', () => {
    /** Starts n calls that each hang until released; returns how many started. */
    function hangAll(budget: Budget, n: number): { started: () => number; release: () => void } {
      let started = 0;
      const releases: (() => void)[] = [];
      for (let i = 0; i < n; i++)
        void budget.run(
          () =>
            new Promise<void>((resolve) => {
              started++;
              releases.push(resolve);
            }),
        );
      return { started: () => started, release: () => releases.forEach((r) => r()) };
    }

    it('holds whole slots only: 7.5/s lets 7 calls be in flight, 0.5/s one', async () => {
      const budget = new Budget({ rateLimit: 7.5, hardLimit: 1000 });
      const h = hangAll(budget, 20);
      await vi.advanceTimersByTimeAsync(5000);
      expect(h.started()).toBe(7);
      expect(budget.slotsHeld).toBe(7);
      expect(budget.queued).toBe(13);
      h.release();
      await budget.stop(0);

      const slow = new Budget({ rateLimit: 0.5, hardLimit: 1000 });
      const s = hangAll(slow, 3);
      await vi.advanceTimersByTimeAsync(10_000);
      expect(s.started()).toBe(1);
      s.release();
      await slow.stop(0);
    });

    it('a throttle cut lowers the slots too, and a climb back raises them', async () => {
      const budget = new Budget({ rateLimit: 5, hardLimit: 1000, recoverAfterMs: 0, climbSeconds: 1 });
      budget.noteThrottled(); // 4/s: 4 slots
      const h = hangAll(budget, 10);
      await vi.advanceTimersByTimeAsync(3000);
      expect(h.started()).toBe(4);
      vi.advanceTimersByTime(1000);
      budget.noteAccepted(); // back to 5
      await vi.advanceTimersByTimeAsync(1000);
      expect(h.started()).toBe(5);
      h.release();
      await budget.stop(0);
    });

    it('slow mode lowers the slots to one, and lifting it gives them back', async () => {
      const budget = new Budget({ rateLimit: 5, hardLimit: 1000 });
      budget.setSlowMode(true);
      const h = hangAll(budget, 10);
      await vi.advanceTimersByTimeAsync(5000);
      expect(h.started()).toBe(1);
      budget.setSlowMode(false);
      await vi.advanceTimersByTimeAsync(2000);
      expect(h.started()).toBe(5);
      h.release();
      await budget.stop(0);
    });

    it('a raised rate_limit adds slots at once', async () => {
      const budget = new Budget({ rateLimit: 2, hardLimit: 1000 });
      const h = hangAll(budget, 10);
      await vi.advanceTimersByTimeAsync(3000);
      expect(h.started()).toBe(2);
      budget.setRateLimit(6);
      await vi.advanceTimersByTimeAsync(3000);
      expect(h.started()).toBe(6);
      h.release();
      await budget.stop(0);
    });

    it('the hard limit spaces sends at least 1/hardLimit apart whatever rate_limit says', async () => {
      const budget = new Budget({ rateLimit: 100, hardLimit: 8 });
      const sends: number[] = [];
      for (let i = 0; i < 30; i++)
        void budget.run(async () => {
          sends.push(Date.now());
        });
      await vi.advanceTimersByTimeAsync(2000);
      const gaps = sends.slice(1).map((t, i) => t - sends[i]!);
      expect(Math.min(...gaps)).toBeGreaterThanOrEqual(125);
      expect(sends.length).toBeLessThanOrEqual(17);
      expect(sends.length).toBeGreaterThanOrEqual(15);
      await budget.stop(0);
    });

    it('paces calls 1/rate apart: the rate, not the hard limit, spaces them when it is lower', async () => {
      const budget = new Budget({ rateLimit: 4, hardLimit: 1000 });
      const sends: number[] = [];
      for (let i = 0; i < 10; i++)
        void budget.run(async () => {
          sends.push(Date.now());
        });
      await vi.advanceTimersByTimeAsync(1100);
      expect(sends.map((t) => t - sends[0]!)).toEqual([0, 250, 500, 750, 1000]);
      await budget.stop(0);
    });

    it('achievable rate: the limit before any answer, whole slots over (1 s + the averaged latency) after', async () => {
      const budget = new Budget({ rateLimit: 7.5, hardLimit: 1000 });
      expect(budget.achievableRate).toBe(7);
      const ten = new Budget({ rateLimit: 10, hardLimit: 1000 });
      expect(ten.achievableRate).toBe(10);
      const p = ten.run(() => sleep(1000));
      await vi.advanceTimersByTimeAsync(1000);
      await p;
      expect(ten.achievableRate).toBeCloseTo(5); // 10 slots, each held 2 s
      const q = ten.run(() => sleep(0));
      await vi.advanceTimersByTimeAsync(200);
      await q;
      // One fast call moves the average 5% of the way: 1000 → 950 ms.
      expect(ten.achievableRate).toBeCloseTo(10 / 1.95);
      await budget.stop(0);
      await ten.stop(0);
    });
  });

  describe('a call', () => {
    it('resolves with its result; a call that throws rejects with its error and its slot is still held 1 s', async () => {
      const budget = new Budget({ rateLimit: 1, hardLimit: 40 });
      expect(await Promise.all([budget.run(async () => 'ok'), vi.advanceTimersByTimeAsync(0)]).then(([r]) => r)).toBe('ok');
      await vi.advanceTimersByTimeAsync(2000);
      const boom = new Error('boom');
      const failing = budget.run(() => Promise.reject(boom));
      const caught = failing.catch((e: unknown) => e);
      await vi.advanceTimersByTimeAsync(10);
      expect(await caught).toBe(boom);
      expect(budget.slotsHeld).toBe(1);
      await vi.advanceTimersByTimeAsync(HOLD_MS - 20);
      expect(budget.slotsHeld).toBe(1);
      await vi.advanceTimersByTimeAsync(20);
      expect(budget.slotsHeld).toBe(0);
    });

    it('tells onStart listeners each time a call starts', async () => {
      const budget = new Budget({ rateLimit: 10, hardLimit: 40 });
      let starts = 0;
      budget.onStart(() => starts++);
      for (let i = 0; i < 3; i++) void budget.run(async () => undefined);
      await vi.advanceTimersByTimeAsync(1000);
      expect(starts).toBe(3);
      await budget.stop(0);
    });

    it('a call cancelled while it waits for its turn is never made and resolves undefined', async () => {
      const budget = new Budget({ rateLimit: 1, hardLimit: 40 });
      const fn = vi.fn(async () => 'made');
      const first = budget.run(fn);
      const ac = new AbortController();
      const second = budget.run(fn, { signal: ac.signal });
      await vi.advanceTimersByTimeAsync(10);
      ac.abort();
      await vi.advanceTimersByTimeAsync(3000);
      expect(await first).toBe('made');
      expect(await second).toBeUndefined();
      expect(fn).toHaveBeenCalledTimes(1);
    });

    it('a call cancelled while it waits for its pacing turn is not made', async () => {
      const budget = new Budget({ rateLimit: 2, hardLimit: 1000 });
      const fn = vi.fn(async () => 'made');
      void budget.run(fn);
      const ac = new AbortController();
      const paced = budget.run(fn, { signal: ac.signal }); // has a slot, waits 500 ms for its spacing
      await vi.advanceTimersByTimeAsync(100);
      ac.abort();
      await vi.advanceTimersByTimeAsync(1000);
      expect(await paced).toBeUndefined();
      expect(fn).toHaveBeenCalledTimes(1);
    });

    it('after stop() a call is never made', async () => {
      const budget = new Budget({ rateLimit: 5, hardLimit: 40 });
      await budget.stop(0);
      const fn = vi.fn(async () => 'made');
      const r = budget.run(fn);
      await vi.advanceTimersByTimeAsync(1000);
      expect(await r).toBeUndefined();
      expect(fn).not.toHaveBeenCalled();
    });

    it('stop() during a pacing wait settles the call without making it', async () => {
      const budget = new Budget({ rateLimit: 2, hardLimit: 1000 });
      const fn = vi.fn(async () => 'made');
      void budget.run(fn);
      const paced = budget.run(fn);
      await vi.advanceTimersByTimeAsync(100);
      await budget.stop(0);
      await vi.advanceTimersByTimeAsync(1000);
      expect(await paced).toBeUndefined();
      expect(fn).toHaveBeenCalledTimes(1);
    });
  });

  describe('with a gate (fleet)', () => {
    it('asks the gate before each send and releases its ticket once the response ended, also on failure', async () => {
      const events: string[] = [];
      let n = 0;
      const gate: Gate = {
        acquire: async () => {
          const id = ++n;
          events.push(`acquire ${id}`);
          return { release: () => events.push(`release ${id}`) };
        },
      };
      const budget = new Budget({ rateLimit: 10, hardLimit: 40, gate });
      await Promise.all([
        budget.run(async () => {
          events.push('call 1');
        }),
        vi.advanceTimersByTimeAsync(0),
      ]);
      const failing = budget.run(async () => {
        events.push('call 2');
        throw new Error('x');
      });
      const caught = failing.catch(() => 'rejected');
      await vi.advanceTimersByTimeAsync(500);
      expect(await caught).toBe('rejected');
      expect(events).toEqual(['acquire 1', 'call 1', 'release 1', 'acquire 2', 'call 2', 'release 2']);
      await budget.stop(0);
    });

    it('a gate that refuses (null) means no call, and the caller gets undefined', async () => {
      const gate: Gate = { acquire: async () => null };
      const budget = new Budget({ rateLimit: 10, hardLimit: 40, gate });
      const fn = vi.fn(async () => 'made');
      const r = budget.run(fn);
      await vi.advanceTimersByTimeAsync(100);
      expect(await r).toBeUndefined();
      expect(fn).not.toHaveBeenCalled();
      await budget.stop(0);
    });

    it('stop() aborts a wait for the gate; a ticket that comes anyway is released unused', async () => {
      let signal: AbortSignal | undefined;
      let grant: (() => void) | undefined;
      let released = 0;
      const gate: Gate = {
        acquire: (s) => {
          signal = s;
          return new Promise((resolve) => {
            grant = () => resolve({ release: () => released++ });
          });
        },
      };
      const budget = new Budget({ rateLimit: 10, hardLimit: 40, gate });
      const fn = vi.fn(async () => 'made');
      const r = budget.run(fn);
      await vi.advanceTimersByTimeAsync(10);
      expect(signal?.aborted).toBe(false);
      const stopped = budget.stop(0);
      expect(signal?.aborted).toBe(true);
      grant!();
      await vi.advanceTimersByTimeAsync(10);
      await stopped;
      expect(await r).toBeUndefined();
      expect(fn).not.toHaveBeenCalled();
      expect(released).toBe(1);
    });
  });

  describe('stop()', () => {
    it('lets a call in flight finish within the grace period, unaborted', async () => {
      const budget = new Budget({ rateLimit: 5, hardLimit: 40 });
      let signal: AbortSignal | undefined;
      const call = budget.run(async (s) => {
        signal = s;
        await sleep(300);
        return 'finished';
      });
      await vi.advanceTimersByTimeAsync(10);
      const stopped = budget.stop(1000);
      await vi.advanceTimersByTimeAsync(400);
      expect(await call).toBe('finished');
      await stopped;
      expect(signal?.aborted).toBe(false);
    });

    it('waits 2 s by default before aborting calls in flight, with a reason', async () => {
      const budget = new Budget({ rateLimit: 5, hardLimit: 40 });
      let reason: unknown;
      void budget.run(
        (s) =>
          new Promise<void>((resolve) =>
            s.addEventListener('abort', () => {
              reason = s.reason;
              resolve();
            }),
          ),
      );
      await vi.advanceTimersByTimeAsync(10);
      let done = false;
      const stopped = budget.stop().then(() => (done = true));
      await vi.advanceTimersByTimeAsync(1990);
      expect(reason).toBeUndefined();
      expect(done).toBe(false);
      await vi.advanceTimersByTimeAsync(20);
      await stopped;
      expect(reason).toEqual(new Error('exporter stopping'));
    });

    it('releases held slots at once: stop() does not wait out their hold second', async () => {
      const budget = new Budget({ rateLimit: 5, hardLimit: 40 });
      await Promise.all([budget.run(async () => undefined), vi.advanceTimersByTimeAsync(0)]);
      expect(budget.slotsHeld).toBe(1);
      let done = false;
      const stopped = budget.stop(5000).then(() => (done = true));
      await vi.advanceTimersByTimeAsync(0);
      expect(done).toBe(true);
      await stopped;
      expect(budget.slotsHeld).toBe(0);
    });
  });
});
