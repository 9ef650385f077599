import { randomInt } from 'node:crypto';
import { CALLBACK_RETRY_GAPS_MS } from '../src/zego/callback-rules.js';
import { encodeCallback, signCallback, streamCallbackFields, type CallbackEncoding, type CallbackFields, type StreamCallbackEvent } from './callback-body.js';
import { defaultRoomId, RoomSessions } from './sessions.js';
import type { StreamState } from './streams.js';

/** ZEGO's documented retry gaps after a non-2xx answer: up to 5 retries, then the callback is dropped. */
export const ZEGO_RETRY_GAPS_MS: readonly number[] = CALLBACK_RETRY_GAPS_MS;

const POST_TIMEOUT_MS = 10_000;

export interface SenderTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** The room a stream publishes in, and the user who publishes it. */
export interface StreamRoom {
  roomId: string;
  userId?: string;
}

export interface CallbackSenderOptions {
  url: string;
  appId: number;
  secret: string;
  /** Retry gaps; inject shorter ones (or fake timers) in tests; [] sends once. */
  retryGapsMs?: readonly number[];
  timers?: SenderTimers;
  /** Unix ms, for timestamps and create/destroy times. */
  nowMs?: () => number;
  /** Default `json`, as ZEGO sends unless asked otherwise. */
  encoding?: CallbackEncoding;
  /** Probability [0, 1) that a callback is lost (never sent). */
  dropRate?: number;
  random?: () => number;
  /** Close `type` for closes (0 normal stop). */
  closeType?: number;
  /** Where a stream publishes; default (or undefined): a room of its own, `room-<stream id>`. */
  roomOf?: (streamId: string) => StreamRoom | undefined;
  /** Room sessions shared with whoever else numbers this app's events (the simulator); default: the sender's own. */
  sessions?: RoomSessions;
  /** The simulator's URL once it listens: stream_create's hls_url / hdl_url point at its CDN. */
  mediaBaseUrl?: () => string | undefined;
}

export interface SenderStats {
  sent: number;
  delivered: number;
  retried: number;
  dropped: number;
  gaveUp: number;
}

/** A callback asked for by hand (control API, command line); what is not given follows the room's session. */
export interface OnDemandEvent {
  event: StreamCallbackEvent;
  streamId: string;
  roomId?: string;
  roomSessionId?: string;
  streamSeq?: number;
  userId?: string;
  createTimeMs?: number;
  destroyTimeMs?: number;
  type?: number;
}

interface Live {
  room: StreamRoom;
  createTimeMs: number;
}

/**
 * Sends what ZEGO would when a stream changes: a signed stream_create or stream_close whose
 * room_session_id and stream_seq follow the stream's room (see RoomSessions), retried on non-2xx
 * with ZEGO's schedule. `onStream` follows a stream table; `sendEvent` sends one event on demand.
 */
export class CallbackSender {
  readonly #o: CallbackSenderOptions;
  readonly #timers: SenderTimers;
  readonly #now: () => number;
  readonly #gaps: readonly number[];
  readonly #sessions: RoomSessions;
  readonly #last = new Map<string, StreamState>();
  /** The room each published stream was created in: its close belongs to that room's session. */
  readonly #live = new Map<string, Live>();
  readonly #pending = new Set<unknown>();
  readonly #inFlight = new Set<AbortController>();
  readonly stats: SenderStats = { sent: 0, delivered: 0, retried: 0, dropped: 0, gaveUp: 0 };
  #dropRate: number;
  #closed = false;

  constructor(opts: CallbackSenderOptions) {
    this.#o = opts;
    this.#timers = opts.timers ?? { setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout) };
    this.#now = opts.nowMs ?? Date.now;
    this.#gaps = opts.retryGapsMs ?? ZEGO_RETRY_GAPS_MS;
    this.#dropRate = opts.dropRate ?? 0;
    this.#sessions = opts.sessions ?? new RoomSessions();
  }

  setDropRate(rate: number): void {
    this.#dropRate = rate;
  }

  /** Takes a stream's state as already known, without a callback (a simulator's starting streams). */
  prime(id: string, state: StreamState): void {
    this.#last.set(id, state);
    if (state.state === 'active' && !this.#live.has(id)) {
      const room = this.#roomOf(id);
      this.#sessions.streamAdded(room.roomId, id);
      this.#live.set(id, { room, createTimeMs: state.createTime * 1000 });
    }
  }

