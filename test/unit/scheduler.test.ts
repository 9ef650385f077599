import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ApiCaller } from '../../src/api/service.js';
import { Budget } from '../../src/scheduler/budget.js';
import { planBudget } from '../../src/scheduler/plan.js';
import { Scheduler, type ScheduledStream } from '../../src/scheduler/scheduler.js';
import type { ProbeOutcome, ProbeResult } from '../../src/zego/outcome.js';

const T0 = 1_700_000_000_000;

interface Harness {
  scheduler: Scheduler;
  budget: Budget;
  probes: Map<string, number[]>;
  maxInFlightPerStream: () => number;
  setOutcome: (fn: (id: string) => ProbeOutcome) => void;
}

function harness(rate: number, latencyMs = 5): Harness {
  const budget = new Budget({ rateLimit: rate, hardLimit: 40 });
  const probes = new Map<string, number[]>();
  const inFlight = new Map<string, number>();
  let maxInFlight = 0;
  let outcome: (id: string) => ProbeOutcome = () => ({ kind: 'active', createTimeSec: 1 });
  const send = async (id: string): Promise<ProbeResult> => {
    const n = (inFlight.get(id) ?? 0) + 1;
    inFlight.set(id, n);
    maxInFlight = Math.max(maxInFlight, n);
    const sentAtMs = Date.now();
    (probes.get(id) ?? probes.set(id, []).get(id)!).push(sentAtMs);
    await new Promise((r) => setTimeout(r, latencyMs));
    inFlight.set(id, inFlight.get(id)! - 1);
    return { outcome: outcome(id), code: '0', sentAtMs, durationMs: latencyMs };
  };
  const scheduler = new Scheduler({ api: new ApiCaller({ action: 'DescribeRTCStreamState', budget, send }), onResult: () => undefined });
  return { scheduler, budget, probes, maxInFlightPerStream: () => maxInFlight, setOutcome: (fn) => (outcome = fn) };
}

function streams(prefix: string, n: number, intervalMs: number): ScheduledStream[] {
  return Array.from({ length: n }, (_, i) => ({ id: `${prefix}-${i}`, intervalMs }));
}

/** Longest time between consecutive probes of a stream from `from` on (ms). */
function maxGap(times: number[], from: number, until: number): number {
  const ts = [from, ...times.filter((t) => t >= from && t <= until), until];
  let gap = 0;
  for (let i = 1; i < ts.length; i++) gap = Math.max(gap, ts[i]! - ts[i - 1]!);
  return gap;
}

