import { ROOM_LIST_HOLD_MS } from '../api/actions.js';
import type { ApiCaller } from '../api/service.js';
import type { RoomStreamsResult } from '../zego/outcome.js';

/** ZEGO answers one DescribeSimpleStreamList per room per 10 s (the Actions table's rule). */
export const ROOM_HOLD_MS = ROOM_LIST_HOLD_MS;
/** Calls kept in the budget's p-queue at once; enough that a freed slot never waits for us. */
const LOOKAHEAD = 2;

export interface ScheduledRoom {
  id: string;
  intervalMs: number;
}

/**
 * Fleet mode: the per-room rule across processes. `hold` resolves true when this process may send
 * the room's list call (no other process holds the room; the hold lasts until released, or
 * expires by itself should the process die), false when another holds it; `release(room, ms)`
 * keeps the room held `ms` more (10 s after the response ended; 0 when no call was sent).
 */
export interface RoomLock {
  hold(roomId: string, signal: AbortSignal): Promise<boolean>;
  release(roomId: string, holdMs: number): void;
}

export interface ListSchedulerOptions {
  /** DescribeSimpleStreamList's caller: its budget, one call per slot (recorded and fed back there). */
  api: ApiCaller<string, RoomStreamsResult>;
  onResult: (result: RoomStreamsResult) => void;
  /** Fleet mode: the per-room rule shared through Redis. */
  lock?: RoomLock;
  now?: () => number;
}

interface Entry {
  id: string;
  intervalMs: number;
  removed: boolean;
  phase: 'waiting' | 'queued' | 'running';
  timer: NodeJS.Timeout | undefined;
  dequeue: AbortController | undefined;
  lastSentAtMs: number | undefined;
  /** The room is held until then: its last response ended 10 s before. */
  heldUntilMs: number;
}

/**
 * Refreshes every room's stream list through DescribeSimpleStreamList's budget, each room at most once per interval
 * and never within 10 s of the end of its previous response (the per-room rule, held by
 * construction: a room is in at most one phase, and becomes due only after its hold). Due rooms
 * wait in one FIFO, in the order they fell due (earliest deadline first), so when the budget is
 * short every room gets the same refresh.
 */
export class ListScheduler {
  readonly #opts: ListSchedulerOptions;
  readonly #now: () => number;
  readonly #entries = new Map<string, Entry>();
  readonly #due: Entry[] = [];
  #running = false;
  /** Rooms asking the fleet's lock: they count against the look-ahead like queued calls, so rooms are taken just in time. */
  #locking = 0;
  /** Calls that found the room held by another process (fleet mode), since start. */
  heldElsewhere = 0;

