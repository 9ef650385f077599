import type { StreamEvent } from './stream-event.js';

/** Where an event sits in a stream's history: newer wins, equal is a duplicate. */
export interface EventKey {
  seq: number;
  timeMs: number;
  /** A close and a create with the same seq and time: the close ends that create's session. */
  rank: 0 | 1;
  /** The room session the seq counts in (room_session_id); absent: unknown. */
  session?: string;
}

export function eventKey(e: StreamEvent): EventKey {
  const session = e.roomSession === undefined ? {} : { session: e.roomSession };
  if (e.event === 'stream_create') return { seq: e.streamSeq, timeMs: e.createTimeMs, rank: 0, ...session };
  return { seq: e.streamSeq, timeMs: e.destroyTimeMs ?? e.createTimeMs ?? 0, rank: 1, ...session };
}

/**
 * ZEGO's rule: stream_seq counts the room's stream-list changes within one room session
 * (room_session_id), and restarts when the room is destroyed and created again. So:
 * - two events of different sessions are ordered by their own times (session ids are opaque: the
 *   later event is the newer session's), then close after create; a seq of one session says
 *   nothing about another's;
 * - within one session (or when either event does not say its session): the larger stream_seq,
 *   then the later time, then close after create. One exception: a stream_create that starts
 *   after the time of the other event is the newer one whatever its seq. For real callbacks the
 *   two agree, but a seq is only a number someone sent, and one absurd value (2^53 - 1) would
 *   otherwise make every later event of the stream "stale" until restart. Times are bounded by
 *   the plausible-time check (at most a day ahead), so the next publish session always heals it.
 */
function compareKeys(a: EventKey, b: EventKey): number {
  if (a.session !== undefined && b.session !== undefined && a.session !== b.session) return a.timeMs - b.timeMs || a.rank - b.rank;
  if (a.rank === 0 && a.timeMs > b.timeMs && a.seq < b.seq) return 1;
  if (b.rank === 0 && b.timeMs > a.timeMs && b.seq < a.seq) return -1;
  return a.seq - b.seq || a.timeMs - b.timeMs || a.rank - b.rank;
}

export type Ordering = 'newer' | 'duplicate' | 'older';

export function order(incoming: EventKey, last: EventKey | null): Ordering {
  if (last === null) return 'newer';
  const c = compareKeys(incoming, last);
  return c > 0 ? 'newer' : c === 0 ? 'duplicate' : 'older';
}
