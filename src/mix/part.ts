import type { ApiCaller } from '../api/service.js';
import type { MixTaskResult } from '../api/actions.js';
import { MIX_TASK_DEFAULT_INTERVAL_MS, type Config, type MixTaskConfig } from '../config/types.js';
import type { Format } from '../metrics/exposition.js';
import type { Part, PartContext, PartGauge } from '../parts/part.js';
import { mixTaskIdCandidates, resolveMixTaskId } from '../zego/mix.js';
import { MixTaskState, type MixCallback, type MixPollOutcome, type MixStop } from '../state/mix-tasks.js';
import { roomInputs } from './inputs.js';
import { renderMixTasks } from './metrics.js';
import { MixPollScheduler, type PolledTask } from './poll-scheduler.js';

/** How often stops polling saw are checked for their window's end (a count is at most this late). */
const SETTLE_EVERY_MS = 1000;

interface Task {
  id: string;
  intervalMs: number;
  labels: Readonly<Record<string, string>>;
  key: boolean;
  state: MixTaskState;
  /** Watched because a mix_start discovered it (the discovery service holds it), not because mix_tasks: lists it. */
  discovered: boolean;
  /** The TaskId GetMixTaskInfo is asked about: `id`, or for a discovered task `id` without ZEGO's AppID prefix. */
  apiId: string;
  /** When it was last seen to end (not running, no stop left to decide); null while running or unknown. */
  endedAtMs: number | null;
}

/**
 * Mix tasks (issue 23): polls GetMixTaskInfo for every watched task through its own budget, keeps
 * each task's state (state/mix-tasks.ts: polls and callbacks by time, the stops only polling can
 * see) and renders the zego_mix_task_* families. This file is the lifecycle and the wiring.
 */
export class MixPart implements Part {
  readonly name = 'mix';
  readonly gauges: readonly PartGauge[];
  readonly api: ApiCaller<string, MixTaskResult>;
  readonly #ctx: PartContext;
  readonly #polls: MixPollScheduler;
  readonly #tasks = new Map<string, Task>();
  /** Tasks with a stop awaiting its mix_stop: the only ones the settle timer visits. */
  readonly #awaiting = new Set<Task>();
  #settleTimer: NodeJS.Timeout | null = null;
  #appId: number;
  readonly #stateOptions: { stopWindowMs?: number };

