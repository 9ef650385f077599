import type { FailureReason } from './outcome.js';
import { isApiAction, type ApiAction } from './protocol.js';

/**
 * ZEGO's return codes by API family, as its docs list them (`return-codes.mdx` and each API's
 * page; see ../shared notes "Response" and "Room APIs"). One row per documented code and family:
 * the reading, what the code means, and where the docs say so. Nothing outside zego/ interprets a
 * Code: everything reads the class this table gives.
 */

/** Which part of ZEGO's code space an Action answers from. The gateway's codes apply to every Action. */
export type CodeFamily = 'gateway' | 'stream_state' | 'room' | 'mix';

/**
 * What a Code means to the exporter. The stream readings (`active`, `closed`, `not_found`) only
 * for DescribeRTCStreamState and, for GetMixTaskInfo, `active` (the task runs) and `not_found` (it
 * does not exist: ended or never started); `ok` and `room_absent` (the room does not exist: nobody is in it)
 * only for the room APIs; the rest are why a call told us nothing (see FailureReason).
 */
export type CodeClass = 'active' | 'closed' | 'not_found' | 'ok' | 'room_absent' | FailureReason;

export interface CodeRow {
  code: number;
  family: CodeFamily;
  cls: CodeClass;
  meaning: string;
  /** The docs page (and section) the row comes from. */
  doc: string;
}

const RETURN_CODES = 'return-codes.mdx (global return codes)';
const STREAM_STATE_PAGE = 'DescribeRTCStreamState page, Response';
const ROOM_CODES = 'return-codes.mdx (room signalling)';
const LIST_PAGE = 'DescribeSimpleStreamList page';
const MIX_PAGE = 'GetMixTaskInfo page, Response';

/** Every Action this table can read the codes of. */
export type CodedAction = ApiAction;

const row = (code: number, family: CodeFamily, cls: CodeClass, meaning: string, doc: string): CodeRow => ({ code, family, cls, meaning, doc });

export const CODE_TABLE: readonly CodeRow[] = [
  // Gateway: every Action. Only 100000004 (expired), 100000005 (signature) and 100000015 (internal)
  // can change without the operator; every other one stays until someone fixes the setup.
  row(100000000, 'gateway', 'config', 'host header error', RETURN_CODES),
  row(100000001, 'gateway', 'config', 'AppId format error', RETURN_CODES),
  row(100000002, 'gateway', 'config', 'Timestamp empty', RETURN_CODES),
  row(100000003, 'gateway', 'config', 'Timestamp format error', RETURN_CODES),
  row(100000004, 'gateway', 'clock_skew', 'signature expired (Timestamp out of the 10 min window)', RETURN_CODES),
  row(100000005, 'gateway', 'auth', 'signature error', RETURN_CODES),
  row(100000006, 'gateway', 'config', 'Action empty', RETURN_CODES),
  row(100000007, 'gateway', 'config', 'Action not supported', RETURN_CODES),
  row(100000008, 'gateway', 'config', 'SignatureNonce empty', RETURN_CODES),
  row(100000009, 'gateway', 'config', 'Signature empty', RETURN_CODES),
  row(100000010, 'gateway', 'config', 'failed to get the ServerSecret (unknown AppId)', RETURN_CODES),
  row(100000011, 'gateway', 'config', 'failed to get the app configuration', RETURN_CODES),
  row(100000013, 'gateway', 'config', 'SignatureVersion empty', RETURN_CODES),
  row(100000014, 'gateway', 'config', 'SignatureVersion not supported', RETURN_CODES),
  row(100000015, 'gateway', 'transient', 'gateway internal error', RETURN_CODES),
  row(100000016, 'gateway', 'config', 'app not configured for production (IsTest)', RETURN_CODES),
  row(100000017, 'gateway', 'config', 'service not enabled for this app', RETURN_CODES),
  // DescribeRTCStreamState.
  row(0, 'stream_state', 'active', 'stream exists and is active', STREAM_STATE_PAGE),
  row(41006, 'stream_state', 'closed', 'stream exists but closed (stream status history permission only)', STREAM_STATE_PAGE),
  row(41004, 'stream_state', 'not_found', 'StreamId does not exist (or closed, without the history permission)', STREAM_STATE_PAGE),
  row(30002, 'stream_state', 'throttled', 'call rate too high', RETURN_CODES),
  row(1010, 'stream_state', 'throttled', 'call rate too high', RETURN_CODES),
  row(5007, 'stream_state', 'throttled', 'call rate too high', RETURN_CODES),
  row(3002, 'stream_state', 'clock_skew', 'timestamp error', RETURN_CODES),
  row(40005, 'stream_state', 'auth', 'authentication failed', RETURN_CODES),
  row(5003, 'stream_state', 'auth', 'authentication failed', RETURN_CODES),
  row(30004, 'stream_state', 'config', 'wrong IsTest', RETURN_CODES),
  row(30005, 'stream_state', 'config', 'invalid AppId', RETURN_CODES),
  row(3000, 'stream_state', 'config', 'invalid App', RETURN_CODES),
  row(30009, 'stream_state', 'stream_config', 'StreamId does not follow the naming rules', RETURN_CODES),
  row(3001, 'stream_state', 'transient', 'internal error', RETURN_CODES),
  row(30003, 'stream_state', 'transient', 'internal error', RETURN_CODES),
  row(5000, 'stream_state', 'transient', 'internal error', RETURN_CODES),
  row(5001, 'stream_state', 'transient', 'internal error', RETURN_CODES),
  row(5002, 'stream_state', 'transient', 'internal error', RETURN_CODES),
  row(5006, 'stream_state', 'transient', 'internal error', RETURN_CODES),
  // Room signalling: DescribeSimpleStreamList, DescribeUserNum.
  row(0, 'room', 'ok', 'success', ROOM_CODES),
  row(1, 'room', 'transient', 'failed / busy', ROOM_CODES),
  row(2, 'room', 'error', 'bad parameter', ROOM_CODES),
  row(3, 'room', 'config', 'verification failed', ROOM_CODES),
  row(7, 'room', 'throttled', 'over the per-second limit', ROOM_CODES),
  row(9, 'room', 'config', 'no permission', ROOM_CODES),
  row(104, 'room', 'room_absent', 'room does not exist', ROOM_CODES),
  row(154, 'room', 'transient', 'failed to get the list information', LIST_PAGE),
  row(206, 'room', 'throttled', 'AppID QPS limit', ROOM_CODES),
  row(207, 'room', 'room_throttled', 'room QPS limit', ROOM_CODES),
  row(5024, 'room', 'room_absent', 'room does not exist', ROOM_CODES),
  row(50001, 'room', 'room_absent', 'room does not exist', ROOM_CODES),
  row(50002, 'room', 'error', 'user does not exist', ROOM_CODES),
  // Stream mixing: GetMixTaskInfo (its page lists these; the gateway's codes apply as everywhere).
  row(0, 'mix', 'active', 'the mix task is running', MIX_PAGE),
  row(110200001, 'mix', 'transient', 'failed (generally a network error: retry)', MIX_PAGE),
  row(110200004, 'mix', 'error', 'failed to parse the input parameters', MIX_PAGE),
  row(110200194, 'mix', 'throttled', 'stream mixing request overload', MIX_PAGE),
  row(110209001, 'mix', 'not_found', 'the mix task does not exist (ended or never started)', MIX_PAGE),
];

