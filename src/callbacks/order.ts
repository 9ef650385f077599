import type { StreamEvent } from './parse.js';

/** Where an event sits in a stream's history: newer wins, equal is a duplicate. */
export interface EventKey {
  seq: number;
  timeMs: number;
  /** A close and a create with the same seq and time: the close ends that create's session. */
  rank: 0 | 1;
  /** create_time_ms of the publish session the event belongs to (absent on some closes). */
  sessionMs?: number | null;
}

export function eventKey(e: StreamEvent): EventKey {
  if (e.event === 'stream_create') return { seq: e.streamSeq, timeMs: e.createTimeMs, rank: 0, sessionMs: e.createTimeMs };
  return { seq: e.streamSeq, timeMs: e.destroyTimeMs ?? e.createTimeMs ?? 0, rank: 1, sessionMs: e.createTimeMs };
}

/**
 * ZEGO's rule within one publish session: the larger stream_seq, then the later time; then close
 * after create. Across sessions the session's create_time_ms decides first: for real callbacks the
 * two agree (a later session has a larger seq), but a seq is only a number someone sent, and one
 * absurd value (2^53 - 1) would otherwise make every later event of the stream "stale" until
 * restart. A create time is bounded by the plausible-time check, so a new session always heals it.
 */
export function compareKeys(a: EventKey, b: EventKey): number {
  const sa = a.sessionMs ?? null;
  const sb = b.sessionMs ?? null;
  if (sa !== null && sb !== null && sa !== sb) return sa - sb;
  return a.seq - b.seq || a.timeMs - b.timeMs || a.rank - b.rank;
}

export type Ordering = 'newer' | 'duplicate' | 'older';

export function order(incoming: EventKey, last: EventKey | null): Ordering {
  if (last === null) return 'newer';
  const c = compareKeys(incoming, last);
  return c > 0 ? 'newer' : c === 0 ? 'duplicate' : 'older';
}
