import { getEventListeners } from 'node:events';
import PQueue from 'p-queue';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Budget } from '../../src/scheduler/budget.js';
import { rng } from '../helpers/rng.js';

interface Call {
  send: number;
  end: number;
}

/**
 * The most calls the server could have counted in one 1 s window: a call may arrive at any moment
 * between its send and the end of its response, so any call whose [send, end] meets (t-1000, t]
 * could be in the window ending at t. The count only rises at a send, so those are the t to try.
 */
function worstServerWindow(calls: Call[]): number {
  let worst = 0;
  for (const c of calls) {
    const t = c.send;
    const n = calls.filter((o) => o.send <= t && o.end > t - 1000).length;
    worst = Math.max(worst, n);
  }
  return worst;
}

function minGap(calls: Call[]): number {
  const sends = calls.map((c) => c.send).sort((a, b) => a - b);
  let gap = Number.POSITIVE_INFINITY;
  for (let i = 1; i < sends.length; i++) gap = Math.min(gap, sends[i]! - sends[i - 1]!);
  return gap;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('Budget', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_700_000_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  async function drive(budget: Budget, n: number, latency: (i: number) => number, runMs: number): Promise<Call[]> {
    const calls: Call[] = [];
    for (let i = 0; i < n; i++) {
      void budget.run(async () => {
        const send = Date.now();
        await sleep(latency(i));
        calls.push({ send, end: Date.now() });
      });
    }
    await vi.advanceTimersByTimeAsync(runMs);
    return calls;
  }

  it("hands the gate's Sequence to the call it admitted, and none when the gate gives none", async () => {
    let n = 0;
    const gate = { acquire: () => Promise.resolve({ release: () => undefined, ...(++n % 2 === 1 ? { sequence: 1000 + n } : {}) }) };
    const budget = new Budget({ rateLimit: 10, hardLimit: 40, gate });
    const seen: (number | undefined)[] = [];
    for (let i = 0; i < 4; i++) void budget.run((_signal, sequence) => Promise.resolve(void seen.push(sequence)));
    await vi.advanceTimersByTimeAsync(2000);
    expect(seen).toEqual([1001, undefined, 1003, undefined]);
  });

  it.each([38, 20, 7.5])('never lets a server second count more than rate_limit=%s calls, with random latency', async (rate) => {
    const r = rng(42);
    const budget = new Budget({ rateLimit: rate, hardLimit: 40 });
    const calls = await drive(budget, 2000, () => Math.floor(r() * 900), 30_000);
    expect(calls.length).toBeGreaterThan(rate * 10);
    expect(worstServerWindow(calls)).toBeLessThanOrEqual(Math.floor(rate));
  });

  it('holds the bound when a slow batch is followed by a fast one', async () => {
    const budget = new Budget({ rateLimit: 10, hardLimit: 40 });
    // The first 10 calls take 950 ms, the next ones 1 ms: a start-time limiter lets the fast
    // batch land in the same server second as the slow one.
    const calls = await drive(budget, 100, (i) => (i < 10 ? 950 : 1), 15_000);
    expect(worstServerWindow(calls)).toBeLessThanOrEqual(10);
  });

  it('is needed: a start-time limiter alone (p-queue intervalCap, strict) breaks the bound', async () => {
    const queue = new PQueue({ intervalCap: 10, interval: 1000, strict: true });
    const calls: Call[] = [];
    for (let i = 0; i < 40; i++) {
      void queue.add(async () => {
        const send = Date.now();
        await sleep(i < 10 ? 950 : 1);
        calls.push({ send, end: Date.now() });
      });
    }
    await vi.advanceTimersByTimeAsync(10_000);
    expect(worstServerWindow(calls)).toBeGreaterThan(10);
  });

  it('spaces calls evenly at 1/rate, never in a batch', async () => {
    const budget = new Budget({ rateLimit: 20, hardLimit: 40 });
    const calls = await drive(budget, 200, () => 5, 10_000);
    expect(minGap(calls)).toBeGreaterThanOrEqual(49);
  });

  it('uses at least 95% of the budget at loopback latency', async () => {
    const budget = new Budget({ rateLimit: 38, hardLimit: 40 });
    const calls = await drive(budget, 5000, () => 2, 20_000);
    const inWindow = calls.filter((c) => c.send >= 1_700_000_000_000 + 2000 && c.send < 1_700_000_000_000 + 20_000).length;
    expect(inWindow / 18).toBeGreaterThanOrEqual(38 * 0.95);
  });

  it.each([
    [10, 250],
    [7.5, 250],
    [20, 150],
    [4, 2000],
  ])('reports as achievable what the slot rule really yields: rate_limit=%s at %s ms latency', async (rate, latencyMs) => {
    const budget = new Budget({ rateLimit: rate, hardLimit: 40 });
    // Before any response the latency counts as 0: rate_limit in whole slots held 1 s each.
    expect(budget.achievableRate).toBe(Math.floor(rate));
    const calls = await drive(budget, 5000, () => latencyMs, 40_000);
    const expected = Math.min(rate, Math.floor(rate) / (1 + latencyMs / 1000));
    expect(budget.achievableRate).toBeCloseTo(expected, 6);
    // The calls the budget really started per second, after the first 5 s, match the figure.
    const t0 = 1_700_000_000_000;
    const observed = calls.filter((c) => c.send >= t0 + 5000 && c.send < t0 + 35_000).length / 30;
    expect(Math.abs(observed - budget.achievableRate) / budget.achievableRate).toBeLessThan(0.05);
  });

  it('averages the latency over recent calls: one slow call barely moves the achievable rate', async () => {
    const budget = new Budget({ rateLimit: 10, hardLimit: 40 });
    await drive(budget, 40, () => 100, 10_000);
    expect(budget.achievableRate).toBeCloseTo(10 / 1.1, 6);
    await drive(budget, 1, () => 5000, 10_000);
    const afterSlow = budget.achievableRate;
    expect(afterSlow).toBeLessThan(10 / 1.1);
    expect(afterSlow).toBeGreaterThan(10 / (1 + 0.1 + 0.05 * 4.9) - 1e-9);
    // A sustained change is followed: 200 calls at 400 ms bring it to ~10 / 1.4.
    await drive(budget, 200, () => 400, 60_000);
    expect(budget.achievableRate).toBeCloseTo(10 / 1.4, 2);
  });

  it('resolves a call as soon as it settles while its slot stays held for 1 s', async () => {
    const budget = new Budget({ rateLimit: 1, hardLimit: 40 });
    let settledAt = 0;
    void budget.run(async () => 'x').then(() => (settledAt = Date.now()));
    await vi.advanceTimersByTimeAsync(10);
    expect(settledAt).toBeGreaterThan(0);
    expect(budget.slotsHeld).toBe(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(budget.slotsHeld).toBe(0);
  });

  it('cuts the rate on throttling once per second and climbs back after a quiet spell', async () => {
    const budget = new Budget({ rateLimit: 40, hardLimit: 40, recoverAfterMs: 5000, climbSeconds: 60 });
    budget.noteThrottled();
    expect(budget.effectiveRate).toBeCloseTo(32);
    budget.noteThrottled(); // same burst
    expect(budget.effectiveRate).toBeCloseTo(32);
    vi.advanceTimersByTime(1000);
    budget.noteThrottled();
    expect(budget.effectiveRate).toBeCloseTo(25.6);
    vi.advanceTimersByTime(4000);
    budget.noteAccepted(); // still within the quiet spell
    expect(budget.effectiveRate).toBeCloseTo(25.6);
    vi.advanceTimersByTime(1000 + 15_000);
    budget.noteAccepted(); // 15 s of climbing at 40/60 per s
    expect(budget.effectiveRate).toBeCloseTo(25.6 + 10, 0);
    vi.advanceTimersByTime(60_000);
    budget.noteAccepted();
    expect(budget.effectiveRate).toBe(40);
  });

  it('paces at the backed-off rate', async () => {
    const budget = new Budget({ rateLimit: 20, hardLimit: 40 });
    budget.noteThrottled(); // 16/s
    const calls = await drive(budget, 100, () => 1, 5000);
    expect(minGap(calls)).toBeGreaterThanOrEqual(Math.floor(1000 / 16));
    expect(worstServerWindow(calls)).toBeLessThanOrEqual(16);
  });

  it('slow mode paces at 1 call/s until lifted', async () => {
    const budget = new Budget({ rateLimit: 20, hardLimit: 40 });
    budget.setSlowMode(true);
    const calls = await drive(budget, 50, () => 1, 5000);
    expect(calls.length).toBeLessThanOrEqual(6);
    budget.setSlowMode(false);
    expect(budget.effectiveRate).toBe(20);
  });

  it('a lower rate_limit applies to the next call, without a burst in the switch-over', async () => {
    const budget = new Budget({ rateLimit: 30, hardLimit: 40 });
    const calls: Call[] = [];
    const start = (): void => {
      void budget.run(async () => {
        const send = Date.now();
        await sleep(3);
        calls.push({ send, end: Date.now() });
      });
    };
    for (let i = 0; i < 1000; i++) start();
    await vi.advanceTimersByTimeAsync(3000);
    budget.setRateLimit(5);
    const cut = Date.now();
    await vi.advanceTimersByTimeAsync(5000);
    const after = calls.filter((c) => c.send >= cut + 1100);
    expect(worstServerWindow(after)).toBeLessThanOrEqual(5);
    expect(worstServerWindow(calls)).toBeLessThanOrEqual(30);
  });

  it('skips cancelled calls without spending a slot, and stop() abandons the rest', async () => {
    const budget = new Budget({ rateLimit: 10, hardLimit: 40 });
    const fn = vi.fn(async () => 1);
    const aborted0 = new AbortController();
    aborted0.abort();
    const cancelled = await Promise.all([budget.run(fn, { signal: aborted0.signal }), vi.advanceTimersByTimeAsync(10)]);
    expect(cancelled[0]).toBeUndefined();
    expect(fn).not.toHaveBeenCalled();

    let aborted = false;
    const hung = budget.run(
      (signal) =>
        new Promise<string>((resolve) => {
          signal.addEventListener('abort', () => {
            aborted = true;
            resolve('aborted');
          });
        }),
    );
    const rest = Array.from({ length: 20 }, () => budget.run(fn));
    await vi.advanceTimersByTimeAsync(100); // the hung call is in flight, most others wait
    const stopped = budget.stop(500);
    await vi.advanceTimersByTimeAsync(600);
    await stopped;
    expect(await hung).toBe('aborted');
    expect(aborted).toBe(true);
    const results = await Promise.all(rest);
    expect(fn.mock.calls.length).toBeLessThan(20);
    // Calls that never started settle as undefined instead of hanging their callers.
    expect(results.filter((r) => r === undefined).length).toBe(20 - fn.mock.calls.length);
  });

  it('gives each call in flight its own signal: no listener pile-up on a shared one at saturation, stop() aborts them all', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => void warnings.push(w);
    process.on('warning', onWarning);
    try {
      const budget = new Budget({ rateLimit: 38, hardLimit: 40 });
      const signals: AbortSignal[] = [];
      // Like the client: one 'abort' listener per call, on the signal it is given; calls hang.
      const calls = Array.from({ length: 60 }, () =>
        budget.run(
          (signal) =>
            new Promise<string>((resolve) => {
              signals.push(signal);
              signal.addEventListener('abort', () => resolve('aborted'), { once: true });
            }),
        ),
      );
      await vi.advanceTimersByTimeAsync(2000);
      expect(signals.length).toBe(38); // every slot in flight at once
      expect(new Set(signals).size).toBe(signals.length);
      for (const s of signals) expect(getEventListeners(s, 'abort').length).toBeLessThanOrEqual(1);
      const stopped = budget.stop(100);
      await vi.advanceTimersByTimeAsync(200);
      await stopped;
      expect(signals.every((s) => s.aborted)).toBe(true);
      const results = await Promise.all(calls);
      expect(results.filter((r) => r === 'aborted').length).toBe(38);
      await new Promise((r) => process.nextTick(r)); // warnings are emitted on the next tick
      expect(warnings.filter((w) => w.name === 'MaxListenersExceededWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
  it('a budget per API: two instances share no slots, spacing or back-off', async () => {
    const list = new Budget({ rateLimit: 1, hardLimit: 50 });
    const users = new Budget({ rateLimit: 1, hardLimit: 10 });
    list.noteThrottled();
    const started: string[] = [];
    const hang =
      (name: string) =>
      (signal: AbortSignal): Promise<void> => {
        started.push(name);
        return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      };
    void list.run(hang('list'));
    void users.run(hang('users'));
    void list.run(hang('list-2'));
    await vi.advanceTimersByTimeAsync(10);
    // Each holds its one slot; the second list call waits for list's slot only.
    expect(started.sort()).toEqual(['list', 'users']);
    expect([list.slotsHeld, users.slotsHeld, list.queued]).toEqual([1, 1, 1]);
    expect(users.effectiveRate).toBe(1);
    expect(list.effectiveRate).toBeLessThan(1);
    await Promise.all([list.stop(0), users.stop(0), vi.advanceTimersByTimeAsync(10)]);
  });
});
