import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { streamEvent } from '../../src/callbacks/parse.js';
import { StateStore } from '../../src/state/store.js';

const T = 1_700_000_000_000;

function store(): StateStore {
  const s = new StateStore({ logger: pino({ level: 'silent' }), now: () => T });
  s.setStreams([{ id: 'a', intervalMs: 10_000, labels: {} }]);
  return s;
}

const create = (createTimeMs: number, seq = 1, roomId?: string) =>
  ({ event: 'stream_create', streamId: 'a', streamSeq: seq, createTimeMs, ...(roomId ? { roomId } : {}) }) as const;
const close = (destroyTimeMs: number, seq = 2) =>
  ({ event: 'stream_close', streamId: 'a', streamSeq: seq, createTimeMs: null, destroyTimeMs, type: 0, reason: 'normal_stop' }) as const;

describe('store: room-list observations merge with probes and callbacks by when they were made', () => {
  it('a list sent before a callback arrived cannot undo it, but records the room', () => {
    const s = store();
    s.applyCallback('a', close(T - 1000), T);
    s.applyRoomList('a', { roomId: 'show', listed: true, createTimeSec: (T - 5000) / 1000, sentAtMs: T - 500 });
    expect(s.get('a')).toMatchObject({ active: false, source: 'callback', roomId: 'show' });
    s.applyRoomList('a', { roomId: 'show', listed: true, createTimeSec: (T + 1000) / 1000, sentAtMs: T + 2000 });
    expect(s.get('a')).toMatchObject({ active: true, source: 'room_list', createTimeSec: (T + 1000) / 1000 });
  });

  it('a probe sent before the list cannot undo it; one sent after wins', () => {
    const s = store();
    s.applyRoomList('a', { roomId: 'show', listed: false, createTimeSec: null, sentAtMs: T });
    const probe = (sentAtMs: number) => ({ outcome: { kind: 'active', createTimeSec: 1 } as const, code: '0', sentAtMs, durationMs: 5 });
    s.applyProbe('a', probe(T - 100));
    expect(s.get('a')).toMatchObject({ active: false, source: 'room_list' });
    s.applyProbe('a', probe(T + 100));
    expect(s.get('a')).toMatchObject({ active: true, source: 'probe' });
    // And a list sent before that probe cannot undo the probe.
    s.applyRoomList('a', { roomId: 'show', listed: false, createTimeSec: null, sentAtMs: T + 50 });
    expect(s.get('a')?.active).toBe(true);
  });

  it('a late stream_create older than the list that showed the stream gone is stale', () => {
    const s = store();
    s.applyRoomList('a', { roomId: 'show', listed: true, createTimeSec: (T - 60_000) / 1000, sentAtMs: T - 30_000 });
    s.applyRoomList('a', { roomId: 'show', listed: false, createTimeSec: null, sentAtMs: T });
    expect(s.applyCallback('a', create(T - 60_000), T + 10)).toBe('stale');
    expect(s.get('a')?.active).toBe(false);
  });

  it("a callback's room_id records the stream's room, and bumps roomsVersion once per change", () => {
    const s = store();
    const v = s.roomsVersion;
    s.applyCallback('a', create(T, 1, 'lobby'), T);
    expect(s.get('a')?.roomId).toBe('lobby');
    expect(s.roomsVersion).toBe(v + 1);
    s.applyCallback('a', close(T + 1000), T + 1000);
    expect(s.roomsVersion).toBe(v + 1);
  });

  it('the callback parser reads room_id when it keeps the room id rule', () => {
    const base = { event: 'stream_create', stream_id: 'a', stream_seq: '1', create_time_ms: String(T) };
    const ok = streamEvent({ ...base, room_id: 'show-1' });
    expect(ok.ok && ok.value.roomId).toBe('show-1');
    const bad = streamEvent({ ...base, room_id: 'has space' });
    expect(bad.ok && bad.value.roomId).toBeUndefined();
  });
});
