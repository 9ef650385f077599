import { describe, expect, it } from 'vitest';
import { eventKey, order, type EventKey } from '../../src/zego/event-order.js';
import type { StreamEvent } from '../../src/zego/stream-event.js';

/** ZEGO's per-stream order of callbacks (zego/event-order.ts), one rule per case. */

const create = (seq: number, timeMs: number, session?: string): StreamEvent => ({
  event: 'stream_create',
  streamId: 's',
  streamSeq: seq,
  createTimeMs: timeMs,
  ...(session === undefined ? {} : { roomSession: session }),
});
const close = (seq: number, destroyMs: number | null, createMs: number | null = null, session?: string): StreamEvent => ({
  event: 'stream_close',
  streamId: 's',
  streamSeq: seq,
  createTimeMs: createMs,
  destroyTimeMs: destroyMs,
  type: 0,
  reason: 'normal_stop',
  ...(session === undefined ? {} : { roomSession: session }),
});
const k = (e: StreamEvent): EventKey => eventKey(e);

describe('eventKey', () => {
  it('a create is keyed by its seq and create time, rank 0; a close by its destroy time, rank 1', () => {
    expect(k(create(3, 1000))).toEqual({ seq: 3, timeMs: 1000, rank: 0 });
    expect(k(close(4, 2000, 1000))).toEqual({ seq: 4, timeMs: 2000, rank: 1 });
  });

  it('a close without its destroy time falls back to its create time, then to 0', () => {
    expect(k(close(4, null, 1500)).timeMs).toBe(1500);
    expect(k(close(4, null, null)).timeMs).toBe(0);
  });

  it('carries the room session only when the event names one', () => {
    expect(k(create(1, 1, 'x'))).toEqual({ seq: 1, timeMs: 1, rank: 0, session: 'x' });
    expect(k(close(1, 1, null, 'y')).session).toBe('y');
    expect('session' in k(create(1, 1))).toBe(false);
    expect('session' in k(close(1, 1))).toBe(false);
  });
});

describe('order', () => {
  it('the first event of a stream is newer than nothing', () => {
    expect(order(k(close(1, 0)), null)).toBe('newer');
  });

  it('the same event again is a duplicate, not newer', () => {
    expect(order(k(create(2, 1000)), k(create(2, 1000)))).toBe('duplicate');
    expect(order(k(close(2, 1000, null, 'x')), k(close(2, 1000, null, 'x')))).toBe('duplicate');
  });

  it('within a session the larger seq is newer, even when its time is earlier (unless the other is a later create)', () => {
    expect(order(k(create(5, 1000)), k(close(4, 2000)))).toBe('newer');
    expect(order(k(close(4, 2000)), k(create(5, 1000)))).toBe('older');
    expect(order(k(close(5, 1000, null, 'x')), k(close(4, 2000, null, 'x')))).toBe('newer');
  });

  it('on equal seq the later time is newer, then a close after a create of the same time', () => {
    expect(order(k(close(3, 2000)), k(close(3, 1000)))).toBe('newer');
    expect(order(k(close(3, 1000)), k(close(3, 2000)))).toBe('older');
    expect(order(k(close(3, 1000)), k(create(3, 1000)))).toBe('newer');
    expect(order(k(create(3, 1000)), k(close(3, 1000)))).toBe('older');
  });

  it('a create that starts after the other event is newer whatever its seq (an absurd seq cannot block the stream)', () => {
    const absurd = k(close(Number.MAX_SAFE_INTEGER, 5000));
    expect(order(k(create(1, 6000)), absurd)).toBe('newer');
    expect(order(absurd, k(create(1, 6000)))).toBe('older');
  });

  it('that exception needs a strictly later start, and only a create has it', () => {
    // Same time, smaller seq: the seq decides.
    expect(order(k(create(1, 5000)), k(close(9, 5000)))).toBe('older');
    expect(order(k(close(9, 5000)), k(create(1, 5000)))).toBe('newer');
    // A close later in time with a smaller seq is still older.
    expect(order(k(close(1, 6000)), k(create(9, 5000)))).toBe('older');
    expect(order(k(create(9, 5000)), k(close(1, 6000)))).toBe('newer');
  });

  it('between sessions the seq says nothing: the later event is newer, then close after create', () => {
    expect(order(k(create(1, 2000, 'new')), k(close(9, 1000, null, 'old')))).toBe('newer');
    expect(order(k(close(9, 1000, null, 'old')), k(create(1, 2000, 'new')))).toBe('older');
    expect(order(k(close(1, 3000, null, 'new')), k(create(9, 2000, 'old')))).toBe('newer');
    expect(order(k(close(1, 1000, null, 'b')), k(create(9, 1000, 'a')))).toBe('newer');
    expect(order(k(create(9, 1000, 'a')), k(close(1, 1000, null, 'b')))).toBe('older');
    expect(order(k(create(9, 1000, 'a')), k(create(1, 1000, 'b')))).toBe('duplicate');
  });

  it('when either event does not name its session, or both name the same, the seq decides', () => {
    expect(order(k(close(2, 1000, null, 'x')), k(close(9, 2000)))).toBe('older');
    expect(order(k(close(2, 1000)), k(close(9, 2000, null, 'x')))).toBe('older');
    expect(order(k(close(9, 1000, null, 'x')), k(close(2, 2000, null, 'x')))).toBe('newer');
  });
});
