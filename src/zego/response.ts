import { classify, codeLabel as labelOf } from './codes.js';
import type { FailureReason, ListedStream, ProbeOutcome, RoomStreamsOutcome, RoomUserCount, UserCountOutcome } from './outcome.js';
import { bareStreamId, isValidStreamId, stripTestPrefix, type ApiAction } from './protocol.js';
import { isPlausibleTimeMs, parseApiTime } from './time.js';

/** Any Action's answer, read: an outcome, the `code` label and the RequestId if one came. */
export interface Parsed<O> {
  outcome: O;
  /** The `code` label: the ZEGO Code, or what went wrong before one could be read. */
  code: string;
  requestId?: string;
}

export type ParsedResponse = Parsed<ProbeOutcome>;

type Failed = Parsed<{ kind: 'failed'; reason: FailureReason; message: string }>;

/** The envelope every Action answers with, once a numeric Code was found in it. */
export interface Envelope {
  code: number;
  message: string;
  requestId?: string;
  data: Record<string, unknown>;
}

/**
 * The part every Action shares: HTTP status and body → the envelope, or the failure that stands
 * for it. A reply without a numeric Code is `bad_response`, whatever else it holds, because
 * guessing a state from it could flip a stream or a room.
 */
export function readEnvelope(status: number, body: string): { ok: true; envelope: Envelope } | { ok: false; failed: Failed } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    json = undefined;
  }
  const envelope = isRecord(json) ? json : undefined;
  const code = envelope ? readCode(envelope['Code']) : undefined;
  if (code === undefined) {
    if (status >= 500) return { ok: false, failed: failed(`http_${Math.floor(status / 100)}xx`, 'transient', `HTTP ${status}`) };
    if (status === 429) return { ok: false, failed: failed('http_429', 'throttled', 'HTTP 429') };
    return { ok: false, failed: failed('bad_response', 'error', `HTTP ${status}: response has no numeric Code`) };
  }
  const message = typeof envelope?.['Message'] === 'string' ? envelope['Message'] : '';
  const requestId = typeof envelope?.['RequestId'] === 'string' ? envelope['RequestId'] : undefined;
  const data = isRecord(envelope?.['Data']) ? envelope['Data'] : {};
  return { ok: true, envelope: { code, message, data, ...(requestId === undefined ? {} : { requestId }) } };
}

/**
 * DescribeRTCStreamState: any HTTP status and body → an outcome; never throws.
 */
export function parseResponse(status: number, body: string, nowMs: number = Date.now()): ParsedResponse {
  const read = readEnvelope(status, body);
  if (!read.ok) return read.failed;
  const { code, message, requestId, data } = read.envelope;
  const cls = classify('DescribeRTCStreamState', code);
  const codeLabel = labelOf('DescribeRTCStreamState', code);
  const base = requestId === undefined ? {} : { requestId };

  switch (cls) {
    case 'active': {
      const createTimeSec = parseApiTime(data['create_time']);
      const bad = implausible(nowMs, ['create_time', createTimeSec]);
      if (bad) return { ...base, ...bad };
      return { ...base, code: codeLabel, outcome: { kind: 'active', createTimeSec } };
    }
    case 'closed': {
      const createTimeSec = parseApiTime(data['create_time']);
      const closeTimeSec = parseApiTime(data['close_time']);
      const bad = implausible(nowMs, ['create_time', createTimeSec], ['close_time', closeTimeSec]);
      if (bad) return { ...base, ...bad };
      return { ...base, code: codeLabel, outcome: { kind: 'closed', createTimeSec, closeTimeSec } };
    }
    case 'not_found':
      return { ...base, code: codeLabel, outcome: { kind: 'not_found' } };
    case 'ok':
    case 'room_absent':
      // Room readings: not in this Action's family, so never reached; an error if they were.
      return { ...base, code: codeLabel, outcome: { kind: 'failed', reason: 'error', message: `Code ${code}: ${message}`.trim() } };
    default:
      return { ...base, code: codeLabel, outcome: { kind: 'failed', reason: cls, message: `Code ${code}: ${message}`.trim() } };
  }
}

/** How listed ids are read: the test environment's prefix is stripped from stream ids. */
export interface IdContext {
  appId: number;
  isTest: boolean;
}

