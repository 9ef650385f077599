import type { StreamEvent } from './parse.js';

/** Where an event sits in a stream's history: newer wins, equal is a duplicate. */
export interface EventKey {
  seq: number;
  timeMs: number;
  /** A close and a create with the same seq and time: the close ends that create's session. */
  rank: 0 | 1;
}

export function eventKey(e: StreamEvent): EventKey {
  if (e.event === 'stream_create') return { seq: e.streamSeq, timeMs: e.createTimeMs, rank: 0 };
  return { seq: e.streamSeq, timeMs: e.destroyTimeMs ?? e.createTimeMs ?? 0, rank: 1 };
}

/** ZEGO's rule: the larger stream_seq, then the later time; then close after create. */
export function compareKeys(a: EventKey, b: EventKey): number {
  return a.seq - b.seq || a.timeMs - b.timeMs || a.rank - b.rank;
}

export type Ordering = 'newer' | 'duplicate' | 'older';

export function order(incoming: EventKey, last: EventKey | null): Ordering {
  if (last === null) return 'newer';
  const c = compareKeys(incoming, last);
  return c > 0 ? 'newer' : c === 0 ? 'duplicate' : 'older';
}