  constructor(opts: ListSchedulerOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    opts.api.onStart(() => this.#pump());
  }

  /** Kept rooms keep their schedule (and their hold); removed ones stop at once; added ones are due now. */
  setRooms(rooms: readonly ScheduledRoom[]): void {
    const wanted = new Map(rooms.map((r) => [r.id, r]));
    for (const [id, e] of this.#entries) {
      if (wanted.has(id)) continue;
      e.removed = true;
      clearTimeout(e.timer);
      e.dequeue?.abort();
      this.#entries.delete(id);
    }
    for (const r of rooms) {
      const e = this.#entries.get(r.id);
      if (e) {
        if (e.intervalMs !== r.intervalMs) {
          e.intervalMs = r.intervalMs;
          if (e.phase === 'waiting' && this.#running) this.#scheduleNext(e);
        }
        continue;
      }
      const fresh: Entry = {
        id: r.id,
        intervalMs: r.intervalMs,
        removed: false,
        phase: 'waiting',
        timer: undefined,
        dequeue: undefined,
        lastSentAtMs: undefined,
        heldUntilMs: 0,
      };
      this.#entries.set(r.id, fresh);
      if (this.#running) this.#makeDue(fresh);
    }
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    for (const e of this.#entries.values()) this.#makeDue(e);
  }

  stop(): void {
    this.#running = false;
    this.#due.length = 0;
    for (const e of this.#entries.values()) {
      clearTimeout(e.timer);
      e.dequeue?.abort();
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  /** Rooms past their due time waiting for a slot. */
  get queueLength(): number {
    return this.#due.length + this.#opts.api.queued;
  }

  /** The earliest moment the room may be called again (response end + 10 s), for tests and status. */
  heldUntil(roomId: string): number | undefined {
    return this.#entries.get(roomId)?.heldUntilMs;
  }

  #makeDue(e: Entry): void {
    e.timer = undefined;
    if (e.removed || !this.#running) return;
    e.phase = 'queued';
    this.#due.push(e);
    this.#pump();
  }

  #pump(): void {
    while (this.#running && this.#opts.api.queued + this.#locking < LOOKAHEAD) {
      const e = this.#due.shift();
      if (!e) return;
      if (!e.removed) this.#submit(e);
    }
  }

  #submit(e: Entry): void {
    const { lock } = this.#opts;
    if (!lock) return this.#send(e, false);
    // Fleet mode: the room is taken before a budget slot (and the fleet's lease) is spent on it,
    // so a room another process holds costs the budget nothing.
    const dequeue = new AbortController();
    e.dequeue = dequeue;
    this.#locking++;
    lock
      .hold(e.id, dequeue.signal)
      .then(
        (mine) => {
          this.#locking--;
          if (e.removed || !this.#running) {
            if (mine) lock.release(e.id, 0);
            return;
          }
          if (mine) return this.#send(e, true);
          this.heldElsewhere++;
          // Another process is calling it: ours is due one interval on, and 10 s after theirs at least.
          e.lastSentAtMs = this.#now();
          e.heldUntilMs = Math.max(e.heldUntilMs, this.#now() + ROOM_HOLD_MS);
          this.#scheduleNext(e);
        },
        () => {
          this.#locking--;
          if (!e.removed && this.#running) this.#scheduleNext(e);
        },
      )
      // Whatever became of it, the look-ahead has room again (the call, if any, is queued by now).
      .finally(() => this.#pump());
  }

  #send(e: Entry, locked: boolean): void {
    const dequeue = new AbortController();
    e.dequeue = dequeue;
    const lock = locked ? this.#opts.lock : undefined;
    let sent = false;
    const run = async (send: (roomId: string) => Promise<RoomStreamsResult>): Promise<RoomStreamsResult | undefined> => {
      e.dequeue = undefined;
      e.phase = 'running';
      // Never true (a room is due only after its hold); kept as the rule's last guard.
      if (this.#now() < e.heldUntilMs) return undefined;
      sent = true;
      e.lastSentAtMs = this.#now();
      try {
        return await send(e.id);
      } finally {
        // The response has ended (or the call failed): the room stays held 10 s from now.
        e.heldUntilMs = this.#now() + ROOM_HOLD_MS;
      }
    };
    this.#opts.api
      .run(run, { signal: dequeue.signal })
      .then((result) => {
        lock?.release(e.id, sent ? ROOM_HOLD_MS : 0);
        if (result !== undefined && !e.removed) this.#opts.onResult(result);
        if (!e.removed && this.#running) this.#scheduleNext(e);
      })
      .catch(() => {
        lock?.release(e.id, sent ? ROOM_HOLD_MS : 0);
        if (!e.removed && this.#running) this.#scheduleNext(e);
      });
  }

  /** Next send ≥ previous send + interval, and ≥ previous response end + 10 s. */
  #scheduleNext(e: Entry): void {
    clearTimeout(e.timer);
    e.phase = 'waiting';
    const at = Math.max((e.lastSentAtMs ?? this.#now()) + e.intervalMs, e.heldUntilMs);
    e.timer = setTimeout(() => this.#makeDue(e), Math.max(0, at - this.#now()));
  }
}
