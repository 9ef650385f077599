import type { ApiCaller } from '../api/service.js';
import type { ProbeResult } from '../zego/outcome.js';
import { IntervalClasses, planClasses } from './plan.js';

export interface ScheduledStream {
  id: string;
  intervalMs: number;
}

export interface SchedulerOptions {
  /** DescribeRTCStreamState's caller: its budget, one call per slot (recorded and fed back there). Must not throw. */
  api: ApiCaller<string, ProbeResult>;
  /** Every result, in completion order; `shared` when another replica made the call. */
  onResult: (id: string, result: ProbeResult, shared: boolean) => void;
  /** Fleet mode with share_results: replicas probe each stream once per interval between them. */
  share?: SharedWork;
  now?: () => number;
}

export interface SharedWork {
  claim(id: string, intervalMs: number): Promise<{ kind: 'fresh'; result: ProbeResult } | { kind: 'claimed' } | { kind: 'busy'; retryInMs: number }>;
  publish(id: string, result: ProbeResult, intervalMs: number): Promise<void>;
}

type Phase = 'waiting' | 'queued' | 'running';

/** Tasks kept in the budget's p-queue at once; enough that a freed slot never waits for us. */
const LOOKAHEAD = 2;
/** A stream whose id the API rejects (30009) is retried this rarely (or at its interval, if longer). */
const STREAM_CONFIG_BACKOFF_MS = 300_000;

interface Entry {
  id: string;
  intervalMs: number;
  phase: Phase;
  removed: boolean;
  timer: NodeJS.Timeout | undefined;
  /** Aborts the queued call when the stream is removed. */
  dequeue: AbortController | undefined;
  /** When the last call for it was sent; due again one interval later. */
  lastSentAtMs: number | undefined;
  /** Send time of the last result applied, so a shared result is never applied twice. */
  lastResultSentAtMs: number | undefined;
}

/**
 * Keeps every stream refreshed once per interval through the budget. A stream is waiting (a timer
 * until it is due), queued (in the budget's p-queue) or running, never two at once, so it is never
 * queued or in flight twice. Due streams wait in one of two FIFO lists (see plan.ts) and are handed
 * to the budget's p-queue a few at a time (see #pump): the shortest interval classes that fit the
 * budget together (the key streams) go first and keep their interval; all others share what is
 * left, in the order they fell due, i.e. earliest deadline first, so none starves.
 */
export class Scheduler {
  readonly #opts: SchedulerOptions;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  #running = false;
  readonly #dueKey = new Fifo<Entry>();
  readonly #dueRest = new Fifo<Entry>();
  /** Streams with an interval up to this keep it and go first (planBudget's protected classes). */
  #protectedUpToMs = -1;
  /** The watched streams per interval, kept with #entries: what the plan is computed from. */
  readonly #classes = new IntervalClasses();