/**
 * The room APIs' common start: the envelope, and any Code but success read as its failure. "Room
 * does not exist" (104, 5024, 50001) is a reading, not a failure: ZEGO destroys a room when its
 * last user leaves, so for a watched room it means nobody is there now (`absent`).
 */
function readRoomEnvelope(
  api: ApiAction,
  status: number,
  body: string,
): { ok: true; code: number; absent: boolean; base: { requestId?: string }; data: Record<string, unknown> } | { ok: false; failed: Failed } {
  const read = readEnvelope(status, body);
  if (!read.ok) return read;
  const { code, message, requestId, data } = read.envelope;
  const base = requestId === undefined ? {} : { requestId };
  const cls = classify(api, code);
  if (cls === 'ok' || cls === 'room_absent') return { ok: true, code, absent: cls === 'room_absent', base, data };
  const reason: FailureReason = cls === 'active' || cls === 'closed' || cls === 'not_found' ? 'error' : cls;
  return { ok: false, failed: { ...base, code: labelOf(api, code), outcome: { kind: 'failed', reason, message: `Code ${code}: ${message}`.trim() } } };
}

/**
 * DescribeSimpleStreamList: `Data.StreamList[]` → the room's streams; never throws. One invalid
 * entry (no valid StreamId, no readable or plausible CreateTime, a duplicate) makes the whole
 * answer `bad_response`: a list with a hole would read the missing stream as gone.
 */
export function parseStreamListResponse(status: number, body: string, ids: IdContext, nowMs: number = Date.now()): Parsed<RoomStreamsOutcome> {
  const read = readRoomEnvelope('DescribeSimpleStreamList', status, body);
  if (!read.ok) return read.failed;
  const { code, base, data } = read;
  // A room that does not exist publishes nothing, whatever Data holds; an empty room may come
  // without the list at all; anything else that is not an array is broken.
  const list = read.absent ? [] : (data['StreamList'] ?? []);
  if (!Array.isArray(list)) return { ...base, ...failed('bad_response', 'error', 'Data.StreamList is not an array') };
  const streams: ListedStream[] = [];
  const seen = new Set<string>();
  for (const [i, entry] of list.entries()) {
    const at = `Data.StreamList[${i}]`;
    if (!isRecord(entry)) return { ...base, ...failed('bad_response', 'error', `${at} is not an object`) };
    const apiId = entry['StreamId'];
    if (typeof apiId !== 'string') return { ...base, ...failed('bad_response', 'error', `${at}.StreamId is not a string`) };
    const streamId = bareStreamId(apiId, ids.appId, ids.isTest);
    if (!isValidStreamId(streamId))
      return { ...base, ...failed('bad_response', 'error', `${at}.StreamId ${JSON.stringify(clip(apiId))} breaks the stream id rules`) };
    if (seen.has(streamId)) return { ...base, ...failed('bad_response', 'error', `${at}.StreamId ${JSON.stringify(streamId)} is listed twice`) };
    seen.add(streamId);
    const rawTime = entry['CreateTime'];
    const numeric = typeof rawTime === 'number' || (typeof rawTime === 'string' && /^\d+(\.\d+)?$/.test(rawTime.trim()));
    const createTimeSec = numeric ? parseApiTime(rawTime) : null;
    if (createTimeSec === null) return { ...base, ...failed('bad_response', 'error', `${at}.CreateTime is not a positive number`) };
    const bad = implausible(nowMs, [`${at}.CreateTime`, createTimeSec]);
    if (bad) return { ...base, ...bad };
    const s: ListedStream = { streamId, createTimeSec };
    if (typeof entry['UserId'] === 'string') s.userId = entry['UserId'];
    const num = entry['StreamNumberId'];
    if (typeof num === 'number' && Number.isSafeInteger(num)) s.streamNumberId = num;
    streams.push(s);
  }
  return { ...base, code: labelOf('DescribeSimpleStreamList', code), outcome: { kind: 'ok', streams } };
}

/**
 * DescribeUserNum: `Data.UserCountList[]` → one count per requested room, in request order; never
 * throws. A requested room missing from the list counts 0 (the API's reading of a room that does
 * not exist); rooms not asked for are ignored. An entry without a string RoomId or with a count
 * that is not a non-negative integer (an absent AdminUserCount is 0), or a room listed twice, makes
 * the answer `bad_response`.
 * A RoomId carrying the test prefix matches the bare room (whether ZEGO adds it is unconfirmed).
 */
