import type { ApiCaller } from '../api/service.js';
import type { UserCountResult } from '../zego/outcome.js';
import { MAX_ROOMS_PER_USER_NUM } from '../zego/protocol.js';
import type { ScheduledRoom } from './list-scheduler.js';

/** A due room waits at most this long for others to fill its batch (less for short intervals). */
const MAX_FILL_WAIT_MS = 2000;

export interface CountBatcherOptions {
  /** DescribeUserNum's caller: its budget, one call per slot (recorded and fed back there). */
  api: ApiCaller<readonly string[], UserCountResult>;
  onResult: (result: UserCountResult) => void;
  now?: () => number;
}

interface Entry {
  id: string;
  intervalMs: number;
  removed: boolean;
  /** In the due list or in a call: never twice. */
  busy: boolean;
  timer: NodeJS.Timeout | undefined;
  dueSinceMs: number;
  lastSentAtMs: number | undefined;
}

/**
 * Refreshes every room's user count through the DescribeUserNum budget, up to 10 rooms a call.
 * Rooms fall due once per interval and wait in one FIFO. A call is queued for the budget when ten
 * are due, or when the oldest due room has waited its fill time (a tenth of its interval, at most
 * 2 s); the call takes the due rooms only when it is sent, so at saturation (more rooms due than
 * the budget's calls can carry) every call carries ten.
 */
export class CountBatcher {
  readonly #opts: CountBatcherOptions;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #due: Entry[] = [];
  /** Calls queued in the budget that have not taken their rooms yet. */
  #queuedCalls = 0;
  #fillTimer: NodeJS.Timeout | undefined;
  #running = false;
  /** Calls sent and rooms they carried, since start (rooms per call = the batching's fill). */
  calls = 0;
  roomsCarried = 0;

  constructor(opts: CountBatcherOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  setRooms(rooms: readonly ScheduledRoom[]): void {
    const wanted = new Map(rooms.map((r) => [r.id, r]));
    for (const [id, e] of this.#entries) {
      if (wanted.has(id)) continue;
      e.removed = true;
      clearTimeout(e.timer);
      this.#entries.delete(id);
    }
    for (const r of rooms) {
      const e = this.#entries.get(r.id);
      if (e) {
        e.intervalMs = r.intervalMs;
        continue;
      }
      const fresh: Entry = { id: r.id, intervalMs: r.intervalMs, removed: false, busy: false, timer: undefined, dueSinceMs: 0, lastSentAtMs: undefined };
      this.#entries.set(r.id, fresh);
      if (this.#running) this.#makeDue(fresh);
    }
    // Removed rooms leave the due list lazily (skipped when taken).
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    for (const e of this.#entries.values()) this.#makeDue(e);
  }

  stop(): void {
    this.#running = false;
    this.#due.length = 0;
    clearTimeout(this.#fillTimer);
    for (const e of this.#entries.values()) clearTimeout(e.timer);
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Rooms past their due time waiting for a call. */
  get queueLength(): number {
    return this.#due.length;
  }

  #makeDue(e: Entry): void {
    e.timer = undefined;
    if (e.removed || !this.#running || e.busy) return;
    e.busy = true;
    e.dueSinceMs = this.#now();
    this.#due.push(e);
    this.#pump();
  }

  /** Queues calls for the due rooms not yet spoken for: full batches at once, a partial one after its fill wait. */
  #pump(): void {
    clearTimeout(this.#fillTimer);
    this.#fillTimer = undefined;
    if (!this.#running) return;
    for (;;) {
      const unclaimed = this.#due.length - this.#queuedCalls * MAX_ROOMS_PER_USER_NUM;
      if (unclaimed <= 0) return;
      if (unclaimed < MAX_ROOMS_PER_USER_NUM) {
        const oldest = this.#due[this.#queuedCalls * MAX_ROOMS_PER_USER_NUM]!;
        const waitMs = oldest.dueSinceMs + Math.min(MAX_FILL_WAIT_MS, oldest.intervalMs / 10) - this.#now();
        if (waitMs > 0) {
          this.#fillTimer = setTimeout(() => this.#pump(), waitMs);
          return;
        }
      }
      this.#queuedCalls++;
      this.#submit();
    }
  }

  #submit(): void {
    let batch: Entry[] = [];
    const run = async (send: (roomIds: readonly string[]) => Promise<UserCountResult>): Promise<UserCountResult | undefined> => {
      this.#queuedCalls--;
      batch = this.#take();
      if (batch.length === 0) return undefined;
      this.calls++;
      this.roomsCarried += batch.length;
      const at = this.#now();
      for (const e of batch) e.lastSentAtMs = at;
      return send(batch.map((e) => e.id));
    };
    const done = (result: UserCountResult | undefined): void => {
      if (result !== undefined) this.#opts.onResult(result);
      for (const e of batch) {
        e.busy = false;
        if (!e.removed && this.#running) this.#scheduleNext(e);
      }
    };
    this.#opts.api.run(run).then(done, () => done(undefined));
  }

  /** Up to ten due rooms, oldest first, skipping removed ones. */
  #take(): Entry[] {
    const out: Entry[] = [];
    while (out.length < MAX_ROOMS_PER_USER_NUM && this.#due.length > 0) {
      const e = this.#due.shift()!;
      if (e.removed) continue;
      out.push(e);
    }
    return out;
  }

  #scheduleNext(e: Entry): void {
    clearTimeout(e.timer);
    const at = (e.lastSentAtMs ?? this.#now()) + e.intervalMs;
    e.timer = setTimeout(() => this.#makeDue(e), Math.max(0, at - this.#now()));
  }
}