  constructor(opts: SchedulerOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    opts.api.onStart(() => this.#pump());
  }

  /**
   * The watched set, applied in place: kept streams keep their schedule, removed ones stop at once
   * (a queued call for them leaves the queue unspent), added ones are due now.
   */
  setStreams(streams: readonly ScheduledStream[]): void {
    const wanted = new Set(streams.map((s) => s.id));
    for (const id of this.#entries.keys()) if (!wanted.has(id)) this.#drop(id);
    const fresh = streams.map((s) => this.#put(s));
    this.#replan();
    for (const entry of fresh) if (entry && this.#running) this.#enqueue(entry);
  }

  /** One more stream (or a new interval for a watched one), due now: O(1) in the streams watched. */
  add(stream: ScheduledStream): void {
    const fresh = this.#put(stream);
    this.#replan();
    if (fresh && this.#running) this.#enqueue(fresh);
  }

  /** Stops probing one stream at once (a queued call for it leaves the queue unspent). */
  remove(id: string): void {
    if (this.#drop(id)) this.#replan();
  }

  /** Records a stream; returns it when new, to be enqueued once the plan knows it. */
  #put(s: ScheduledStream): Entry | undefined {
    const entry = this.#entries.get(s.id);
    if (!entry) {
      const fresh: Entry = {
        id: s.id,
        intervalMs: s.intervalMs,
        phase: 'waiting',
        removed: false,
        timer: undefined,
        dequeue: undefined,
        lastSentAtMs: undefined,
        lastResultSentAtMs: undefined,
      };
      this.#entries.set(s.id, fresh);
      this.#classes.add(s.intervalMs);
      return fresh;
    }
    if (entry.intervalMs !== s.intervalMs) {
      this.#classes.remove(entry.intervalMs);
      this.#classes.add(s.intervalMs);
      entry.intervalMs = s.intervalMs;
      if (entry.phase === 'waiting' && this.#running) this.#scheduleNext(entry, s.intervalMs);
    }
    return undefined;
  }

  #drop(id: string): boolean {
    const entry = this.#entries.get(id);
    if (!entry) return false;
    entry.removed = true;
    clearTimeout(entry.timer);
    entry.dequeue?.abort();
    this.#entries.delete(id);
    this.#classes.remove(entry.intervalMs);
    return true;
  }

  /** Which classes keep their interval: from the class counts, so its cost is the few distinct intervals, not the streams. */
  #replan(): void {
    this.#protectedUpToMs = planClasses(this.#classes.counts, this.#opts.api.rateLimit).protectedUpToMs;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    for (const entry of this.#entries.values()) this.#enqueue(entry);
  }

  /** Stops scheduling; the budget's own stop() abandons what is queued or in flight. */
  stop(): void {
    this.#running = false;
    this.#dueKey.clear();
    this.#dueRest.clear();
    for (const entry of this.#entries.values()) {
      clearTimeout(entry.timer);
      entry.dequeue?.abort();
    }
  }

  /** Streams past their due time, waiting for a slot. */
  get queueLength(): number {
    return this.#dueKey.size + this.#dueRest.size + this.#opts.api.queued;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The watched streams per interval (ms → streams), live: for PlanCache. */
  intervalClasses(): ReadonlyMap<number, number> {
    return this.#classes.counts;
  }

  #enqueue(entry: Entry): void {
    entry.timer = undefined;
    if (entry.removed || !this.#running) return;
    const share = this.#opts.share;
    if (share) {
      entry.phase = 'queued';
      void share.claim(entry.id, entry.intervalMs).then((c) => {
        if (entry.removed || !this.#running) return;
        if (c.kind === 'claimed') return this.#call(entry);
        if (c.kind === 'fresh' && c.result.sentAtMs !== entry.lastResultSentAtMs) {
          // Due again one interval after the call that produced it, like the replica that made it.
          entry.lastSentAtMs = c.result.sentAtMs;
          entry.lastResultSentAtMs = c.result.sentAtMs;
          this.#opts.onResult(entry.id, c.result, true);
          return this.#scheduleNext(entry, entry.intervalMs);
        }
        // Another replica is probing it (or its result is the one we have): look again shortly.
        entry.phase = 'waiting';
        entry.timer = setTimeout(() => this.#enqueue(entry), c.kind === 'busy' ? c.retryInMs : 100);
      });
      return;
    }
    this.#call(entry);
  }

  /** Due: wait in the scheduler's own lists until the budget's queue has room (see #pump). */
  #call(entry: Entry): void {
    entry.phase = 'queued';
    (entry.intervalMs <= this.#protectedUpToMs ? this.#dueKey : this.#dueRest).push(entry);
    this.#pump();
  }

  /**
   * Hands due streams to the budget, key classes first, each class in the order it fell due, but
   * only a few at a time: p-queue then holds a couple of tasks instead of every overdue stream
   * (10k streams overloaded would otherwise mean 10k promises, closures and abort controllers).
   */
  #pump(): void {
    while (this.#running && this.#opts.api.queued < LOOKAHEAD) {
      const entry = this.#dueKey.shift() ?? this.#dueRest.shift();
      if (!entry) return;
      if (!entry.removed) this.#submit(entry);
    }
  }

  #submit(entry: Entry): void {
    const share = this.#opts.share;
    const dequeue = new AbortController();
    entry.dequeue = dequeue;
    const run = async (send: (id: string) => Promise<ProbeResult>): Promise<ProbeResult> => {
      entry.phase = 'running';
      entry.dequeue = undefined;
      entry.lastSentAtMs = this.#now();
      return send(entry.id);
    };
    this.#opts.api
      .run(run, { signal: dequeue.signal })
      .then((result) => {
        if (result !== undefined && share) void share.publish(entry.id, result, entry.intervalMs);
        if (entry.removed) return;
        if (result !== undefined) {
          entry.lastResultSentAtMs = result.sentAtMs;
          this.#opts.onResult(entry.id, result, false);
        }
        if (!this.#running) return;
        const backoff = result?.outcome.kind === 'failed' && result.outcome.reason === 'stream_config';
        const nextInMs = backoff ? Math.max(entry.intervalMs, STREAM_CONFIG_BACKOFF_MS) : entry.intervalMs;
        this.#scheduleNext(entry, nextInMs);
      })
      .catch(() => {
        // probe() never rejects; should a bug make it, the stream must not drop out of rotation.
        if (!entry.removed && this.#running) this.#scheduleNext(entry, entry.intervalMs);
      });
  }

  #scheduleNext(entry: Entry, afterSentMs: number): void {
    clearTimeout(entry.timer);
    entry.phase = 'waiting';
    const base = entry.lastSentAtMs ?? this.#now();
    const delay = Math.max(0, base + afterSentMs - this.#now());
    entry.timer = setTimeout(() => this.#enqueue(entry), delay);
  }
}

/** A FIFO with O(1) shift: an array read from a moving head, compacted now and then. */
class Fifo<T> {
  #items: T[] = [];
  #head = 0;

  get size(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head++];
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}
