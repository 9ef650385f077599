import type { Logger } from 'pino';
import { eventKey, order, type EventKey } from '../zego/event-order.js';
import type { CloseReason, StreamEvent } from '../zego/stream-event.js';
import type { ProbeResult } from '../zego/outcome.js';

export interface WatchedStream {
  id: string;
  intervalMs: number;
  labels: Readonly<Record<string, string>>;
  /** Who watches it: the config (the default when absent), a watched room's list, a callback, or an output it feeds. */
  origin?: StreamOrigin;
}

/**
 * Where a watched stream came from (zego_stream_source_info, the landing page). When several
 * watch it, the config wins, else the part that watched it first (on a reload: room before callback).
 */
export type StreamOrigin = 'config' | 'room' | 'callback' | 'output';

/**
 * What we know of one stream (the store's record of it, kept in place and mutated as observations
 * arrive). `active === null` until a probe first succeeds.
 */
export interface StreamRecord {
  readonly id: string;
  labels: Readonly<Record<string, string>>;
  intervalMs: number;
  active: boolean | null;
  notFound: boolean;
  /** Unix seconds, while active and known. */
  createTimeSec: number | null;
  closeTimeSec: number | null;
  /** null until the first probe completes. */
  probeSuccess: boolean | null;
  lastProbeMs: number | null;
  lastSuccessMs: number | null;
  lastCode: string | null;
  lastError: string | null;
  /** Where the current state came from. */
  source: StateSource | null;
  changedAtMs: number | null;
  /** The newest callback applied (ZEGO's per-stream order) and when it was received. */
  lastCallback: EventKey | null;
  callbackAtMs: number | null;
  /** Why the stream last closed, from a stream_close callback (probes don't say). */
  closeReason: CloseReason | null;
  /** Probes that contradicted a callback in a row; reset when one confirms. */
  disagreements: number;
  /** Bumped on every change, so readers (the metrics) can skip streams that did not change. */
  version: number;
  /** The room the stream was last seen in (a room's stream list or a callback's room_id); null: unknown. */
  roomId: string | null;
  /** When the observation behind the current state was made (probe or list: sent; callback: received). */
  observedAtMs: number | null;
  /** Why it is watched: listed in the config, or found in a room's list or by a callback. */
  origin: StreamOrigin;
}

export type StateSource = 'probe' | 'callback' | 'room_list';

/** What one DescribeSimpleStreamList answer says about one stream of a watched room. */
export interface RoomListObservation {
  roomId: string;
  /** In the list (active since `createTimeSec`) or not (closed). */
  listed: boolean;
  createTimeSec: number | null;
  /** When the list call was sent: the list describes a moment no earlier than this. */
  sentAtMs: number;
}
export type CallbackApply = 'accepted' | 'duplicate' | 'stale' | 'unwatched';

/** A newly watched stream: nothing known yet. */
export function initialState(w: WatchedStream): StreamRecord {
  return {
    id: w.id,
    labels: w.labels,
    intervalMs: w.intervalMs,
    active: null,
    notFound: false,
    createTimeSec: null,
    closeTimeSec: null,
    probeSuccess: null,
    lastProbeMs: null,
    lastSuccessMs: null,
    lastCode: null,
    lastError: null,
    source: null,
    changedAtMs: null,
    lastCallback: null,
    callbackAtMs: null,
    closeReason: null,
    disagreements: 0,
    version: 0,
    roomId: null,
    observedAtMs: null,
    origin: w.origin ?? 'config',
  };
}

/**
 * What the parts may do with the per-stream state: feed it observations (probes, callbacks, room
 * lists), each merged by when it was made, and read what is known. Not the watched set: a part
 * changes that through its PartContext, so probing and the state never disagree on it.
 */
export interface StreamObservations {
  applyProbe(id: string, result: ProbeResult, atMs?: number): void;
  applyCallback(id: string, e: StreamEvent, receivedAtMs: number): CallbackApply;
  applyRoomList(id: string, o: RoomListObservation): void;
  get(id: string): Readonly<StreamRecord> | undefined;
  /** The watched streams in watch order (see StateStore.snapshot). */
  snapshot(): readonly Readonly<StreamRecord>[];
  /** Bumped whenever a stream's room changes or the watched set is replaced. */
  readonly roomsVersion: number;
}

export interface StateStoreOptions {
  logger: Logger;
  now?: () => number;
  /** Told after a stream went active, closed or not found (discovery times ends and forget_after by it). */
  onChange?: (s: Readonly<StreamRecord>) => void;
}

/**
 * Per-stream state. Only known outcomes (active / closed / not found) change what we know: a failed
 * probe marks the probe failed and keeps the last known state, so an API hiccup never shows a
 * stream as down. Logs one info line per state change.
 */
export class StateStore implements StreamObservations {
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #onChange: ((s: Readonly<StreamRecord>) => void) | undefined;
  readonly #streams = new Map<string, StreamRecord>();
  /** The records in watch order, replaced (never edited) when the set changed: see snapshot(). null: to be rebuilt at the next read. */
  #list: readonly StreamRecord[] | null = [];
  #disagreementsTotal = 0;
  #roomsVersion = 0;
  #originsVersion = 0;

