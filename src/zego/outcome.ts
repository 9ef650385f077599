/**
 * The one type for what a probe learned. Produced in zego/, consumed in state/ and the scheduler;
 * nothing outside zego/ interprets ZEGO codes.
 */
export type ProbeOutcome =
  | { kind: 'active'; createTimeSec: number | null }
  | { kind: 'closed'; createTimeSec: number | null; closeTimeSec: number | null }
  | { kind: 'not_found' }
  | FailedOutcome;

/** A call that told us nothing about its subject; shared by every Action. */
export interface FailedOutcome {
  kind: 'failed';
  reason: FailureReason;
  message: string;
}

/** What every call reports besides its outcome, whatever the Action. */
export interface ApiCallMeta {
  /** ZEGO Code as a string, or timeout / network / http_5xx / bad_response. */
  code: string;
  /** Wall-clock ms when the request was handed to the network. */
  sentAtMs: number;
  durationMs: number;
  requestId?: string;
}

/** One probe (DescribeRTCStreamState): what it learned, the code it got and when it was sent. */
export interface ProbeResult extends ApiCallMeta {
  outcome: ProbeOutcome;
}

/**
 * One stream of a DescribeSimpleStreamList answer. `streamId` is the bare id (the test prefix
 * stripped); `createTimeSec` is Unix seconds whether the API sent seconds or milliseconds.
 */
export interface ListedStream {
  streamId: string;
  createTimeSec: number;
  userId?: string;
  streamNumberId?: number;
}

/**
 * DescribeSimpleStreamList for one room. `ok` carries the complete list (empty for an empty or
 * unknown room); an answer with any invalid entry is `failed` with code `bad_response`, so a
 * partial list never makes streams look closed.
 */
export type RoomStreamsOutcome = { kind: 'ok'; streams: readonly ListedStream[] } | FailedOutcome;

export interface RoomStreamsResult extends ApiCallMeta {
  /** The room as configured (and as sent). */
  roomId: string;
  outcome: RoomStreamsOutcome;
}

/** Users in one room: `adminUserCount` is included in `userCount`, as the API counts. */
export interface RoomUserCount {
  roomId: string;
  userCount: number;
  adminUserCount: number;
}

/**
 * DescribeUserNum for 1..10 rooms. `ok` carries exactly one count per requested room, in request
 * order; a room the API did not list counts 0 (the API's reading of a room that does not exist).
 */
export type UserCountOutcome = { kind: 'ok'; counts: readonly RoomUserCount[] } | FailedOutcome;

export interface UserCountResult extends ApiCallMeta {
  /** The rooms asked for, as configured (and as sent). */
  roomIds: readonly string[];
  outcome: UserCountOutcome;
}

/**
 * Why a call told us nothing about its subject. `throttled`, `clock_skew`, `auth` and `config`
 * concern the whole AppID; `stream_config` only this stream; `room_throttled` (a room API's room
 * QPS limit) only this room, never the API's budget; `transient` and `error` are worth retrying
 * at the normal pace.
 */
export type FailureReason = 'throttled' | 'room_throttled' | 'clock_skew' | 'auth' | 'config' | 'stream_config' | 'transient' | 'error';

/** The `outcome` label of zego_exporter_api_requests_total (`ok`: a room API answered). */
export type OutcomeLabel = 'active' | 'closed' | 'not_found' | 'ok' | FailureReason;

export function outcomeLabel(o: ProbeOutcome | RoomStreamsOutcome | UserCountOutcome): OutcomeLabel;
/** Any Action's outcome: its reason when it failed, else its kind (the row's parser names those). */
export function outcomeLabel(o: { kind: string } | FailedOutcome): string;
export function outcomeLabel(o: { kind: string; reason?: string }): string {
  return o.kind === 'failed' && o.reason !== undefined ? o.reason : o.kind;
}
