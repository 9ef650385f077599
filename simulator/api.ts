import { timingSafeEqual } from 'node:crypto';
import { signature } from '../src/zego/sign.js';
import type { SimClock } from './clock.js';
import type { Faults } from './faults.js';
import type { StatsCollector } from './stats.js';
import { isValidStreamId, stripTestPrefix, testPrefix } from '../src/zego/protocol.js';
import type { StreamTable } from './streams.js';
import { SlidingWindow } from './window.js';

export interface AppConfig {
  /** uint32. */
  appId: number;
  secret: string;
  /** false: the app is not launched, only IsTest=true requests are allowed (else 30004). Default true. */
  production?: boolean;
  /** The "stream status history" permission: closed streams answer 41006 instead of 41004. Default true. */
  history?: boolean;
  /** Requests per sliding second, production environment. Default 40. */
  rateLimit?: number;
  /** Requests per sliding second, test environment. Default 10. */
  testRateLimit?: number;
}

export interface Envelope {
  Code: number;
  Message: string;
  RequestId: string;
  Data: Record<string, string>;
}

export const CODES = {
  OK: 0,
  /**
   * Unknown Action or SignatureVersion. The docs name no code for these; 3004 is the simulator's
   * choice (an unused slot next to the documented 3000–3003 "app/request" codes).
   */
  BAD_REQUEST: 3004,
  TIMESTAMP: 3002,
  RATE: 30002,
  IS_TEST: 30004,
  APP_ID: 30005,
  STREAM_ID: 30009,
  /**
   * Sequence not strictly increasing (or not an integer). The real service rejects these, but its
   * Code is undocumented: 30010 is the simulator's choice, so clients must not special-case it.
   */
  SEQUENCE: 30010,
  AUTH: 40005,
  NOT_FOUND: 41004,
  CLOSED: 41006,
} as const;

export const MESSAGES: Readonly<Record<number, string>> = {
  [CODES.OK]: 'ok',
  [CODES.TIMESTAMP]: 'Timestamp error',
  [CODES.RATE]: 'API call rate too high',
  [CODES.IS_TEST]: 'Incorrect IsTest parameter',
  [CODES.APP_ID]: 'Invalid AppId',
  [CODES.STREAM_ID]: 'Invalid StreamId',
  [CODES.SEQUENCE]: 'Sequence must be strictly increasing within 10 s for the same StreamId',
  [CODES.AUTH]: 'Authentication failed',
  [CODES.NOT_FOUND]: 'StreamId does not exist',
  [CODES.CLOSED]: 'Stream is closed',
};

const TIMESTAMP_SKEW_S = 600;
const SEQUENCE_WINDOW_MS = 10_000;
const UINT32_MAX = 0xffff_ffff;
const NONCE_RE = /^[0-9a-fA-F]{16}$/;
const DECIMAL_RE = /^\d+$/;

type Env = 'production' | 'test';

interface AppState {
  cfg: Required<AppConfig>;
  limiter: Record<Env, SlidingWindow>;
  /** Separate from the limiter so resetStats() can restart peaks without touching the limit. */
  statsAll: Record<Env, SlidingWindow>;
  statsAdmitted: Record<Env, SlidingWindow>;
}

/** What the rate limiter decided for one arrival; `app` is null when the AppId is unknown. */
export interface Admission {
  app: AppState | null;
  throttled: boolean;
}

/** Parses a decimal uint32 in canonical form ("012" is not 12: the signature is over the text). */
function parseAppId(raw: string | null): number | null {
  if (raw === null || !DECIMAL_RE.test(raw) || raw.length > 10) return null;
  const n = Number(raw);
  return n <= UINT32_MAX && String(n) === raw ? n : null;
}

function constantTimeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  if (ab.length !== bb.length) {
    // Still do the work so the length difference isn't the only thing a timer can see.
    timingSafeEqual(bb, bb);
    return false;
  }
  return timingSafeEqual(ab, bb);
}

function windows(): Record<Env, SlidingWindow> {
  return { production: new SlidingWindow(1000), test: new SlidingWindow(1000) };
}

/**
 * DescribeRTCStreamState: request validation in the order the real service is believed to apply
 * it, and the response envelope. Transport concerns (HTTP, delays, injected faults) live in
 * server.ts; this class only sees query parameters and clocks.
 */
