import type { ZegoConfig } from '../config/types.js';
import { CODE_FAMILY, type CodeFamily } from '../zego/codes.js';
import type { ApiCallMeta, FailedOutcome, ProbeResult, RoomStreamsResult, UserCountResult } from '../zego/outcome.js';
import { apiStreamId, MAX_ROOMS_PER_USER_NUM, type ApiAction } from '../zego/protocol.js';
import { parseMixTaskInfoResponse, type MixTaskOutcome } from '../zego/mix-response.js';
import { parseResponse, parseStreamListResponse, parseUserNumResponse, type IdContext, type Parsed } from '../zego/response.js';

/**
 * The ZEGO Actions the exporter calls, one row each: everything the client, the budget, the
 * config reader and the self-metrics need to know about an Action is here and nowhere else.
 * Adding an Action is a row (the product's in ACTIONS; a test's through the Exporter's `actions`
 * option), then `ctx.api(name)` in the part that spends it.
 */

/** Query parameters of one call beyond the signed common ones, in order (a key may repeat). */
export type Params = readonly (readonly [string, string])[];

/** A limit per AppID, as ZEGO documents it for each environment. */
export interface Limits {
  production: number;
  /** The test environment's (zego.is_test). */
  test: number;
}

/** Every Action's answer: the metadata every call reports and an outcome (`failed` for any Action). */
export type CallResult<O extends { kind: string } = { kind: string }> = ApiCallMeta & { outcome: O | FailedOutcome };

/** What a row's reader is told about the call it reads. */
export interface ReadContext<I> {
  input: I;
  ids: IdContext;
  /** When the request was handed to the network (wall clock, ms). */
  sentAtMs: number;
}

/** How the config sets an Action's budget: a `zego.<key>` read into ZegoConfig[field], with a default per environment. */
export interface RateKey {
  key: string;
  field: 'rateLimit' | 'streamListRateLimit' | 'userNumRateLimit' | 'mixTaskInfoRateLimit';
  default: Limits;
  /** How the config error names the limit ("the API" for rate_limit, as it always said). */
  limitOf: string;
}

export interface ActionRow<I = unknown, R extends CallResult = CallResult> {
  /** The Action query parameter, and the `api` label of the self-metrics. */
  name: string;
  /** Appended to zego.endpoint ('' today: every Action is served by the configured endpoint). */
  path: string;
  method: 'GET';
  /** ZEGO's own ceiling per AppID: no budget is paced above it, and no config may ask for more. */
  limit: Limits;
  /** ZEGO's rule per subject of a call (DescribeSimpleStreamList: one call per room per 10 s), in ms. */
  perSubjectMs?: number;
  /** The budget when the config sets none: a config key (with its default) or a fixed rate (an Action without a key). */
  rate: RateKey | { default: Limits };
  /** Carries `Sequence` (the process's counter, or the fleet's when the gate hands one out). */
  sequence: boolean;
  /** Largest response body read; a larger one is `bad_response`. */
  maxBodyBytes: number;
  /** Which part of ZEGO's code space it answers from besides the gateway's (zego/codes.ts). */
  codes: CodeFamily;
  /** The Action's own parameters for one input (may throw RangeError for an input that is a bug). */
  params(input: I, ids: IdContext): Params;
  /** Any HTTP status and body → the outcome; never throws. */
  parse(status: number, body: string, ctx: ReadContext<I>): Parsed<R['outcome']>;
  /** The call's result with what the caller needs besides the answer (the room it asked for); failures included. */
  result(call: ApiCallMeta & { outcome: R['outcome'] }, input: I): R;
}

/** Every answer but a room's stream list is a few hundred bytes: 64 KiB is room to spare. */
export const MAX_BODY_BYTES = 64 * 1024;
/**
 * DescribeSimpleStreamList answers with every stream of the room. ZEGO documents no limit on the
 * streams of one room, so the cap is sized for far more than a real room: an entry with every field
 * at its largest (256-byte StreamId, 64-byte UserId, 256-byte UserName, times, JSON) is ~700 bytes,
 * so 1 MiB holds ~1 500 of them; a 600-stream room of ordinary ids is ~76 KB. It does not depend
 * on probe.max_room_streams: a room is read whole or not at all (a list with a hole would close
 * the missing streams).
 */
export const MAX_STREAM_LIST_BYTES = 1024 * 1024;

/** A GetMixTaskInfo call's result, with the task it asked about. */
export type MixTaskResult = CallResult<MixTaskOutcome> & { taskId: string };

/** A row whose types the table checks. */
export function action<I, R extends CallResult>(row: ActionRow<I, R>): ActionRow<I, R> {
  return row;
}

/**
 * The product's Actions (zego-api-notes.md gives each limit). The default budgets leave headroom
 * under each limit: the AppID's budget is shared with the customer's other callers.
 */
/** DescribeSimpleStreamList: at most one call per room per 10 s (its row's perSubjectMs; the rooms' hold and shortest interval). */
export const ROOM_LIST_HOLD_MS = 10_000;