  constructor(config: Config, ctx: PartContext) {
    this.#ctx = ctx;
    this.#stateOptions = ctx.mix ? { stopWindowMs: ctx.mix.stopWindowMs } : {};
    this.api = ctx.api('GetMixTaskInfo');
    this.#polls = new MixPollScheduler({ api: this.api, now: ctx.now, onResult: (r, id) => this.#onResult(r, id) });
    this.api.describe((rate) => {
      const demand = this.#polls.demandPerSec;
      // Tasks ÷ rate when the budget is short; else the longest interval asked for.
      const longest = Math.max(0, ...[...this.#tasks.values()].map((t) => t.intervalMs / 1000));
      return { queueLength: this.#polls.queueLength, demandPerSec: demand, achievableRefreshSec: demand > rate ? this.#tasks.size / rate : longest };
    });
    this.gauges = [{ name: 'zego_exporter_mix_tasks_watched', help: 'Stream mixing tasks the exporter watches.', read: () => this.#tasks.size }];
    this.#appId = config.zego.appId;
    ctx.mix?.handle((e) => {
      // ZEGO prefixes the AppID to task_id: removed when what remains is a watched task.
      const id = resolveMixTaskId(e.rawTaskId, this.#appId, (t) => this.#tasks.has(t));
      if (id === null || !this.#tasks.has(id)) return 'unwatched';
      this.applyCallback(id, e.callback);
      return 'accepted';
    });
    ctx.mix?.watchWith({
      watch: (id, labels) => this.#watchDiscovered(id, labels),
      unwatch: (id) => this.#unwatchDiscovered(id),
      endedAt: (id) => {
        const t = this.#tasks.get(id);
        return t?.discovered ? t.endedAtMs : null;
      },
    });
    ctx.mix?.provide((id, now) => this.#tasks.get(id)?.state.view(now) ?? null);
    this.#configure(config.mixTasks ?? []);
  }

  async start(): Promise<void> {
    if (this.#tasks.size > 0) {
      const rate = this.api.rateLimit;
      const demand = this.#polls.demandPerSec;
      this.#ctx.logger[demand > rate ? 'warn' : 'info'](
        { mix_tasks: this.#tasks.size, demand_per_sec: demand, budget_per_sec: rate },
        `GetMixTaskInfo: ${this.#tasks.size} mix tasks want ${Math.round(demand * 100) / 100} calls/s of a ${rate}/s budget` +
          (demand > rate ? ` (budget-limited: every task refreshed about every ${Math.round((this.#tasks.size / rate) * 100) / 100}s)` : ''),
      );
    }
    this.#polls.start();
    this.#settleTimer = setInterval(() => this.settle(), SETTLE_EVERY_MS);
    this.#settleTimer.unref();
  }

  applyConfig(config: Config): void {
    this.#appId = config.zego.appId;
    this.#configure(config.mixTasks ?? []);
  }

  async stop(): Promise<void> {
    this.#polls.stop();
    if (this.#settleTimer) clearInterval(this.#settleTimer);
    this.#settleTimer = null;
  }

  metrics(format: Format): string {
    const now = this.#ctx.now();
    return renderMixTasks(
      [...this.#tasks.values()].map((t) => ({ id: t.id, intervalMs: t.intervalMs, labels: t.labels, view: t.state.view(now) })),
      format,
    );
  }

  landing(): string | null {
    if (this.#tasks.size === 0) return null;
    const now = this.#ctx.now();
    let running = 0;
    for (const t of this.#tasks.values()) if (t.state.view(now).running === true) running++;
    return `Mix tasks: ${this.#tasks.size} watched, ${running} running.`;
  }

  /** Whether `id` is a watched task (callbacks resolve ZEGO's AppID-prefixed task_id with it). */
  isWatched(id: string): boolean {
    return this.#tasks.has(id);
  }

  /** One mix_start / mix_stop for a watched task (signature and replay checked by the receiver). */
  applyCallback(taskId: string, c: MixCallback): void {
    const t = this.#tasks.get(taskId);
    if (!t) return;
    const before = t.state.view(c.atMs).running;
    const stop = t.state.callback(c);
    if (stop) this.#logStop(t, stop);
    const after = t.state.view(c.atMs).running;
    if (before !== after && after !== null)
      this.#ctx.logger.info({ task_id: t.id, running: after, seq: c.seq }, `mix task ${after ? 'started' : 'stopped'} (${c.event})`);
    this.#track(t, c.atMs);
  }

  /** Counts the stops whose mix_stop can no longer come; run every second, and by tests. */
  settle(): void {
    const now = this.#ctx.now();
    for (const t of this.#awaiting) {
      for (const stop of t.state.settle(now)) this.#logStop(t, stop);
      this.#track(t, now);
    }
  }

  #onResult(r: MixTaskResult, id: string): void {
    const t = this.#tasks.get(id);
    if (!t) return;
    const o = r.outcome;
    const outcome: MixPollOutcome =
      o.kind === 'active' ? { kind: 'active', mixDurationSec: o.mixDurationSec } : o.kind === 'not_found' ? { kind: 'not_found' } : { kind: 'failed' };
    const before = t.state.view(r.sentAtMs).running;
    // The room's streams matter only when the task is found gone.
    const inputs = outcome.kind === 'not_found' ? roomInputs(this.#ctx.store.snapshot(), t.state.view(r.sentAtMs).roomId) : undefined;
    for (const stop of t.state.poll({ outcome, sentAtMs: r.sentAtMs, inputs })) this.#logStop(t, stop);
    const after = t.state.view(r.sentAtMs).running;
    if (before !== after && after !== null) {
      this.#ctx.logger.info({ task_id: t.id, running: after, code: r.code }, after ? 'mix task running' : 'mix task not running (GetMixTaskInfo)');
    }
    this.#track(t, r.sentAtMs);
  }

  /**
   * After anything that may have changed `t`: the settle timer's set, and for a discovered task
   * its end (not running with no stop left to decide, from `atMs`), which the discovery service's
   * forget_after counts from: a stop still waiting for its mix_stop is counted before the task goes.
   */
  #track(t: Task, atMs: number): void {
    if (t.state.nextDeadlineMs() === null) this.#awaiting.delete(t);
    else this.#awaiting.add(t);
    const view = t.state.view(atMs);
    const ended = view.running === false && view.awaitingStopSinceMs.length === 0;
    const endedAtMs = ended ? (t.endedAtMs ?? atMs) : null;
    if (endedAtMs === t.endedAtMs) return;
    t.endedAtMs = endedAtMs;
    if (t.discovered) this.#ctx.mix?.changed(t.id);
  }

  /** A task a mix_start discovered (its id as ZEGO's task_id): polled at the default interval, without the AppID prefix. */
  #watchDiscovered(id: string, labels: Readonly<Record<string, string>>): void {
    const t = this.#tasks.get(id);
    if (t) {
      if (t.discovered) t.labels = labels;
      return;
    }
    // GetMixTaskInfo takes the customer's TaskId: the most specific reading of the prefix.
    const apiId = mixTaskIdCandidates(id, this.#appId)[0] ?? id;
    const task: Task = {
      id,
      intervalMs: MIX_TASK_DEFAULT_INTERVAL_MS,
      labels,
      key: false,
      state: new MixTaskState(this.#stateOptions),
      discovered: true,
      apiId,
      endedAtMs: null,
    };
    this.#tasks.set(id, task);
    this.#ctx.logger.info({ task_id: id, polled_as: apiId }, 'watching a mix task discovered by mix_start');
    // One at a time (a burst of mix_starts is one call each), not the whole list again.
    this.#polls.add(polled(task));
  }

  #unwatchDiscovered(id: string): void {
    const t = this.#tasks.get(id);
    if (!t?.discovered) return;
    this.#tasks.delete(id);
    this.#awaiting.delete(t);
    this.#ctx.logger.info({ task_id: id }, 'no longer watching a discovered mix task');
    this.#polls.remove(id);
  }

  #logStop(t: Task, stop: MixStop): void {
    const level = stop.reason === 'unannounced' ? 'warn' : 'info';
    this.#ctx.logger[level](
      { task_id: t.id, reason: stop.reason, seen_gone_at: new Date(stop.atMs).toISOString() },
      stop.reason === 'unannounced' ? 'mix task stopped without a mix_stop while its inputs were live (a crash)' : 'mix task stopped',
    );
  }

  /** The listed tasks; discovered ones stay (the discovery service lets go of those the config now lists, and of those it forgets). */
  #configure(list: readonly MixTaskConfig[]): void {
    const wanted = new Set(list.map((m) => m.id));
    for (const [id, t] of this.#tasks) {
      if (wanted.has(id) || t.discovered) continue;
      this.#tasks.delete(id);
      this.#awaiting.delete(t);
    }
    for (const m of list) {
      const key = m.labels['severity'] === 'critical';
      const t = this.#tasks.get(m.id);
      // A discovered task the config now lists is the config's: its interval, labels and id as asked.
      if (t) Object.assign(t, { intervalMs: m.intervalMs, labels: m.labels, key, discovered: false, apiId: m.id });
      else
        this.#tasks.set(m.id, {
          id: m.id,
          intervalMs: m.intervalMs,
          labels: m.labels,
          key,
          state: new MixTaskState(this.#stateOptions),
          discovered: false,
          apiId: m.id,
          endedAtMs: null,
        });
    }
    this.#polls.setTasks([...this.#tasks.values()].map(polled));
  }
}

/** What the poll scheduler needs of a task. */
function polled(t: Task): PolledTask {
  return { id: t.id, intervalMs: t.intervalMs, key: t.key, ...(t.apiId !== t.id ? { apiId: t.apiId } : {}) };
}

/** Always built (a reload may add tasks); idle while none is watched. */
export function mixPart(config: Config, ctx: PartContext): Part {
  return new MixPart(config, ctx);
}