export class ZegoApi {
  readonly #apps = new Map<number, AppState>();
  readonly #streams: StreamTable;
  readonly #stats: StatsCollector;
  readonly #clock: SimClock;
  readonly #faults: () => Faults;
  readonly #sequences = new Map<string, { seq: bigint; atMs: number }>();
  #lastSweepMs = -Infinity;
  #requestId = 100_000;

  constructor(apps: AppConfig[], streams: StreamTable, stats: StatsCollector, clock: SimClock, faults: () => Faults) {
    for (const a of apps) {
      if (!Number.isInteger(a.appId) || a.appId < 0 || a.appId > UINT32_MAX) throw new RangeError(`appId must be uint32: ${a.appId}`);
      if (typeof a.secret !== 'string' || a.secret.length === 0) throw new RangeError(`app ${a.appId}: secret is required`);
      if (this.#apps.has(a.appId)) throw new RangeError(`duplicate appId ${a.appId}`);
      const cfg: Required<AppConfig> = {
        appId: a.appId,
        secret: a.secret,
        production: a.production ?? true,
        history: a.history ?? true,
        rateLimit: a.rateLimit ?? 40,
        testRateLimit: a.testRateLimit ?? 10,
      };
      for (const lim of [cfg.rateLimit, cfg.testRateLimit]) {
        if (!Number.isInteger(lim) || lim < 0) throw new RangeError(`app ${a.appId}: rate limits must be non-negative integers`);
      }
      this.#apps.set(a.appId, { cfg, limiter: windows(), statsAll: windows(), statsAdmitted: windows() });
    }
    this.#streams = streams;
    this.#stats = stats;
    this.#clock = clock;
    this.#faults = faults;
  }

  /** Simulator wall clock in epoch ms (real wall clock + the clockOffsetMs fault). */
  wallMs(): number {
    return this.#clock.wallMs() + this.#faults().clockOffsetMs;
  }

  /**
   * Step 1, on arrival. Every arrival naming a known AppId counts against that AppId's window,
   * including ones that will fail later checks and ones that are themselves throttled: a client
   * that keeps hammering while throttled stays throttled. (Whether the real service counts
   * throttled calls is not documented; counting them is the stricter reading.)
   */
  admit(q: URLSearchParams): Admission {
    this.#stats.arrival(q.get('StreamId'));
    const appId = parseAppId(q.get('AppId'));
    const app = appId === null ? undefined : this.#apps.get(appId);
    if (app === undefined) return { app: null, throttled: false };
    const env: Env = q.get('IsTest') === 'true' ? 'test' : 'production';
    const now = this.#clock.monoMs();
    const configured = env === 'test' ? app.cfg.testRateLimit : app.cfg.rateLimit;
    const squeeze = this.#faults().throttleRate;
    const limit = squeeze === null ? configured : Math.min(configured, squeeze);
    const count = app.limiter[env].add(now);
    const throttled = count > limit;
    const all = app.statsAll[env].add(now);
    const admitted = throttled ? app.statsAdmitted[env].count(now) : app.statsAdmitted[env].add(now);
    this.#stats.admission(`${app.cfg.appId}:${env}`, throttled, all, admitted);
    return { app, throttled };
  }

  /** Steps 2–7. With `forceCode` set, the request is answered with it and has no other effect. */
  respond(q: URLSearchParams, admission: Admission): Envelope {
    const forced = this.#faults().forceCode;
    let env: Envelope;
    if (forced !== null) {
      this.#stats.fault('forced');
      env = this.#envelope(forced, MESSAGES[forced] ?? 'simulated error');
    } else {
      env = this.#validate(q, admission);
    }
    this.#stats.code(env.Code);
    return env;
  }

  /** A rotated ServerSecret, as the console does it: from now on only the new one signs. */
  setAppSecret(appId: number, secret: string): void {
    const app = this.#apps.get(appId);
    if (!app) throw new RangeError(`unknown appId ${appId}`);
    if (typeof secret !== 'string' || secret.length === 0) throw new RangeError(`app ${appId}: secret is required`);
    app.cfg.secret = secret;
  }

  resetStatsWindows(): void {
    for (const app of this.#apps.values()) {
      for (const e of ['production', 'test'] as const) {
        app.statsAll[e].clear();
        app.statsAdmitted[e].clear();
      }
    }
  }

  #envelope(code: number, message: string, data: Record<string, string> = {}): Envelope {
    return { Code: code, Message: message, RequestId: String(++this.#requestId), Data: data };
  }

  #fail(code: number, message = MESSAGES[code] ?? 'error'): Envelope {
    return this.#envelope(code, message);
  }

  #validate(q: URLSearchParams, { app, throttled }: Admission): Envelope {
    if (throttled) return this.#fail(CODES.RATE);

    if (q.get('Action') !== 'DescribeRTCStreamState') return this.#fail(CODES.BAD_REQUEST, 'Invalid Action');
    if (q.get('SignatureVersion') !== '2.0') return this.#fail(CODES.BAD_REQUEST, 'Invalid SignatureVersion');

    if (app === null) return this.#fail(CODES.APP_ID);
    const { cfg } = app;

    const nonce = q.get('SignatureNonce');
    if (nonce === null || !NONCE_RE.test(nonce)) return this.#fail(CODES.AUTH, 'Authentication failed: SignatureNonce must be 16 hex characters');

    const tsRaw = q.get('Timestamp');
    if (tsRaw === null || !DECIMAL_RE.test(tsRaw) || tsRaw.length > 12) return this.#fail(CODES.TIMESTAMP);
    const ts = Number(tsRaw);
    if (Math.abs(ts - this.wallMs() / 1000) > TIMESTAMP_SKEW_S) return this.#fail(CODES.TIMESTAMP);

    const expected = signature(cfg.appId, nonce, cfg.secret, ts);
    if (!constantTimeEqual(q.get('Signature') ?? '', expected)) return this.#fail(CODES.AUTH);

    const isTest = q.get('IsTest');
    if (isTest !== null && isTest !== 'true' && isTest !== 'false') return this.#fail(CODES.IS_TEST);
    const env: Env = isTest === 'true' ? 'test' : 'production';
    if (env === 'production' && !cfg.production) return this.#fail(CODES.IS_TEST);

    const streamId = q.get('StreamId');
    if (streamId === null || !isValidStreamId(streamId)) return this.#fail(CODES.STREAM_ID);
    if (env === 'test') {
      if (stripTestPrefix(streamId, cfg.appId) === null) {
        return this.#fail(CODES.STREAM_ID, `Invalid StreamId: the test environment requires the prefix ${testPrefix(cfg.appId)}`);
      }
    }

    const seqRaw = q.get('Sequence');
    if (seqRaw === null || !DECIMAL_RE.test(seqRaw) || seqRaw.length > 64) {
      return this.#fail(CODES.SEQUENCE, 'Sequence must be a decimal integer');
    }
    if (!this.#acceptSequence(`${cfg.appId}:${env}:${streamId}`, BigInt(seqRaw))) {
      this.#stats.sequenceViolation();
      return this.#fail(CODES.SEQUENCE);
    }

    const s = this.#streams.get(streamId);
    if (s === undefined) return this.#fail(CODES.NOT_FOUND);
    if (s.state === 'active') {
      return this.#envelope(CODES.OK, 'ok', { create_time: String(s.createTime), close_time: '' });
    }
    if (!cfg.history) return this.#fail(CODES.NOT_FOUND);
    return this.#envelope(CODES.CLOSED, MESSAGES[CODES.CLOSED] ?? '', {
      create_time: String(s.createTime),
      close_time: String(s.closeTime),
    });
  }

  /** Only accepted sequences are remembered, so a rejected one can't raise the bar. */
  #acceptSequence(key: string, seq: bigint): boolean {
    const now = this.#clock.monoMs();
    this.#sweepSequences(now);
    const prev = this.#sequences.get(key);
    if (prev !== undefined && now - prev.atMs < SEQUENCE_WINDOW_MS && seq <= prev.seq) return false;
    this.#sequences.set(key, { seq, atMs: now });
    return true;
  }

  /** Forget entries older than the window so a long run with many streams doesn't grow forever. */
  #sweepSequences(now: number): void {
    if (now - this.#lastSweepMs < SEQUENCE_WINDOW_MS) return;
    this.#lastSweepMs = now;
    for (const [k, v] of this.#sequences) if (now - v.atMs >= SEQUENCE_WINDOW_MS) this.#sequences.delete(k);
  }
}
