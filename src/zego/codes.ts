import type { FailureReason } from './outcome.js';

/** Business codes of DescribeRTCStreamState, read as the notes' table says. */
export type CodeClass = 'active' | 'closed' | 'not_found' | FailureReason;

const TABLE: ReadonlyMap<number, CodeClass> = new Map<number, CodeClass>([
  [0, 'active'],
  [41006, 'closed'],
  [41004, 'not_found'],
  [30002, 'throttled'],
  [1010, 'throttled'],
  [5007, 'throttled'],
  [3002, 'clock_skew'],
  [100000004, 'clock_skew'],
  [40005, 'auth'],
  [5003, 'auth'],
  [100000005, 'auth'],
  [3003, 'auth'],
  [30004, 'config'],
  [100000016, 'config'],
  [30005, 'config'],
  [3000, 'config'],
  [100000001, 'config'],
  [30009, 'stream_config'],
  [3001, 'transient'],
  [30003, 'transient'],
  [5000, 'transient'],
  [5001, 'transient'],
  [5002, 'transient'],
  [5006, 'transient'],
  [100000015, 'transient'],
]);

/** Codes only the room APIs give: 154 is DescribeSimpleStreamList's "failed to get list information". */
const ROOM_TABLE: ReadonlyMap<number, RoomCodeClass> = new Map<number, RoomCodeClass>([
  [0, 'ok'],
  [154, 'transient'],
]);

/** A room API's reading of a Code: `ok` or why the call told us nothing. */
export type RoomCodeClass = 'ok' | FailureReason;

/**
 * The `code` label value of a Code: its own for the codes of the tables, one shared `other` for
 * the rest, so a broken or hostile server cannot grow the series set (the Message keeps the code).
 */
export function codeLabel(code: number): string {
  return TABLE.has(code) || ROOM_TABLE.has(code) ? String(code) : 'other';
}

/**
 * Room APIs (DescribeSimpleStreamList, DescribeUserNum) share the AppID-wide codes of the table
 * (rate, clock, auth, config, internal errors); the stream-state readings (closed, not found, a
 * StreamId breaking the rules) mean nothing for a room, so they and unknown codes are errors.
 */
export function classifyRoomCode(code: number): RoomCodeClass {
  const own = ROOM_TABLE.get(code);
  if (own !== undefined) return own;
  const shared = TABLE.get(code);
  if (shared === undefined || shared === 'active' || shared === 'closed' || shared === 'not_found' || shared === 'stream_config') return 'error';
  return shared;
}

/** Unknown codes are errors, retried at the normal pace: they tell us nothing about the stream. */
export function classifyCode(code: number): CodeClass {
  return TABLE.get(code) ?? 'error';
}