describe('Scheduler', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('refreshes every stream once per interval when the budget allows', async () => {
    const h = harness(10);
    h.scheduler.setStreams(streams('s', 5, 1000));
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(20_000);
    for (const [, times] of h.probes) {
      expect(times.length).toBeGreaterThanOrEqual(19);
      expect(times.length).toBeLessThanOrEqual(21);
      expect(maxGap(times, T0 + 2000, T0 + 20_000)).toBeLessThanOrEqual(1100);
    }
    expect(h.probes.size).toBe(5);
  });

  it('under overload, round robin keeps every stream within 1.2 × N/R', async () => {
    const h = harness(10);
    h.scheduler.setStreams(streams('s', 100, 1000));
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(60_000);
    const ideal = (100 / 10) * 1000;
    for (const [, times] of h.probes) expect(maxGap(times, T0 + 15_000, T0 + 60_000)).toBeLessThanOrEqual(1.2 * ideal);
    expect(h.probes.size).toBe(100);
    expect(h.maxInFlightPerStream()).toBe(1);
  });

  it('serves shorter intervals (key streams) first; the rest share what is left', async () => {
    const h = harness(20);
    h.scheduler.setStreams([...streams('key', 10, 1000), ...streams('bulk', 100, 5000)]);
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(60_000);
    for (let i = 0; i < 10; i++) expect(maxGap(h.probes.get(`key-${i}`)!, T0 + 10_000, T0 + 60_000)).toBeLessThanOrEqual(1200);
    // 20/s minus 10/s for the keys leaves 10/s for 100 bulk streams: every ~10 s each.
    const plan = planBudget([...Array(10).fill(1000), ...Array(100).fill(5000)], 20);
    expect(plan.classes[1]!.achievedSec).toBe(10);
    for (let i = 0; i < 100; i++) expect(maxGap(h.probes.get(`bulk-${i}`)!, T0 + 15_000, T0 + 60_000)).toBeLessThanOrEqual(1.2 * 10_000);
  });

  it('never has a stream queued or in flight twice, even with slow calls', async () => {
    const h = harness(10, 3000);
    h.scheduler.setStreams(streams('s', 3, 1000));
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(h.maxInFlightPerStream()).toBe(1);
  });

  it('drops removed streams at once and probes added ones promptly', async () => {
    const h = harness(10);
    h.scheduler.setStreams(streams('s', 50, 1000));
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(3000);
    h.scheduler.setStreams([
      { id: 's-0', intervalMs: 1000 },
      { id: 'new', intervalMs: 1000 },
    ]);
    const cut = Date.now();
    await vi.advanceTimersByTimeAsync(5000);
    for (let i = 1; i < 50; i++) {
      const after = (h.probes.get(`s-${i}`) ?? []).filter((t) => t > cut);
      expect(after).toEqual([]);
    }
    expect(h.probes.get('new')![0]! - cut).toBeLessThan(1000);
    expect(h.scheduler.size).toBe(2);
  });

  it('never starves a longer interval class behind a shorter one that does not fit', async () => {
    const h = harness(20);
    h.scheduler.setStreams([...streams('key', 10, 1000), ...streams('mid', 100, 5000), ...streams('slow', 100, 15_000)]);
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(120_000);
    for (let i = 0; i < 10; i++) expect(maxGap(h.probes.get(`key-${i}`)!, T0 + 10_000, T0 + 120_000)).toBeLessThanOrEqual(1200);
    // Planned: a common lateness L = √125 s, so mid every ~16.2 s and slow every ~26.2 s.
    const L = Math.sqrt(125) * 1000;
    for (let i = 0; i < 100; i++) {
      expect(maxGap(h.probes.get(`mid-${i}`)!, T0 + 40_000, T0 + 120_000)).toBeLessThanOrEqual(1.2 * (5000 + L));
      expect(maxGap(h.probes.get(`slow-${i}`)!, T0 + 40_000, T0 + 120_000)).toBeLessThanOrEqual(1.2 * (15_000 + L));
    }
  });

  it('backs off a stream whose id the API rejects, and throttling cuts the budget', async () => {
    const h = harness(10);
    h.setOutcome((id) =>
      id === 'bad' ? { kind: 'failed', reason: 'stream_config', message: 'Code 30009' } : { kind: 'failed', reason: 'throttled', message: 'Code 30002' },
    );
    h.scheduler.setStreams([
      { id: 'bad', intervalMs: 1000 },
      { id: 'ok', intervalMs: 1000 },
    ]);
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(30_000);
    expect(h.probes.get('bad')!.length).toBe(1);
    expect(h.budget.effectiveRate).toBeLessThan(10);
  });

  it('auth failures slow probing to a trickle until a success', async () => {
    const h = harness(20);
    h.setOutcome(() => ({ kind: 'failed', reason: 'auth', message: 'Code 40005' }));
    h.scheduler.setStreams(streams('s', 100, 1000));
    h.scheduler.start();
    await vi.advanceTimersByTimeAsync(10_000);
    const total = [...h.probes.values()].reduce((n, t) => n + t.length, 0);
    expect(total).toBeLessThanOrEqual(15);
    h.setOutcome(() => ({ kind: 'active', createTimeSec: 1 }));
    await vi.advanceTimersByTimeAsync(5000);
    expect(h.budget.slowMode).toBe(false);
    expect(h.budget.effectiveRate).toBe(20);
  });
});

describe('planBudget', () => {
  it('protects the shortest classes that fit; the rest share what is left without starving', () => {
    // Keys take 10/s of 20; 100 × 5 s and 100 × 15 s share the other 10/s with a common lateness L:
    // 100/(5+L) + 100/(15+L) = 10 → 10 L² = 1250 → L = √125 ≈ 11.18.
    const p = planBudget([...Array(10).fill(1000), ...Array(100).fill(5000), ...Array(100).fill(15_000)], 20);
    expect(p.protectedUpToMs).toBe(1000);
    const L = Math.sqrt(125);
    expect(p.classes.map((c) => c.achievedSec)).toEqual([1, expect.closeTo(5 + L, 5), expect.closeTo(15 + L, 5)]);
    expect(p.worstRefreshSec).toBeCloseTo(15 + L, 5);
  });

  it('reports demand, overload and the achievable refresh', () => {
    const p = planBudget(Array(400).fill(1000), 38);
    expect(p.demandPerSec).toBe(400);
    expect(p.overloaded).toBe(true);
    expect(p.worstRefreshSec).toBeCloseTo(400 / 38);
    const q = planBudget(Array(10).fill(15_000), 30);
    expect(q.overloaded).toBe(false);
    expect(q.worstRefreshSec).toBe(15);
  });
});
