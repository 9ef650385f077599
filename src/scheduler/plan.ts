/** What planBudget() finds for a watched set and a rate. */
export interface BudgetPlan {
  streams: number;
  /** Calls per second the configured intervals ask for: Σ 1 / interval. */
  demandPerSec: number;
  rate: number;
  overloaded: boolean;
  /** Classes with an interval up to this (ms) keep their interval and go first; -1 when none fit. */
  protectedUpToMs: number;
  /** Per configured interval (ms): the refresh the budget achieves, in seconds. */
  classes: { intervalMs: number; streams: number; achievedSec: number }[];
  /** The slowest refresh any stream gets (s); 0 with no streams. */
  worstRefreshSec: number;
}

/**
 * The budget math: what refresh each stream gets from `rate` calls/s.
 *
 * Interval classes are taken shortest first while their demand fits together: those are
 * *protected* (the key streams) and keep their interval, served first. Every other stream shares
 * what is left, earliest deadline first, so they all run late by the same lateness L: a class of
 * n streams at interval I is refreshed every I + L, where
 * Σ n / (I + L) = the rate left over. Nothing starves; N streams of one interval sharing R calls/s
 * are each refreshed every N / R seconds.
 */
export function planBudget(intervalsMs: readonly number[], rate: number): BudgetPlan {
  const classes = new IntervalClasses();
  for (const i of intervalsMs) classes.add(i);
  return planClasses(classes.counts, rate);
}

/**
 * planBudget() for a watched set given as interval classes (interval in ms → streams): the work
 * grows with the number of distinct intervals, a handful, not with the streams.
 */
export function planClasses(counts: ReadonlyMap<number, number>, rate: number): BudgetPlan {
  const sorted = [...counts.entries()].filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]);
  const demandOf = (cls: [number, number][], lateSec: number): number => cls.reduce((d, [i, n]) => d + n / (i / 1000 + lateSec), 0);
  const demand = demandOf(sorted, 0);

  let left = rate;
  let k = 0;
  let protectedUpToMs = -1;
  for (; k < sorted.length; k++) {
    const want = demandOf([sorted[k]!], 0);
    if (want > left) break;
    left -= want;
    protectedUpToMs = sorted[k]![0];
  }
  const rest = sorted.slice(k);
  const lateSec = rest.length === 0 ? 0 : lateness(rest, left, demandOf);
  const classes = sorted.map(([intervalMs, n], idx) => ({
    intervalMs,
    streams: n,
    achievedSec: idx < k ? intervalMs / 1000 : intervalMs / 1000 + lateSec,
  }));
  return {
    streams: sorted.reduce((t, [, n]) => t + n, 0),
    demandPerSec: demand,
    rate,
    overloaded: demand > rate,
    protectedUpToMs,
    classes,
    worstRefreshSec: classes.reduce((w, c) => Math.max(w, c.achievedSec), 0),
  };
}

/** The common lateness L ≥ 0 with Σ n / (I + L) = left (bisection: the sum falls as L grows). */
function lateness(cls: [number, number][], left: number, demandOf: (c: [number, number][], l: number) => number): number {
  if (left <= 0) return Number.POSITIVE_INFINITY;
  if (demandOf(cls, 0) <= left) return 0;
  let lo = 0;
  let hi = 1;
  while (demandOf(cls, hi) > left) hi *= 2;
  for (let i = 0; i < 60; i++) {
    const mid = (lo + hi) / 2;
    if (demandOf(cls, mid) > left) lo = mid;
    else hi = mid;
  }
  return hi;
}

/** The start-up line about the plan: probing started, or by how much demand exceeds the budget. */
export function planSummary(plan: BudgetPlan): { level: 'info' | 'warn'; fields: Record<string, number>; message: string } {
  const slowest = round(plan.worstRefreshSec);
  const fields = { streams: plan.streams, demand_per_sec: round(plan.demandPerSec), rate_limit: plan.rate, slowest_refresh_sec: slowest };
  if (!plan.overloaded) return { level: 'info', fields, message: 'probing started' };
  const message = `demand exceeds the budget: ${plan.streams} streams at ${plan.rate}/s are refreshed every ${slowest} s at best (shorter intervals first)`;
  return { level: 'warn', fields, message };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}

/**
 * The streams per interval class, kept as streams come and go (O(1) each), so a discovered stream
 * never costs a pass over all the others to re-plan the budget.
 */
export class IntervalClasses {
  readonly #counts = new Map<number, number>();

  add(intervalMs: number): void {
    this.#counts.set(intervalMs, (this.#counts.get(intervalMs) ?? 0) + 1);
  }

  remove(intervalMs: number): void {
    const n = (this.#counts.get(intervalMs) ?? 0) - 1;
    if (n > 0) this.#counts.set(intervalMs, n);
    else this.#counts.delete(intervalMs);
  }

  clear(): void {
    this.#counts.clear();
  }

  get counts(): ReadonlyMap<number, number> {
    return this.#counts;
  }
}

/** The plan of the current watched set, redone only when the set changed (invalidate()) or the rate did: self-metrics ask at every scrape. */
export class PlanCache {
  readonly #classes: () => ReadonlyMap<number, number>;
  #cached: BudgetPlan | undefined;

  /** `classes`: the watched set as interval classes (IntervalClasses.counts). */
  constructor(classes: () => ReadonlyMap<number, number>) {
    this.#classes = classes;
  }

  invalidate(): void {
    this.#cached = undefined;
  }

  get(rate: number): BudgetPlan {
    if (this.#cached?.rate !== rate) this.#cached = planClasses(this.#classes(), rate);
    return this.#cached;
  }
}
