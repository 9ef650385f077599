import { timingSafeEqual } from 'node:crypto';
import { signature } from '../src/zego/sign.js';
import type { SimClock } from './clock.js';
import type { Faults } from './faults.js';
import type { StatsCollector } from './stats.js';
import { isValidRoomId, isValidStreamId, MAX_ROOMS_PER_USER_NUM, stripTestPrefix, testPrefix, type ApiAction } from '../src/zego/protocol.js';
import { isValidMixTaskId } from '../src/zego/mix.js';

/** What GetMixTaskInfo reads of the mixing service: a running task's age, else undefined. */
export interface MixService {
  info(taskId: string): { mixDuration: number } | undefined;
}
import type { RoomTable } from './rooms.js';
import type { StreamTable } from './streams.js';
import { SlidingWindow } from './window.js';
import { CODES, MESSAGES } from './codes.js';

export interface AppConfig {
  /** uint32. */
  appId: number;
  secret: string;
  /** false: the app is not launched, only IsTest=true requests are allowed (else 30004). Default true. */
  production?: boolean;
  /**
   * The "stream status history" permission, which ZEGO does not grant by default: with it closed
   * streams answer 41006 with their times; without it (default) 41004, like a stream never seen.
   */
  history?: boolean;
  /**
   * A project created on or before 2021-11-16, which must send IsTest on every call (default true:
   * a call without it answers 30004). false: a newer project, where it is optional (default production).
   */
  isTestRequired?: boolean;
  /** DescribeSimpleStreamList of a room with nobody in it: Code 0 with an empty list instead of 104 (default false). */
  emptyRoomList?: boolean;
  /** Room APIs over the AppID's limit: 206 "AppID QPS limit" (default) or 7 "over the per-second limit". */
  roomAppLimitCode?: RoomAppLimitCode;
  /** Requests per sliding second, production environment. Default 40. */
  rateLimit?: number;
  /** Requests per sliding second, test environment. Default 10. */
  testRateLimit?: number;
  /** DescribeSimpleStreamList per sliding second, both environments. Default 50. */
  listRateLimit?: number;
  /** DescribeUserNum per sliding second, production environment. Default 10. */
  userNumRateLimit?: number;
  /** DescribeUserNum per sliding second, test environment. Default 1. */
  userNumTestRateLimit?: number;
  /** GetMixTaskInfo per sliding second, production environment. Default 100 (documented). */
  mixRateLimit?: number;
  /**
   * GetMixTaskInfo per sliding second, test environment. Undocumented: default 10, the simulator's
   * strict guess (a tenth of production, as DescribeUserNum's test limit is).
   */
  mixTestRateLimit?: number;
}

/** The Actions the simulator serves: the exporter's, and GetMixTaskInfo (not in its Actions table yet). */
export type SimAction = ApiAction | 'GetMixTaskInfo';

export type RoomAppLimitCode = typeof CODES.ROOM_APP_QPS | typeof CODES.ROOM_PER_SECOND;
export const ROOM_APP_LIMIT_CODES: readonly RoomAppLimitCode[] = [CODES.ROOM_APP_QPS, CODES.ROOM_PER_SECOND];

export interface Envelope {
  Code: number;
  Message: string;
  RequestId: string;
  Data: Record<string, unknown>;
}

const TIMESTAMP_SKEW_S = 600;
const SEQUENCE_WINDOW_MS = 10_000;
/** DescribeSimpleStreamList: at most one call per room per 10 s. */
export const ROOM_RULE_MS = 10_000;
export const ACTIONS: readonly SimAction[] = ['DescribeRTCStreamState', 'DescribeSimpleStreamList', 'DescribeUserNum', 'GetMixTaskInfo'];
const UINT32_MAX = 0xffff_ffff;
const NONCE_RE = /^[0-9a-fA-F]{16}$/;
const DECIMAL_RE = /^\d+$/;

type Env = 'production' | 'test';

interface AppState {
  cfg: Required<AppConfig>;
  /** One sliding window per API and environment: the APIs never share a limit. */
  limiter: Record<SimAction, Record<Env, SlidingWindow>>;
  /** Separate from the limiter so resetStats() can restart peaks without touching the limit. */
  statsAll: Record<SimAction, Record<Env, SlidingWindow>>;
  statsAdmitted: Record<SimAction, Record<Env, SlidingWindow>>;
  /** `<env>:<RoomId>` → monotonic ms of the last DescribeSimpleStreamList arrival for it. */
  roomArrivals: Map<string, number>;
  lastRoomSweepMs: number;
}