  constructor(opts: StateStoreOptions) {
    this.#log = opts.logger;
    this.#now = opts.now ?? Date.now;
    this.#onChange = opts.onChange;
  }

  /** Kept streams keep their state; removed ones are gone at once; added ones start unknown. */
  setStreams(watched: readonly WatchedStream[]): void {
    const ids = new Set(watched.map((w) => w.id));
    for (const id of this.#streams.keys()) if (!ids.has(id)) this.#streams.delete(id);
    for (const w of watched) this.#put(w);
    this.#list = [...this.#streams.values()];
    this.#roomsVersion++;
  }

  /**
   * One more watched stream, after the others (a watched one takes the new labels and interval and
   * keeps its state). O(1): the snapshot list is rebuilt once at its next read, not per stream, so
   * a burst of discoveries costs one copy per scrape rather than one per stream.
   */
  add(w: WatchedStream): void {
    if (!this.#streams.has(w.id)) this.#list = null;
    this.#put(w);
  }

  /** Forgets one stream at once; O(1) like add(). */
  remove(id: string): void {
    if (this.#streams.delete(id)) this.#list = null;
  }

  #put(w: WatchedStream): void {
    const s = this.#streams.get(w.id);
    if (s) {
      if (s.labels !== w.labels || s.intervalMs !== w.intervalMs) s.version++;
      s.labels = w.labels;
      s.intervalMs = w.intervalMs;
      const origin = w.origin ?? 'config';
      if (s.origin !== origin) {
        s.origin = origin;
        this.#originsVersion++;
      }
    } else {
      this.#streams.set(w.id, initialState(w));
    }
  }

  /** `atMs`: when the probe's answer came, for a result another replica probed (default now). */
  applyProbe(id: string, result: ProbeResult, atMs?: number): void {
    const s = this.#streams.get(id);
    if (!s) return; // removed while its call was in flight
    s.version++;
    const now = atMs ?? this.#now();
    const o = result.outcome;
    s.lastProbeMs = now;
    s.lastCode = result.code;
    if (o.kind === 'failed') {
      s.probeSuccess = false;
      s.lastError = o.message;
      return;
    }
    s.probeSuccess = true;
    s.lastSuccessMs = now;
    s.lastError = null;
    if (s.source === 'callback' && s.callbackAtMs !== null) {
      // A probe sent before the callback arrived describes an older moment: it cannot undo it.
      if (result.sentAtMs < s.callbackAtMs) return;
      this.#noteAgreement(s, o.kind === 'active', result.code);
    }
    // Likewise a probe sent before the room list that set the state.
    if (s.source === 'room_list' && s.observedAtMs !== null && result.sentAtMs < s.observedAtMs) return;
    const wasActive = s.active;
    const wasNotFound = s.notFound;
    s.source = 'probe';
    s.observedAtMs = result.sentAtMs;
    // Without the history permission (ZEGO's default) a closed stream answers 41004, with no close
    // time: for a stream already known closed that is the same close, not a new state.
    if (o.kind === 'not_found' && wasActive === false && !wasNotFound) return;
    s.active = o.kind === 'active';
    s.notFound = o.kind === 'not_found';
    s.createTimeSec = o.kind === 'active' ? o.createTimeSec : null;
    s.closeTimeSec = o.kind === 'closed' ? o.closeTimeSec : null;
    if (wasActive !== s.active || wasNotFound !== s.notFound) {
      s.changedAtMs = now;
      this.#changed(s, wasActive, result.code, 'probe');
    }
  }

  /**
   * A verified callback, applied at once. Per stream only the newest event by ZEGO's order counts;
   * a create older than a close the API already reported is stale too (a late retry).
   */
  applyCallback(id: string, e: StreamEvent, receivedAtMs: number): CallbackApply {
    const s = this.#streams.get(id);
    if (!s) return 'unwatched';
    const key = eventKey(e);
    const ord = order(key, s.lastCallback);
    if (ord !== 'newer') return ord === 'duplicate' ? 'duplicate' : 'stale';
    if ((s.source === 'probe' || s.source === 'room_list') && isOlderThanProbe(s, e)) return 'stale';
    s.version++;
    s.lastCallback = key;
    s.callbackAtMs = receivedAtMs;
    s.observedAtMs = receivedAtMs;
    if (e.roomId !== undefined) this.#setRoom(s, e.roomId);
    const wasActive = s.active;
    const wasNotFound = s.notFound;
    s.active = e.event === 'stream_create';
    s.notFound = false;
    s.source = 'callback';
    if (e.event === 'stream_create') {
      s.createTimeSec = e.createTimeMs / 1000;
      s.closeTimeSec = null;
    } else {
      s.createTimeSec = null;
      s.closeTimeSec = (e.destroyTimeMs ?? receivedAtMs) / 1000;
      s.closeReason = e.reason;
    }
    if (wasActive !== s.active || wasNotFound !== s.notFound) {
      s.changedAtMs = receivedAtMs;
      this.#changed(s, wasActive, e.event, 'callback');
    }
    return 'accepted';
  }

  /**
   * A room's stream list about one of its streams. The freshest observation wins: a list sent
   * before the probe or callback behind the current state describes an older moment and only
   * records the room. A stream in the list is active since its CreateTime; one that left it is
   * closed as of the list's send time (when it closed exactly, the list does not say).
   */
  applyRoomList(id: string, o: RoomListObservation): void {
    const s = this.#streams.get(id);
    if (!s) return;
    this.#setRoom(s, o.roomId);
    if (s.observedAtMs !== null && o.sentAtMs < s.observedAtMs) return;
    const wasActive = s.active;
    const wasNotFound = s.notFound;
    if (o.listed === wasActive && s.source === 'room_list' && (!o.listed || o.createTimeSec === s.createTimeSec)) {
      s.observedAtMs = o.sentAtMs;
      return;
    }
    s.version++;
    s.observedAtMs = o.sentAtMs;
    s.source = 'room_list';
    s.active = o.listed;
    s.notFound = false;
    s.createTimeSec = o.listed ? o.createTimeSec : null;
    s.closeTimeSec = o.listed ? null : wasActive === false ? s.closeTimeSec : o.sentAtMs / 1000;
    if (wasActive !== s.active || wasNotFound !== s.notFound) {
      s.changedAtMs = o.sentAtMs;
      this.#changed(s, wasActive, o.listed ? 'listed' : 'unlisted', 'room_list');
    }
  }

  /** Bumped whenever a stream's room changes or the watched set is replaced: zego_stream_room_info is re-rendered then. */
  get roomsVersion(): number {
    return this.#roomsVersion;
  }

  /** Bumped whenever a kept stream's origin changes (a new or removed one changes the snapshot instead). */
  get originsVersion(): number {
    return this.#originsVersion;
  }

  /** Probes that contradicted a callback, since start. */
  get disagreementsTotal(): number {
    return this.#disagreementsTotal;
  }

  get(id: string): Readonly<StreamRecord> | undefined {
    return this.#streams.get(id);
  }

  /**
   * The watched streams, in watch order (added streams after those watched before them; removing
   * one keeps the order of the rest): a list that never changes once handed out (a change of the
   * set installs a new one), so a reader that yields part-way, like a scrape, sees each stream of
   * one list exactly once; and no copy per call while the set stays the same, which /metrics at
   * 10k streams would pay on every scrape. The records in it are live (see `version`) and
   * read-only to callers.
   */
  snapshot(): readonly Readonly<StreamRecord>[] {
    return (this.#list ??= [...this.#streams.values()]);
  }

  get size(): number {
    return this.#streams.size;
  }

  #setRoom(s: StreamRecord, roomId: string): void {
    if (s.roomId === roomId) return;
    s.roomId = roomId;
    this.#roomsVersion++;
  }

  #noteAgreement(s: StreamRecord, probeActive: boolean, code: string): void {
    if (s.active === probeActive) {
      s.disagreements = 0;
      return;
    }
    s.disagreements++;
    this.#disagreementsTotal++;
    const fields = {
      stream_id: s.id,
      code,
      outcome: probeActive ? 'active' : 'closed',
      callback_said: s.active ? 'active' : 'closed',
      disagreements: s.disagreements,
    };
    // Once can be the API catching up; again and again means callbacks and the API see different streams.
    if (s.disagreements >= 2) this.#log.warn(fields, 'the API keeps contradicting callbacks for this stream; following the API');
    else this.#log.info(fields, 'the API contradicts the last callback; following the API');
  }

  /** Logs the change of state (one info line) and tells onChange. */
  #changed(s: StreamRecord, wasActive: boolean | null, code: string, source: StateSource): void {
    this.#logChange(s, wasActive, code, source);
    this.#onChange?.(s);
  }

  #logChange(s: StreamRecord, wasActive: boolean | null, code: string, source: StateSource): void {
    const fields = { stream_id: s.id, code, outcome: s.active ? 'active' : s.notFound ? 'not_found' : 'closed', source };
    if (s.active) {
      this.#log.info({ ...fields, create_time: s.createTimeSec }, wasActive === null ? 'stream is up' : 'stream went up');
    } else if (s.notFound) {
      this.#log.info(fields, 'stream not found');
    } else {
      this.#log.info(
        { ...fields, close_time: s.closeTimeSec, ...(source === 'callback' ? { reason: s.closeReason } : {}) },
        wasActive === true ? 'stream went down' : 'stream is down',
      );
    }
  }
}

/** A late callback that predates what a probe already saw (e.g. a create retried after the close). */
function isOlderThanProbe(s: StreamRecord, e: StreamEvent): boolean {
  if (e.event === 'stream_create') return s.active === false && s.closeTimeSec !== null && Math.floor(e.createTimeMs / 1000) < Math.floor(s.closeTimeSec);
  const at = e.destroyTimeMs ?? e.createTimeMs;
  return s.active === true && s.createTimeSec !== null && at !== null && Math.floor(at / 1000) < Math.floor(s.createTimeSec);
}