/** Which family an Action answers from besides the gateway (the Actions table, api/actions.ts, reads it). */
export const CODE_FAMILY: Readonly<Record<CodedAction, CodeFamily>> = {
  DescribeRTCStreamState: 'stream_state',
  DescribeSimpleStreamList: 'room',
  DescribeUserNum: 'room',
  GetMixTaskInfo: 'mix',
};

const BY_FAMILY = new Map<CodeFamily, ReadonlyMap<number, CodeRow>>();
for (const r of CODE_TABLE) {
  const m = (BY_FAMILY.get(r.family) ?? new Map<number, CodeRow>()) as Map<number, CodeRow>;
  m.set(r.code, r);
  BY_FAMILY.set(r.family, m);
}

/** The row of a Code as `api` answers it (its family's, else the gateway's), or undefined for an undocumented code. */
export function codeRow(api: CodedAction, code: number): CodeRow | undefined {
  return familyRow(CODE_FAMILY[api], code);
}

/** The row of a Code in `family` (else the gateway's): for an Action the table adds outside CODE_FAMILY. */
export function familyRow(family: CodeFamily, code: number): CodeRow | undefined {
  return BY_FAMILY.get(family)?.get(code) ?? BY_FAMILY.get('gateway')?.get(code);
}

/**
 * How `api` reads a Code. An undocumented code is `error`, retried at the normal pace: it tells us
 * nothing about the subject, and guessing a state from it could flip a stream or a room.
 */
export function classify(api: CodedAction, code: number): CodeClass {
  return codeRow(api, code)?.cls ?? 'error';
}

/**
 * The `code` label value of a Code: its own for the codes the table lists for `api`, one shared
 * `other` for the rest, so a broken or hostile server cannot grow the series set (the Message
 * keeps the code).
 */
export function codeLabel(api: CodedAction, code: number): string {
  return codeRow(api, code) === undefined ? 'other' : String(code);
}

/**
 * What the operator must do about a configuration error (a `config` row), in one line: the log
 * line and the landing page say it. `appId` is shown (it is not a secret).
 */
export function configErrorAdvice(api: string, code: number, appId: number): string {
  switch (code) {
    case 100000017:
      return `ZEGO says this service is not enabled for AppID ${appId}: ask ZEGO to enable ${api}`;
    case 100000010:
      return `ZEGO finds no ServerSecret for AppID ${appId}: check zego.app_id (and that the endpoint is the AppID's region)`;
    case 100000011:
      return `ZEGO cannot read the configuration of AppID ${appId}: check zego.app_id, or ask ZEGO support`;
    case 100000016:
    case 30004:
      return `AppID ${appId} is not configured for the environment asked for: set zego.is_test to match the app (test environment until launch)`;
    case 100000001:
    case 30005:
    case 3000:
      return `ZEGO rejects AppID ${appId}: check zego.app_id`;
    case 9:
      return `ZEGO says AppID ${appId} has no permission for ${api}: ask ZEGO to grant it`;
    case 3:
      return `ZEGO's verification of ${api} failed for AppID ${appId}: check zego.app_id and zego.server_secret`;
    default:
      return `ZEGO rejects ${api} requests as malformed (${(isApiAction(api) ? codeRow(api, code) : familyRow('gateway', code))?.meaning ?? `code ${code}`}): check zego.endpoint; if it persists, report it as an exporter bug`;
  }
}