export function parseUserNumResponse(status: number, body: string, roomIds: readonly string[], ids: IdContext): Parsed<UserCountOutcome> {
  // "Room does not exist" here: what is listed counts, every other room asked for counts 0 (the
  // docs' reading of a room that does not exist); whether ZEGO answers it for a batch is undocumented.
  const read = readRoomEnvelope('DescribeUserNum', status, body);
  if (!read.ok) return read.failed;
  const { code, base, data } = read;
  const list = data['UserCountList'] ?? [];
  if (!Array.isArray(list)) return { ...base, ...failed('bad_response', 'error', 'Data.UserCountList is not an array') };
  const byRoom = new Map<string, RoomUserCount>();
  for (const [i, entry] of list.entries()) {
    const at = `Data.UserCountList[${i}]`;
    if (!isRecord(entry)) return { ...base, ...failed('bad_response', 'error', `${at} is not an object`) };
    const listed = entry['RoomId'];
    if (typeof listed !== 'string' || listed === '') return { ...base, ...failed('bad_response', 'error', `${at}.RoomId is not a non-empty string`) };
    const userCount = readCount(entry['UserCount']);
    if (userCount === undefined) return { ...base, ...failed('bad_response', 'error', `${at}.UserCount is not a non-negative integer`) };
    // The docs: "if the room has no such users, ignore this parameter": absent is 0, present must be valid.
    const adminUserCount = entry['AdminUserCount'] === undefined ? 0 : readCount(entry['AdminUserCount']);
    if (adminUserCount === undefined) return { ...base, ...failed('bad_response', 'error', `${at}.AdminUserCount is not a non-negative integer`) };
    if (userCount > MAX_PLAUSIBLE_USERS) return { ...base, ...failed('bad_response', 'error', `${at}.UserCount ${userCount} is above ${MAX_PLAUSIBLE_USERS}`) };
    if (adminUserCount > userCount)
      return {
        ...base,
        ...failed('bad_response', 'error', `${at}.AdminUserCount ${adminUserCount} is above UserCount ${userCount} (admins are counted in it)`),
      };
    const roomId = roomIds.includes(listed) ? listed : (ids.isTest && stripTestPrefix(listed, ids.appId)) || listed;
    if (byRoom.has(roomId)) return { ...base, ...failed('bad_response', 'error', `${at}.RoomId ${JSON.stringify(clip(roomId))} is listed twice`) };
    byRoom.set(roomId, { roomId, userCount, adminUserCount });
  }
  const counts = roomIds.map((roomId) => byRoom.get(roomId) ?? { roomId, userCount: 0, adminUserCount: 0 });
  return { ...base, code: labelOf('DescribeUserNum', code), outcome: { kind: 'ok', counts } };
}

/**
 * ZEGO's room service holds "millions of users" in one room: 100 million is beyond any real room,
 * so a count above it is a broken answer, not an audience.
 */
export const MAX_PLAUSIBLE_USERS = 100_000_000;

/**
 * A time outside the plausible window makes the whole answer a bad response: shown, it would be
 * decades of uptime or a start in the future, and a server that sends it cannot be trusted about
 * the state either.
 */
function implausible(nowMs: number, ...times: [string, number | null][]): Failed | null {
  for (const [name, sec] of times) {
    if (sec !== null && !isPlausibleTimeMs(sec * 1000, nowMs)) {
      return failed('bad_response', 'error', `${name} ${sec} s is outside the plausible window (2015 to one day ahead)`);
    }
  }
  return null;
}

function failed(code: string, reason: 'transient' | 'throttled' | 'error', message: string): Failed {
  return { code, outcome: { kind: 'failed', reason, message } };
}

/** Counts arrive as JSON numbers; digit strings are read too (the API sends times that way). */
function readCount(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  if (typeof v === 'string' && /^\d{1,15}$/.test(v.trim())) return Number(v);
  return undefined;
}

/** Ids from a server go into messages clipped: a hostile one must not fill the log. */
function clip(s: string): string {
  return s.length > 80 ? `${s.slice(0, 80)}…` : s;
}

function readCode(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return Number(v);
  return undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
