/**
 * The budget math: what refresh each stream can get from `rate` calls/s. Shorter intervals are
 * served first (they are the key streams), so classes are filled in ascending interval order; the
 * first class that does not fit shares what is left, and longer classes get nothing beyond that
 * share. Streams of a class that does not fit are refreshed every n / leftover seconds, round robin.
 */
export interface BudgetPlan {
  streams: number;
  /** Calls per second the configured intervals ask for: Σ 1 / interval. */
  demandPerSec: number;
  rate: number;
  overloaded: boolean;
  /** Per configured interval (ms): the refresh the budget achieves, in seconds. */
  classes: { intervalMs: number; streams: number; achievedSec: number }[];
  /** The slowest refresh any stream gets (s); 0 with no streams. */
  worstRefreshSec: number;
}

export function planBudget(intervalsMs: readonly number[], rate: number): BudgetPlan {
  const counts = new Map<number, number>();
  for (const i of intervalsMs) counts.set(i, (counts.get(i) ?? 0) + 1);
  const sorted = [...counts.entries()].sort((a, b) => a[0] - b[0]);
  let left = rate;
  let demand = 0;
  const classes: BudgetPlan['classes'] = [];
  for (const [intervalMs, n] of sorted) {
    const want = n / (intervalMs / 1000);
    demand += want;
    let achievedSec: number;
    if (want <= left) {
      achievedSec = intervalMs / 1000;
      left -= want;
    } else {
      // Left-over share, but never better than the whole budget could give this class alone.
      achievedSec = left > 0 ? Math.max(intervalMs / 1000, n / left) : Number.POSITIVE_INFINITY;
      left = 0;
    }
    classes.push({ intervalMs, streams: n, achievedSec });
  }
  return {
    streams: intervalsMs.length,
    demandPerSec: demand,
    rate,
    overloaded: demand > rate,
    classes,
    worstRefreshSec: classes.reduce((w, c) => Math.max(w, c.achievedSec), 0),
  };
}
