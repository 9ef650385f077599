import type { ApiCaller } from '../api/service.js';
import type { WatchedStream } from '../state/store.js';
import type { ProbeResult } from '../zego/outcome.js';
import { PlanCache, planSummary, type BudgetPlan } from './plan.js';
import { Scheduler, type SharedWork } from './scheduler.js';

export interface StreamProbingOptions {
  /** DescribeRTCStreamState's caller from the API service (its budget: slot rule, pacing, back-off). */
  api: ApiCaller<string, ProbeResult>;
  now: () => number;
  onResult: (id: string, result: ProbeResult, shared: boolean) => void;
  share?: SharedWork | undefined;
}

/**
 * DescribeRTCStreamState's pipeline as one object: the scheduler that keeps every watched stream
 * refreshed through the API service's budget, and the budget math over the watched set, redone
 * only when the set or the rate changes (what the budget's status shows as demand and refresh).
 */
export class StreamProbing {
  readonly #scheduler: Scheduler;
  readonly #plan: PlanCache;

  constructor(opts: StreamProbingOptions) {
    this.#scheduler = new Scheduler({
      api: opts.api,
      now: opts.now,
      onResult: opts.onResult,
      ...(opts.share ? { share: opts.share } : {}),
    });
    this.#plan = new PlanCache(() => this.#scheduler.intervalClasses());
    opts.api.describe((rate) => {
      const plan = this.#plan.get(rate);
      return { queueLength: this.#scheduler.queueLength, demandPerSec: plan.demandPerSec, achievableRefreshSec: plan.worstRefreshSec };
    });
  }

  start(): void {
    this.#scheduler.start();
  }

  /** Stops scheduling; the API service's stop() then lets calls in flight finish. */
  stop(): void {
    this.#scheduler.stop();
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
}
