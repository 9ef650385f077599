import type { WatchedStream } from '../state/store.js';
import type { ProbeResult } from '../zego/outcome.js';
import { Budget, type Gate } from './budget.js';
import { PlanCache, planSummary, type BudgetPlan } from './plan.js';
import { Scheduler, type SchedulerOptions, type SharedWork } from './scheduler.js';

export interface StreamProbingOptions {
  /** Calls/s to pace at, already capped by the parts (fleet mode without Redis: the fallback). */
  rateLimit: number;
  /** The API's own ceiling (40, or 10 in the test environment). */
  hardLimit: number;
  now: () => number;
  probe: SchedulerOptions['probe'];
  onResult: (id: string, result: ProbeResult, shared: boolean) => void;
  gate?: Gate | undefined;
  share?: SharedWork | undefined;
}

/** DescribeRTCStreamState's budget as the self-metrics show it (the unlabelled, api="DescribeRTCStreamState" series). */
export interface ProbingStatus {
  rateLimit: number;
  queueLength: number;
  achievableRefreshSec: number;
  achievableProbesPerSec: number;
  demandPerSec: number;
  streamsWatched: number;
  slotsHeld: number;
}

/**
 * DescribeRTCStreamState's pipeline as one object: the budget (slot rule, pacing, back-off), the
 * scheduler that keeps every watched stream refreshed through it, and the budget math over the
 * watched set, redone only when the set or the rate changes.
 */
export class StreamProbing {
  readonly #budget: Budget;
  readonly #scheduler: Scheduler;
  readonly #plan: PlanCache;

  constructor(opts: StreamProbingOptions) {
    this.#budget = new Budget({ rateLimit: opts.rateLimit, hardLimit: opts.hardLimit, now: opts.now, ...(opts.gate ? { gate: opts.gate } : {}) });
    this.#scheduler = new Scheduler({
      budget: this.#budget,
      now: opts.now,
      probe: opts.probe,
      onResult: opts.onResult,
      ...(opts.share ? { share: opts.share } : {}),
    });
    this.#plan = new PlanCache(() => this.#scheduler.intervalClasses());
  }

  start(): void {
    this.#scheduler.start();
  }

  /** Stops scheduling, then lets calls in flight finish for up to `graceMs`. */
  async stop(graceMs: number): Promise<void> {
    this.#scheduler.stop();
    await this.#budget.stop(graceMs);
  }

  /** The whole watched set (start, reload): kept streams keep their schedule. */
  setStreams(watched: readonly WatchedStream[]): void {
    this.#plan.invalidate();
    this.#scheduler.setStreams(watched);
  }

  /** One stream more or less, O(1) (discovery). */
  add(w: WatchedStream): void {
    this.#plan.invalidate();
    this.#scheduler.add(w);
  }

  remove(id: string): void {
    this.#plan.invalidate();
    this.#scheduler.remove(id);
  }

  setRateLimit(rate: number): void {
    this.#budget.setRateLimit(rate);
  }

  get size(): number {
    return this.#scheduler.size;
  }

  /** The start-up line: what refresh the watched streams get at `rate`. */
  summary(rate: number): ReturnType<typeof planSummary> {
    return planSummary(this.plan(rate));
  }

  plan(rate: number): BudgetPlan {
    return this.#plan.get(rate);
  }

  status(): ProbingStatus {
    const rate = this.#budget.effectiveRate;
    const plan = this.#plan.get(rate);
    return {
      rateLimit: rate,
      queueLength: this.#scheduler.queueLength,
      achievableRefreshSec: Number.isFinite(plan.worstRefreshSec) ? plan.worstRefreshSec : 0,
      achievableProbesPerSec: this.#budget.achievableRate,
      demandPerSec: plan.demandPerSec,
      streamsWatched: this.#scheduler.size,
      slotsHeld: this.#budget.slotsHeld,
    };
  }
}