export const ACTIONS = {
  DescribeRTCStreamState: action<string, ProbeResult>({
    name: 'DescribeRTCStreamState',
    path: '',
    method: 'GET',
    limit: { production: 40, test: 10 },
    rate: { key: 'rate_limit', field: 'rateLimit', default: { production: 30, test: 8 }, limitOf: 'the API' },
    sequence: true,
    maxBodyBytes: MAX_BODY_BYTES,
    codes: CODE_FAMILY.DescribeRTCStreamState,
    params: (streamId, ids) => [['StreamId', apiStreamId(streamId, ids.appId, ids.isTest)]],
    parse: (status, body, ctx) => parseResponse(status, body, ctx.sentAtMs),
    result: (call) => call,
  }),
  /** The room id is sent as configured; listed stream ids lose the test prefix. */
  DescribeSimpleStreamList: action<string, RoomStreamsResult>({
    name: 'DescribeSimpleStreamList',
    path: '',
    method: 'GET',
    limit: { production: 50, test: 50 },
    perSubjectMs: ROOM_LIST_HOLD_MS,
    rate: { key: 'stream_list_rate_limit', field: 'streamListRateLimit', default: { production: 40, test: 40 }, limitOf: 'DescribeSimpleStreamList' },
    sequence: false,
    maxBodyBytes: MAX_STREAM_LIST_BYTES,
    codes: CODE_FAMILY.DescribeSimpleStreamList,
    params: (roomId) => [['RoomId', roomId]],
    parse: (status, body, ctx) => parseStreamListResponse(status, body, ctx.ids, ctx.sentAtMs),
    result: (call, roomId) => ({ ...call, roomId }),
  }),
  /**
   * Users in 1..10 rooms (`RoomId[]` repeated). 0 or more than 10 rooms is a RangeError: batching
   * is the caller's job and a wrong batch is a bug, not an answer.
   */
  DescribeUserNum: action<readonly string[], UserCountResult>({
    name: 'DescribeUserNum',
    path: '',
    method: 'GET',
    limit: { production: 10, test: 1 },
    rate: { key: 'user_num_rate_limit', field: 'userNumRateLimit', default: { production: 8, test: 1 }, limitOf: 'DescribeUserNum' },
    sequence: false,
    maxBodyBytes: MAX_BODY_BYTES,
    codes: CODE_FAMILY.DescribeUserNum,
    params: (roomIds) => {
      if (roomIds.length < 1 || roomIds.length > MAX_ROOMS_PER_USER_NUM) {
        throw new RangeError(`DescribeUserNum takes 1 to ${MAX_ROOMS_PER_USER_NUM} rooms, got ${roomIds.length}`);
      }
      return roomIds.map((id): [string, string] => ['RoomId[]', id]);
    },
    parse: (status, body, ctx) => parseUserNumResponse(status, body, ctx.input, ctx.ids),
    result: (call, roomIds) => ({ ...call, roomIds: [...roomIds] }),
  }),
  /**
   * One mix task (the id as configured, sent as is: ZEGO prefixes the AppID only in callbacks).
   * 100/s per AppID in production; the test environment's limit is not documented, so the row
   * assumes the strictest figure ZEGO documents for a test environment of a comparable API, 10/s
   * (DescribeRTCStreamState's), which the simulator enforces too (docs/mix-tasks.md).
   */
  GetMixTaskInfo: action<string, MixTaskResult>({
    name: 'GetMixTaskInfo',
    path: '',
    method: 'GET',
    limit: { production: 100, test: 10 },
    rate: { key: 'mix_task_info_rate_limit', field: 'mixTaskInfoRateLimit', default: { production: 80, test: 8 }, limitOf: 'GetMixTaskInfo' },
    sequence: false,
    maxBodyBytes: MAX_BODY_BYTES,
    codes: CODE_FAMILY.GetMixTaskInfo,
    params: (taskId) => [['TaskId', taskId]],
    parse: (status, body, ctx) => parseMixTaskInfoResponse(status, body, ctx.input, ctx.ids.appId),
    result: (call, taskId) => ({ ...call, taskId }),
  }),
} as const satisfies Record<ApiAction, ActionRow<never, CallResult>>;

export type ProductActions = typeof ACTIONS;

/** The input and the result of a product Action's call. */
export type InputOf<A extends ApiAction> = ProductActions[A] extends ActionRow<infer I, CallResult> ? I : never;
export type ResultOf<A extends ApiAction> = ProductActions[A] extends ActionRow<never, infer R> ? R : never;

/** The rows in table order: DescribeRTCStreamState first (the exporter's own API). */
export const ACTION_ROWS: readonly ActionRow<never>[] = Object.values(ACTIONS);

/** The one place that picks a limit for the environment. */
export function forEnv(limits: Limits, isTest: boolean): number {
  return isTest ? limits.test : limits.production;
}

/** The Action's ceiling per AppID in this environment. */
export function limitOf(row: Pick<ActionRow<never>, 'limit'>, isTest: boolean): number {
  return forEnv(row.limit, isTest);
}

/** The Action's configured budget (calls/s): its config key's value, or its fixed default. */
export function configuredRate(row: Pick<ActionRow<never>, 'rate'>, zego: ZegoConfig): number {
  return 'field' in row.rate ? zego[row.rate.field] : forEnv(row.rate.default, zego.isTest);
}