/** What the rate limiter decided for one arrival; `app` is null when the AppId is malformed or unknown. */
export interface Admission {
  app: AppState | null;
  /** The AppId is not a canonical uint32 (else, with `app` null, nobody knows it). */
  badAppId?: boolean;
  throttled: boolean;
  /** A DescribeSimpleStreamList for a room that had one within the last 10 s. */
  roomRuleBroken?: boolean;
}

/**
 * The limit an arrival counts against. Unknown Actions count against DescribeRTCStreamState's
 * window (as before rooms existed): hammering with a typo still throttles.
 */
function actionOf(q: URLSearchParams): SimAction {
  const a = q.get('Action');
  return (ACTIONS as readonly (string | null)[]).includes(a) ? (a as SimAction) : 'DescribeRTCStreamState';
}

function apiWindows(): Record<SimAction, Record<Env, SlidingWindow>> {
  return { DescribeRTCStreamState: windows(), DescribeSimpleStreamList: windows(), DescribeUserNum: windows(), GetMixTaskInfo: windows() };
}

/** IsTest is `true`/`false` in any case; anything else (or nothing) is production. */
function envOf(q: URLSearchParams): Env {
  return q.get('IsTest')?.toLowerCase() === 'true' ? 'test' : 'production';
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
 * DescribeRTCStreamState, DescribeSimpleStreamList and DescribeUserNum: request validation in the order the real service is believed to apply
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

  readonly #rooms: RoomTable;
  readonly #random: () => number;
  /** Actions answered 100000017, "service not enabled" (for every app). */
  readonly #disabled = new Set<SimAction>();
  readonly #mix: MixService | null;

  constructor(
    apps: AppConfig[],
    streams: StreamTable,
    stats: StatsCollector,
    clock: SimClock,
    faults: () => Faults,
    rooms: RoomTable,
    random: () => number = Math.random,
    mix: MixService | null = null,
  ) {
    for (const a of apps) {
      if (!Number.isInteger(a.appId) || a.appId < 0 || a.appId > UINT32_MAX) throw new RangeError(`appId must be uint32: ${a.appId}`);
      if (typeof a.secret !== 'string' || a.secret.length === 0) throw new RangeError(`app ${a.appId}: secret is required`);
      if (this.#apps.has(a.appId)) throw new RangeError(`duplicate appId ${a.appId}`);
      const cfg: Required<AppConfig> = {
        appId: a.appId,
        secret: a.secret,
        production: a.production ?? true,
        history: a.history ?? false,
        isTestRequired: a.isTestRequired ?? true,
        emptyRoomList: a.emptyRoomList ?? false,
        roomAppLimitCode: a.roomAppLimitCode ?? CODES.ROOM_APP_QPS,
        rateLimit: a.rateLimit ?? 40,
        testRateLimit: a.testRateLimit ?? 10,
        listRateLimit: a.listRateLimit ?? 50,
        userNumRateLimit: a.userNumRateLimit ?? 10,
        userNumTestRateLimit: a.userNumTestRateLimit ?? 1,
        mixRateLimit: a.mixRateLimit ?? 100,
        mixTestRateLimit: a.mixTestRateLimit ?? 10,
      };
      if (!ROOM_APP_LIMIT_CODES.includes(cfg.roomAppLimitCode)) throw new RangeError(`app ${a.appId}: roomAppLimitCode must be 206 or 7`);
      for (const lim of [
        cfg.rateLimit,
        cfg.testRateLimit,
        cfg.listRateLimit,
        cfg.userNumRateLimit,
        cfg.userNumTestRateLimit,
        cfg.mixRateLimit,
        cfg.mixTestRateLimit,
      ]) {
        if (!Number.isInteger(lim) || lim < 0) throw new RangeError(`app ${a.appId}: rate limits must be non-negative integers`);
      }
      this.#apps.set(a.appId, {
        cfg,
        limiter: apiWindows(),
        statsAll: apiWindows(),
        statsAdmitted: apiWindows(),
        roomArrivals: new Map(),
        lastRoomSweepMs: -Infinity,
      });
    }
    this.#streams = streams;
    this.#stats = stats;
    this.#clock = clock;
    this.#faults = faults;
    this.#rooms = rooms;
    this.#random = random;
    this.#mix = mix;
  }

  /** Simulator wall clock in epoch ms (real wall clock + the clockOffsetMs fault). */
  wallMs(): number {
    return this.#clock.wallMs() + this.#faults().clockOffsetMs;
  }

  /**
   * Step 1, on arrival. Every arrival naming a known AppId counts against that AppId's window,
   * including ones that will fail later checks and ones that are themselves throttled: a client
   * that keeps hammering while throttled stays throttled. (Whether the real service counts
   * throttled calls is not documented; counting them is the stricter reading.) Each API has its
   * own window. The per-room rule of DescribeSimpleStreamList is counted on arrival the same way:
   * any arrival for a room within 10 s of the previous one for it breaks the rule.
   */
  admit(q: URLSearchParams): Admission {
    const action = actionOf(q);
    this.#stats.arrival(q, action);
    const appId = parseAppId(q.get('AppId'));
    const app = appId === null ? undefined : this.#apps.get(appId);
    if (app === undefined) return { app: null, throttled: false, badAppId: appId === null };
    const env = envOf(q);
    const now = this.#clock.monoMs();
    const { cfg } = app;
    let limit: number;
    if (action === 'DescribeSimpleStreamList') {
      // Another caller of the list API on the same AppID, as the squeeze below is for the stream API.
      const squeeze = this.#faults().listThrottleRate;
      limit = squeeze === null ? cfg.listRateLimit : Math.min(cfg.listRateLimit, squeeze);
    } else if (action === 'DescribeUserNum') limit = env === 'test' ? cfg.userNumTestRateLimit : cfg.userNumRateLimit;
    else if (action === 'GetMixTaskInfo') limit = env === 'test' ? cfg.mixTestRateLimit : cfg.mixRateLimit;
    else {
      // The squeeze fault stands for another caller of DescribeRTCStreamState on the same AppID.
      const squeeze = this.#faults().throttleRate;
      const configured = env === 'test' ? cfg.testRateLimit : cfg.rateLimit;
      limit = squeeze === null ? configured : Math.min(configured, squeeze);
    }
    const count = app.limiter[action][env].add(now);
    const throttled = count > limit;
    const all = app.statsAll[action][env].add(now);
    const admitted = throttled ? app.statsAdmitted[action][env].count(now) : app.statsAdmitted[action][env].add(now);
    // DescribeRTCStreamState keeps its key of before rooms, so existing readers of the stats still work.
    const key = action === 'DescribeRTCStreamState' ? `${cfg.appId}:${env}` : `${cfg.appId}:${env}:${action}`;
    this.#stats.admission(key, action, throttled, all, admitted);
    const roomId = q.get('RoomId');
    if (action !== 'DescribeSimpleStreamList' || roomId === null) return { app, throttled };
    this.#sweepRooms(app, now);
    const roomKey = `${env}:${roomId}`;
    const last = app.roomArrivals.get(roomKey);
    app.roomArrivals.set(roomKey, now);
    const roomRuleBroken = last !== undefined && now - last < ROOM_RULE_MS;
    if (roomRuleBroken) this.#stats.roomRuleViolation();
    return { app, throttled, roomRuleBroken };
  }

  /** Steps 2–7. With `forceCode` set, the request is answered with it and has no other effect. */
  respond(q: URLSearchParams, admission: Admission): Envelope {
    const forced = this.#faults().forceCode;
    let env: Envelope;
    if (forced !== null) {
      this.#stats.fault('forced');
      env = this.#envelope(forced, MESSAGES[forced] ?? 'simulated error');
    } else if (admission.app !== null && !admission.throttled && q.get('Action') === 'DescribeSimpleStreamList' && this.#roll154()) {
      this.#stats.fault('listFailure');
      env = this.#fail(CODES.LIST_FAILED);
    } else if (admission.app !== null && !admission.throttled && q.get('Action') === 'GetMixTaskInfo' && this.#rollMixFailure()) {
      this.#stats.fault('mixFailure');
      env = this.#fail(CODES.MIX_FAILED);
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

  /** The Actions whose service is not enabled (answered 100000017); replaces the set. */
  setDisabledActions(actions: readonly SimAction[]): void {
    this.#disabled.clear();
    for (const a of actions) this.#disabled.add(a);
  }

  disabledActions(): SimAction[] {
    return ACTIONS.filter((a) => this.#disabled.has(a));
  }

  resetStatsWindows(): void {
    for (const app of this.#apps.values()) {
      for (const a of ACTIONS) {
        for (const e of ['production', 'test'] as const) {
          app.statsAll[a][e].clear();
          app.statsAdmitted[a][e].clear();
        }
      }
    }
  }

  #envelope(code: number, message: string, data: Record<string, unknown> = {}): Envelope {
    return { Code: code, Message: message, RequestId: String(++this.#requestId), Data: data };
  }

  #fail(code: number, message = MESSAGES[code] ?? 'error'): Envelope {
    return this.#envelope(code, message);
  }

  #validate(q: URLSearchParams, { app, throttled, roomRuleBroken, badAppId }: Admission): Envelope {
    const action = q.get('Action');
    if (throttled) {
      if (action === 'DescribeSimpleStreamList' || action === 'DescribeUserNum') return this.#fail(app?.cfg.roomAppLimitCode ?? CODES.ROOM_APP_QPS);
      if (action === 'GetMixTaskInfo') return this.#fail(CODES.MIX_OVERLOAD);
      return this.#fail(CODES.RATE);
    }
    if (roomRuleBroken === true) return this.#fail(CODES.ROOM_QPS);

    // The gateway's own checks, every Action alike (return-codes.mdx, 1000000xx).
    if (action === null || action === '') return this.#fail(CODES.ACTION_EMPTY);
    if (!(ACTIONS as readonly string[]).includes(action)) return this.#fail(CODES.ACTION_UNSUPPORTED);
    const version = q.get('SignatureVersion');
    if (version === null || version === '') return this.#fail(CODES.VERSION_EMPTY);
    if (version !== '2.0') return this.#fail(CODES.VERSION_UNSUPPORTED);
    const tsGiven = q.get('Timestamp');
    if (tsGiven === null || tsGiven === '') return this.#fail(CODES.TIMESTAMP_EMPTY);
    if (!DECIMAL_RE.test(tsGiven) || tsGiven.length > 12) return this.#fail(CODES.TIMESTAMP_FORMAT);
    if ((q.get('SignatureNonce') ?? '') === '') return this.#fail(CODES.NONCE_EMPTY);
    if ((q.get('Signature') ?? '') === '') return this.#fail(CODES.SIGNATURE_EMPTY);

    if (app === null) return this.#fail(badAppId === true ? CODES.APP_ID_FORMAT : CODES.UNKNOWN_APP);
    const { cfg } = app;

    const nonce = q.get('SignatureNonce');
    if (nonce === null || !NONCE_RE.test(nonce)) {
      return action === 'DescribeRTCStreamState'
        ? this.#fail(CODES.AUTH, 'Authentication failed: SignatureNonce must be 16 hex characters')
        : this.#fail(CODES.SIGNATURE_ERROR);
    }

    // The room APIs' own table has no timestamp or signature codes: they answer the gateway's.
    const room = action !== 'DescribeRTCStreamState';
    const ts = Number(tsGiven);
    if (Math.abs(ts - this.wallMs() / 1000) > TIMESTAMP_SKEW_S) return this.#fail(room ? CODES.SIGNATURE_EXPIRED : CODES.TIMESTAMP);

    const expected = signature(cfg.appId, nonce, cfg.secret, ts);
    if (!constantTimeEqual(q.get('Signature') ?? '', expected)) return this.#fail(room ? CODES.SIGNATURE_ERROR : CODES.AUTH);

    if (this.#disabled.has(action as SimAction)) return this.#fail(CODES.SERVICE_NOT_ENABLED);

    // GetMixTaskInfo's page names no IsTest code: it answers the gateway's "not configured for production".
    const isTestCode = action === 'GetMixTaskInfo' ? CODES.NOT_PRODUCTION : CODES.IS_TEST;
    const isTest = q.get('IsTest')?.toLowerCase() ?? null;
    if (isTest === null && cfg.isTestRequired) return this.#fail(isTestCode, 'IsTest is required for this app');
    if (isTest !== null && isTest !== 'true' && isTest !== 'false') return this.#fail(isTestCode);
    const env: Env = isTest === 'true' ? 'test' : 'production';
    if (env === 'production' && !cfg.production) return this.#fail(isTestCode);

    if (action === 'DescribeSimpleStreamList') return this.#streamList(q, cfg.emptyRoomList);
    if (action === 'DescribeUserNum') return this.#userNum(q);
    if (action === 'GetMixTaskInfo') return this.#mixTaskInfo(q);

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

  /**
   * Room ids are taken as sent in both environments (whether the real test environment prefixes
   * them is unconfirmed); listed stream ids are the table's, prefixed in the test environment.
   * An id breaking the room id rule gets BAD_REQUEST: the docs name no code for it.
   */
  #streamList(q: URLSearchParams, emptyRoomList: boolean): Envelope {
    const all = q.getAll('RoomId');
    const roomId = all[0];
    if (all.length !== 1 || roomId === undefined || !isValidRoomId(roomId)) return this.#fail(CODES.ROOM_BAD_PARAMETER, 'bad parameter: RoomId');
    const list = this.#rooms.list(roomId);
    // Nobody publishing and nobody in it: ZEGO has destroyed the room (or never had it).
    if (list.length === 0 && !this.#rooms.hasUsers(roomId) && !emptyRoomList) return this.#fail(CODES.ROOM_NOT_EXIST);
    return this.#envelope(CODES.OK, 'ok', { StreamList: list });
  }

  /**
   * 1 to 10 rooms as `RoomId[]`; every room asked for is listed, a room that does not exist with 0.
   * AdminUserCount is left out when it is 0, as the docs allow ("if the room has no such users,
   * ignore this parameter").
   */
  #userNum(q: URLSearchParams): Envelope {
    const roomIds = q.getAll('RoomId[]');
    if (roomIds.length < 1 || roomIds.length > MAX_ROOMS_PER_USER_NUM) {
      return this.#fail(CODES.ROOM_BAD_PARAMETER, `bad parameter: RoomId[] must name 1 to ${MAX_ROOMS_PER_USER_NUM} rooms`);
    }
    if (!roomIds.every(isValidRoomId)) return this.#fail(CODES.ROOM_BAD_PARAMETER, 'bad parameter: RoomId[]');
    this.#stats.userNumRooms(roomIds.length);
    const list = roomIds.map((id) => {
      const c = this.#rooms.counts(id);
      return c.adminUserCount === 0 ? { RoomId: id, UserCount: c.userCount } : { RoomId: id, UserCount: c.userCount, AdminUserCount: c.adminUserCount };
    });
    return this.#envelope(CODES.OK, 'ok', { UserCountList: list });
  }

  /**
   * GetMixTaskInfo: `Data.TaskInfo{TaskId, MixDuration}` for a running task, 110209001 for any
   * other (stopped, crashed, ended by itself, never started). TaskId is the customer's own, without
   * the AppID prefix callbacks carry; one missing or breaking the task id rule fails to parse.
   */
  #mixTaskInfo(q: URLSearchParams): Envelope {
    const all = q.getAll('TaskId');
    const taskId = all[0];
    if (all.length !== 1 || taskId === undefined || !isValidMixTaskId(taskId))
      return this.#fail(CODES.MIX_BAD_PARAMETER, 'failed to parse input parameters: TaskId');
    this.#stats.mixTaskCall(taskId);
    const info = this.#mix?.info(taskId);
    if (info === undefined) return this.#fail(CODES.MIX_NOT_EXIST);
    return this.#envelope(CODES.OK, 'success', { TaskInfo: { TaskId: taskId, MixDuration: info.mixDuration } });
  }

  #rollMixFailure(): boolean {
    const p = this.#faults().mixFailure;
    return p > 0 && this.#random() < p;
  }

  #roll154(): boolean {
    const p = this.#faults().listFailure;
    return p > 0 && this.#random() < p;
  }

  /** Room arrivals older than the rule's window can no longer break it. */
  #sweepRooms(app: AppState, now: number): void {
    if (now - app.lastRoomSweepMs < ROOM_RULE_MS) return;
    app.lastRoomSweepMs = now;
    for (const [k, at] of app.roomArrivals) if (now - at >= ROOM_RULE_MS) app.roomArrivals.delete(k);
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