  /** Call with every state the stream table takes; only transitions produce callbacks. Resolves once the first attempt is answered. */
  onStream(id: string, state: StreamState, extra: { closeType?: number } = {}): Promise<number | null> {
    const prev = this.#last.get(id);
    this.#last.set(id, state);
    const changed = !prev || prev.state !== state.state || prev.createTime !== state.createTime;
    if (!changed) return Promise.resolve(null);
    if (state.state === 'closed' && !prev) return Promise.resolve(null); // never seen up: nothing to close
    if (prev?.state === 'active' && state.state === 'active') {
      // A restart with a new create time: ZEGO reports the old session's close first.
      void this.send(this.closeEvent(id, prev.createTime * 1000, this.#now(), extra.closeType));
    }
    const fields =
      state.state === 'active'
        ? this.createEvent(id, state.createTime * 1000)
        : this.closeEvent(id, state.createTime * 1000, state.closeTime * 1000, extra.closeType);
    return this.send(fields);
  }

  /** A stream_create: the stream joins its room's list (the room's next stream_seq). */
  createEvent(id: string, createTimeMs: number): CallbackFields {
    const room = this.#roomOf(id);
    const stamp = this.#sessions.streamAdded(room.roomId, id);
    this.#live.set(id, { room, createTimeMs });
    return streamCallbackFields({ event: 'stream_create', appId: this.#o.appId, streamId: id, createTimeMs, ...room, ...stamp, ...this.#media() });
  }

  /** A stream_close: the stream leaves the list of the room it was created in. */
  closeEvent(id: string, createTimeMs: number, destroyTimeMs: number, type = this.#o.closeType ?? 0): CallbackFields {
    const room = this.#listedRoom(id);
    this.#live.delete(id);
    const stamp = this.#sessions.streamRemoved(room.roomId, id, { publisherStays: this.#ownRoom(id, room) });
    return streamCallbackFields({ event: 'stream_close', appId: this.#o.appId, streamId: id, createTimeMs, destroyTimeMs, type, ...room, ...stamp });
  }

  /**
   * One event on demand, through the same builder, signing and delivery as the automatic ones.
   * A given roomSessionId / streamSeq is sent as is (the room's session is left alone).
   */
  async sendEvent(e: OnDemandEvent): Promise<{ status: number | null; contentType: string; body: CallbackFields }> {
    const now = this.#now();
    const live = this.#live.get(e.streamId);
    const base = e.roomId !== undefined ? { roomId: e.roomId } : this.#listedRoom(e.streamId);
    const room: StreamRoom = e.userId === undefined ? base : { ...base, userId: e.userId };
    let stamp: { roomSessionId: string; streamSeq: number };
    if (e.roomSessionId !== undefined && e.streamSeq !== undefined) stamp = { roomSessionId: e.roomSessionId, streamSeq: e.streamSeq };
    else {
      const s =
        e.event === 'stream_create'
          ? this.#sessions.streamAdded(room.roomId, e.streamId)
          : this.#sessions.streamRemoved(room.roomId, e.streamId, { publisherStays: this.#ownRoom(e.streamId, room) });
      stamp = { roomSessionId: e.roomSessionId ?? s.roomSessionId, streamSeq: e.streamSeq ?? s.streamSeq };
    }
    const createTimeMs = e.createTimeMs ?? live?.createTimeMs ?? now;
    if (e.event === 'stream_create') this.#live.set(e.streamId, { room, createTimeMs });
    else this.#live.delete(e.streamId);
    const fields = streamCallbackFields({
      event: e.event,
      appId: this.#o.appId,
      streamId: e.streamId,
      createTimeMs,
      destroyTimeMs: e.destroyTimeMs ?? now,
      type: e.type ?? this.#o.closeType ?? 0,
      ...room,
      ...stamp,
      ...this.#media(),
    });
    const signed = this.#sign(fields);
    const { contentType } = encodeCallback(signed, this.#encoding());
    const status = await this.#deliver(signed);
    return { status, contentType, body: signed };
  }

  /** Signs and posts any event's fields once more like sendEvent: answers with the status, the Content-Type and the signed body. */
  async sendFields(fields: CallbackFields): Promise<{ status: number | null; contentType: string; body: CallbackFields }> {
    const signed = this.#sign(fields);
    const { contentType } = encodeCallback(signed, this.#encoding());
    const status = await this.#deliver(signed);
    return { status, contentType, body: signed };
  }

  /** Signs (fresh timestamp and nonce) and posts one event, retrying on failure; resolves with the first attempt's status (null: lost or unreachable). */
  send(event: CallbackFields): Promise<number | null> {
    return this.#deliver(this.#sign(event));
  }

  #media(): { mediaBaseUrl?: string } {
    const url = this.#o.mediaBaseUrl?.();
    return url === undefined ? {} : { mediaBaseUrl: url };
  }

  #sign(event: CallbackFields): CallbackFields {
    // ZEGO's nonces are short decimal numbers.
    return signCallback(event, this.#o.secret, Math.floor(this.#now() / 1000), String(randomInt(1, 2 ** 47)));
  }

  #deliver(body: CallbackFields): Promise<number | null> {
    if (this.#closed) return Promise.resolve(null);
    const random = this.#o.random ?? Math.random;
    if (this.#dropRate > 0 && random() < this.#dropRate) {
      this.stats.dropped++;
      return Promise.resolve(null);
    }
    return this.#attempt(body, 0);
  }

  #encoding(): CallbackEncoding {
    return this.#o.encoding ?? 'json';
  }

  /** The room the stream was listed in when created (by whichever sender shares the sessions), else where it publishes now. */
  #listedRoom(streamId: string): StreamRoom {
    const live = this.#live.get(streamId)?.room;
    const listed = this.#sessions.listedIn(streamId);
    if (listed === undefined) return live ?? this.#roomOf(streamId);
    if (live?.roomId === listed) return live;
    const now = this.#roomOf(streamId);
    return now.roomId === listed ? now : { roomId: listed };
  }

  /**
   * A stream outside any room is in a room of its own whose only user is its publisher, who stays
   * logged in between publishes (as a broadcaster's app does): that room, and its session, outlive
   * each close, so the stream's seq keeps rising. Real rooms end when their last stream and user leave.
   */
  #ownRoom(streamId: string, room: StreamRoom): boolean {
    return room.roomId === defaultRoomId(streamId) && this.#o.roomOf?.(streamId) === undefined;
  }

  #roomOf(streamId: string): StreamRoom {
    return this.#o.roomOf?.(streamId) ?? { roomId: defaultRoomId(streamId) };
  }

  async #attempt(body: CallbackFields, retry: number): Promise<number | null> {
    const status = await this.#post(body);
    if (status !== null && status >= 200 && status < 300) {
      this.stats.delivered++;
      return status;
    }
    if (retry < this.#gaps.length && !this.#closed) {
      const h = this.#timers.setTimeout(() => {
        this.#pending.delete(h);
        this.stats.retried++;
        void this.#attempt(body, retry + 1);
      }, this.#gaps[retry]!);
      this.#pending.add(h);
    } else {
      this.stats.gaveUp++;
    }
    return status;
  }

  async #post(fields: CallbackFields): Promise<number | null> {
    const ac = new AbortController();
    this.#inFlight.add(ac);
    this.stats.sent++;
    try {
      const { contentType, body } = encodeCallback(fields, this.#encoding());
      // A receiver that never answers must not hold the sender (or a control request) forever.
      const signal = AbortSignal.any([ac.signal, AbortSignal.timeout(POST_TIMEOUT_MS)]);
      const res = await fetch(this.#o.url, { method: 'POST', headers: { 'Content-Type': contentType }, body, signal });
      await res.arrayBuffer();
      return res.status;
    } catch {
      return null;
    } finally {
      this.#inFlight.delete(ac);
    }
  }

  /** Cancels pending retries and in-flight posts. */
  close(): void {
    this.#closed = true;
    for (const h of this.#pending) this.#timers.clearTimeout(h);
    this.#pending.clear();
    for (const ac of this.#inFlight) ac.abort();
  }
}

/** Wraps a simulator-like target so every setStream also goes to the sender. */
export function withCallbacks<T extends { setStream(id: string, state: StreamState): void }>(target: T, sender: CallbackSender): T {
  const original = target.setStream.bind(target);
  target.setStream = (id, state) => {
    original(id, state);
    void sender.onStream(id, state);
  };
  return target;
}
