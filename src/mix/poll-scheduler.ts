import type { ApiCaller } from '../api/service.js';
import type { MixTaskResult } from '../api/actions.js';

/** Calls kept in the budget's queue at once: enough that a freed slot never waits for us, few enough that a key task due now is next. */
const LOOKAHEAD = 2;

export interface PolledTask {
  id: string;
  /** The TaskId GetMixTaskInfo is asked about, when it is not `id` (a discovered task: id as ZEGO's callback named it, asked without the AppID prefix). */
  apiId?: string;
  intervalMs: number;
  /** `severity: critical`: polled before every other due task when the budget is short. */
  key: boolean;
}

export interface MixPollSchedulerOptions {
  /** GetMixTaskInfo's caller: its budget, one call per slot (recorded and fed back there). */
  api: ApiCaller<string, MixTaskResult>;
  /** An answer about the task `id` (PolledTask.id, whatever TaskId was sent). */
  onResult: (result: MixTaskResult, id: string) => void;
  now?: () => number;
}

interface Entry extends PolledTask {
  removed: boolean;
  phase: 'waiting' | 'queued' | 'running';
  timer: NodeJS.Timeout | undefined;
  lastSentAtMs: number | undefined;
}

/**
 * Asks GetMixTaskInfo about every task once per interval through its budget. The first polls are
 * spread evenly over each task's interval (1000 tasks at 10 s start as 100 calls/s, not 1000 at
 * once); after that each task is due one interval after its last call was sent. Due tasks wait in
 * two FIFOs, key tasks first: when the budget is short the key tasks keep their interval and the
 * rest share what is left, earliest deadline first. A task is waiting, queued or running, never
 * two at once.
 */
export class MixPollScheduler {
  readonly #opts: MixPollSchedulerOptions;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #dueKey: Entry[] = [];
  readonly #dueRest: Entry[] = [];
  #running = false;
  /** Requests made of the budget whose slot has not yet come (queued, or started and pacing). */
  #requested = 0;

  constructor(opts: MixPollSchedulerOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    opts.api.onStart(() => this.#pump());
  }

  /** Kept tasks keep their schedule; removed ones stop at once; added ones are spread over their interval. */
  setTasks(tasks: readonly PolledTask[]): void {
    const wanted = new Map(tasks.map((t) => [t.id, t]));
    for (const [id, e] of this.#entries) {
      if (wanted.has(id)) continue;
      e.removed = true;
      clearTimeout(e.timer);
      this.#entries.delete(id);
    }
    const added: Entry[] = [];
    for (const t of tasks) {
      const e = this.#entries.get(t.id);
      if (e) {
        const changed = e.intervalMs !== t.intervalMs;
        e.intervalMs = t.intervalMs;
        e.key = t.key;
        if (t.apiId === undefined) delete e.apiId;
        else e.apiId = t.apiId;
        if (changed && e.phase === 'waiting' && this.#running) this.#scheduleNext(e);
        continue;
      }
      const fresh: Entry = { ...t, removed: false, phase: 'waiting', timer: undefined, lastSentAtMs: undefined };
      this.#entries.set(t.id, fresh);
      added.push(fresh);
    }
    if (this.#running) this.#spread(added);
  }

  /** One task more (a discovered one), spread like any added task: O(1), whatever is watched. */
  add(t: PolledTask): void {
    if (this.#entries.has(t.id)) return;
    const fresh: Entry = { ...t, removed: false, phase: 'waiting', timer: undefined, lastSentAtMs: undefined };
    this.#entries.set(t.id, fresh);
    if (this.#running) this.#spread([fresh]);
  }

  /** One task less, at once: O(1) (a queued entry is skipped when its turn comes). */
  remove(id: string): void {
    const e = this.#entries.get(id);
    if (!e) return;
    e.removed = true;
    clearTimeout(e.timer);
    this.#entries.delete(id);
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#spread([...this.#entries.values()]);
  }

  stop(): void {
    this.#running = false;
    this.#dueKey.length = 0;
    this.#dueRest.length = 0;
    for (const e of this.#entries.values()) {
      clearTimeout(e.timer);
      e.timer = undefined;
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Tasks past their due time waiting for a slot. */
  get queueLength(): number {
    return this.#dueKey.length + this.#dueRest.length;
  }

  /** Calls/s the tasks ask for at their intervals. */
  get demandPerSec(): number {
    let d = 0;
    for (const e of this.#entries.values()) d += 1000 / e.intervalMs;
    return d;
  }

  /**
   * First polls of `entries`: within each interval class (and key tasks apart), the i-th of n is
   * due at i/n of the interval, key tasks of a class before the others.
   */
  #spread(entries: Entry[]): void {
    const byClass = new Map<number, Entry[]>();
    for (const e of entries) byClass.set(e.intervalMs, [...(byClass.get(e.intervalMs) ?? []), e]);
    for (const [intervalMs, list] of byClass) {
      list.sort((a, b) => Number(b.key) - Number(a.key));
      list.forEach((e, i) => {
        const delay = Math.floor((i * intervalMs) / list.length);
        if (delay === 0) this.#makeDue(e);
        else e.timer = setTimeout(() => this.#makeDue(e), delay);
      });
    }
  }

  #makeDue(e: Entry): void {
    e.timer = undefined;
    if (e.removed || !this.#running) return;
    e.phase = 'queued';
    (e.key ? this.#dueKey : this.#dueRest).push(e);
    this.#pump();
  }

  /**
   * Keeps LOOKAHEAD requests waiting in the budget's queue (a started one may still wait for its
   * spacing: it no longer counts), never more requests than tasks are due; which task a slot
   * carries is chosen only when it comes, so a key task that fell due meanwhile goes first.
   */
  #pump(): void {
    while (this.#running && this.#opts.api.queued < LOOKAHEAD && this.#requested < this.#dueKey.length + this.#dueRest.length) {
      this.#requested++;
      this.#opts.api
        .run(async (send) => {
          this.#requested--;
          const e = this.#next();
          if (!e) return undefined;
          e.phase = 'running';
          e.lastSentAtMs = this.#now();
          try {
            const result = await send(e.apiId ?? e.id);
            if (!e.removed) this.#opts.onResult(result, e.id);
          } finally {
            if (!e.removed && this.#running) this.#scheduleNext(e);
          }
          return undefined;
        })
        .then(
          () => this.#pump(),
          () => this.#pump(),
        );
    }
  }

  #next(): Entry | undefined {
    for (;;) {
      const e = this.#dueKey.shift() ?? this.#dueRest.shift();
      if (!e || !e.removed) return e;
    }
  }

  #scheduleNext(e: Entry): void {
    clearTimeout(e.timer);
    e.phase = 'waiting';
    const at = (e.lastSentAtMs ?? this.#now()) + e.intervalMs;
    e.timer = setTimeout(() => this.#makeDue(e), Math.max(0, at - this.#now()));
  }
}
