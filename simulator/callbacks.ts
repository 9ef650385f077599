import { randomInt } from 'node:crypto';
import { callbackSignature } from '../src/callbacks/verify.js';
import type { StreamState } from './streams.js';

/** ZEGO's documented retry gaps after a non-2xx answer: up to 5 retries, then the callback is dropped. */
export const ZEGO_RETRY_GAPS_MS: readonly number[] = [2000, 4000, 8000, 16_000, 32_000];

export interface SenderTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface CallbackSenderOptions {
  url: string;
  appId: number;
  secret: string;
  /** Retry gaps; inject shorter ones (or fake timers) in tests. */
  retryGapsMs?: readonly number[];
  timers?: SenderTimers;
  /** Unix ms, for timestamps and create/destroy times. */
  nowMs?: () => number;
  /** Form fields (as ZEGO's samples read them) or JSON. */
  encoding?: 'form' | 'json';
  /** Probability [0, 1) that a callback is lost (never sent). */
  dropRate?: number;
  random?: () => number;
  /** Close `type` for closes (0 normal stop). */
  closeType?: number;
}

export interface SenderStats {
  sent: number;
  delivered: number;
  retried: number;
  dropped: number;
  gaveUp: number;
}

/**
 * Sends what ZEGO would when a stream changes: a signed stream_create or stream_close, with a
 * per-stream stream_seq, retried on non-2xx with ZEGO's schedule. It follows the simulator's
 * setStream, so the API and the callbacks describe the same streams.
 */
export class CallbackSender {
  readonly #o: CallbackSenderOptions;
  readonly #timers: SenderTimers;
  readonly #now: () => number;
  readonly #gaps: readonly number[];
  readonly #seq = new Map<string, number>();
  readonly #last = new Map<string, StreamState>();
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
  }

  setDropRate(rate: number): void {
    this.#dropRate = rate;
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

  /** The fields both events carry; each call takes the stream's next stream_seq. */
  #common(event: 'stream_create' | 'stream_close', id: string, createTimeMs: number): Record<string, string> {
    return {
      event,
      appid: String(this.#o.appId),
      room_id: `room-${id}`,
      user_id: `user-${id}`,
      stream_id: id,
      stream_sid: `s-${id}-${createTimeMs}`,
      stream_seq: String(this.#nextSeq(id)),
    };
  }

  createEvent(id: string, createTimeMs: number): Record<string, string> {
    return {
      ...this.#common('stream_create', id, createTimeMs),
      create_time: String(Math.floor(createTimeMs / 1000)),
      create_time_ms: String(createTimeMs),
      recreate: '0',
    };
  }

  closeEvent(id: string, createTimeMs: number, destroyTimeMs: number, type = this.#o.closeType ?? 0): Record<string, string> {
    return {
      ...this.#common('stream_close', id, createTimeMs),
      type: String(type),
      create_time_ms: String(createTimeMs),
      destroy_timemillis: String(destroyTimeMs),
    };
  }

  /** Signs (fresh timestamp and nonce) and posts one event, retrying on failure; resolves with the first attempt's status (null: lost or unreachable). */
  send(event: Record<string, string>): Promise<number | null> {
    if (this.#closed) return Promise.resolve(null);
    const random = this.#o.random ?? Math.random;
    if (this.#dropRate > 0 && random() < this.#dropRate) {
      this.stats.dropped++;
      return Promise.resolve(null);
    }
    const timestamp = String(Math.floor(this.#now() / 1000));
    const nonce = String(randomInt(1, 2 ** 47));
    const body = { ...event, timestamp, nonce, signature: callbackSignature(this.#o.secret, timestamp, nonce) };
    return this.#attempt(body, 0);
  }

  async #attempt(body: Record<string, string>, retry: number): Promise<number | null> {
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

  async #post(body: Record<string, string>): Promise<number | null> {
    const ac = new AbortController();
    this.#inFlight.add(ac);
    this.stats.sent++;
    try {
      const json = this.#o.encoding === 'json';
      const res = await fetch(this.#o.url, {
        method: 'POST',
        headers: { 'Content-Type': json ? 'application/json' : 'application/x-www-form-urlencoded' },
        body: json ? JSON.stringify(body) : new URLSearchParams(body).toString(),
        signal: ac.signal,
      });
      await res.arrayBuffer();
      return res.status;
    } catch {
      return null;
    } finally {
      this.#inFlight.delete(ac);
    }
  }

  #nextSeq(id: string): number {
    const n = (this.#seq.get(id) ?? 0) + 1;
    this.#seq.set(id, n);
    return n;
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
