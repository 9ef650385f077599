import { pino, type Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import type { StreamEvent } from '../../src/zego/stream-event.js';
import { StreamFamilies } from '../../src/metrics/block-cache.js';
import { StateStore, type WatchedStream } from '../../src/state/store.js';
import type { ProbeOutcome, ProbeResult } from '../../src/zego/outcome.js';

/**
 * The store's merge rules and the change signals its readers rely on (version, roomsVersion,
 * originsVersion, the snapshot list), each shown by what a reader would see if it broke.
 */

const T = 1_700_000_000_000;

interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

function capture(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { logger, lines };
}

function setup(ids: string[] = ['a']): { store: StateStore; lines: LogLine[]; advance: (ms: number) => void } {
  const { logger, lines } = capture();
  let now = T;
  const store = new StateStore({ logger, now: () => now });
  store.setStreams(ids.map((id) => ({ id, intervalMs: 10_000, labels: {} })));
  return { store, lines, advance: (ms) => (now += ms) };
}

const probe = (outcome: ProbeOutcome, sentAtMs: number, code = '0'): ProbeResult => ({ outcome, code, sentAtMs, durationMs: 5 });
const up = (sentAtMs: number, createTimeSec = T / 1000 - 60): ProbeResult => probe({ kind: 'active', createTimeSec }, sentAtMs, '0');
const down = (sentAtMs: number): ProbeResult => probe({ kind: 'closed', createTimeSec: T / 1000 - 60, closeTimeSec: T / 1000 - 30 }, sentAtMs, '41006');
const gone = (sentAtMs: number): ProbeResult => probe({ kind: 'not_found' }, sentAtMs, '41004');
const create = (createTimeMs: number, seq = 1, roomId?: string): StreamEvent => ({
  event: 'stream_create',
  streamId: 'a',
  streamSeq: seq,
  createTimeMs,
  ...(roomId === undefined ? {} : { roomId }),
});
const close = (destroyTimeMs: number | null, seq = 2, createTimeMs: number | null = null): StreamEvent => ({
  event: 'stream_close',
  streamId: 'a',
  streamSeq: seq,
  createTimeMs,
  destroyTimeMs,
  type: 1,
  reason: 'heartbeat_timeout',
});

describe('store: what readers are told changed', () => {
  const line = (text: string, prefix: string): string | undefined => text.split('\n').find((l) => l.startsWith(prefix));

  it('a reload that changes only the interval shows the new interval at the next scrape', () => {
    const { store } = setup([]);
    const labels = { team: 'x' };
    store.setStreams([{ id: 'a', intervalMs: 10_000, labels }]);
    const fam = new StreamFamilies();
    expect(line(fam.render(store.snapshot(), T, 'text'), 'zego_stream_interval_seconds{')).toBe('zego_stream_interval_seconds{stream_id="a",team="x"} 10');
    store.setStreams([{ id: 'a', intervalMs: 30_000, labels }]);
    expect(line(fam.render(store.snapshot(), T, 'text'), 'zego_stream_interval_seconds{')).toBe('zego_stream_interval_seconds{stream_id="a",team="x"} 30');
  });

  it('re-watching a stream with new labels or interval is a change; with the same ones it is none', () => {
    const { store } = setup([]);
    const labels = { team: 'x' };
    store.add({ id: 'a', intervalMs: 10_000, labels });
    const v0 = store.get('a')!.version;
    store.add({ id: 'a', intervalMs: 10_000, labels });
    store.setStreams([{ id: 'a', intervalMs: 10_000, labels }]);
    expect(store.get('a')!.version).toBe(v0);
    store.add({ id: 'a', intervalMs: 10_000, labels: { team: 'y' } });
    const v1 = store.get('a')!.version;
    expect(v1).toBeGreaterThan(v0);
    expect(store.get('a')!.labels).toEqual({ team: 'y' });
    store.add({ id: 'a', intervalMs: 5000, labels: store.get('a')!.labels });
    expect(store.get('a')!.version).toBeGreaterThan(v1);
    expect(store.get('a')!.intervalMs).toBe(5000);
  });

  it('every applied observation is a change; a result for a stream no longer watched changes nothing', () => {
    const { store } = setup();
    let v = store.get('a')!.version;
    const changed = (): void => {
      const now = store.get('a')!.version;
      expect(now).toBeGreaterThan(v);
      v = now;
    };
    store.applyProbe('a', up(T));
    changed();
    store.applyProbe('a', probe({ kind: 'failed', reason: 'transient', message: 'timeout' }, T + 10, 'timeout'));
    changed();
    store.applyCallback('a', close(T + 20), T + 30);
    changed();
    store.applyRoomList('a', { roomId: 'r', listed: true, createTimeSec: (T + 40) / 1000, sentAtMs: T + 50 });
    changed();
    store.remove('a');
    store.applyProbe('a', up(T + 60));
    expect(store.get('a')).toBeUndefined();
  });

  it('adding a new stream hands out a new snapshot with it last; re-adding a watched one keeps the same list', () => {
    const { store } = setup(['a', 'b']);
    const first = store.snapshot();
    store.add({ id: 'a', intervalMs: 10_000, labels: {} });
    expect(store.snapshot()).toBe(first);
    store.add({ id: 'c', intervalMs: 10_000, labels: {} });
    const second = store.snapshot();
    expect(second).not.toBe(first);
    expect(second.map((s) => s.id)).toEqual(['a', 'b', 'c']);
    expect(first.map((s) => s.id)).toEqual(['a', 'b']);
    expect(store.size).toBe(3);
  });

  it('removing a stream hands out a new snapshot without it; removing an unknown one keeps the same list', () => {
    const { store } = setup(['a', 'b', 'c']);
    const first = store.snapshot();
    store.remove('nope');
    expect(store.snapshot()).toBe(first);
    store.remove('b');
    expect(store.snapshot().map((s) => s.id)).toEqual(['a', 'c']);
    expect(first.map((s) => s.id)).toEqual(['a', 'b', 'c']);
    expect(store.get('b')).toBeUndefined();
  });

  it('origin: config by default; a change of a kept stream bumps originsVersion, the same origin does not', () => {
    const { store } = setup([]);
    const w = (origin?: WatchedStream['origin']): WatchedStream => ({ id: 'a', intervalMs: 10_000, labels: {}, ...(origin ? { origin } : {}) });
    store.add(w('room'));
    expect(store.get('a')!.origin).toBe('room');
    const v0 = store.originsVersion;
    store.add(w('room'));
    expect(store.originsVersion).toBe(v0);
    store.add(w('callback'));
    expect(store.get('a')!.origin).toBe('callback');
    expect(store.originsVersion).toBe(v0 + 1);
    store.add(w());
    expect(store.get('a')!.origin).toBe('config');
    expect(store.originsVersion).toBe(v0 + 2);
    store.setStreams([w()]);
    expect(store.originsVersion).toBe(v0 + 2);
  });

  it('a new stream starts with the origin it was watched for, config when none is given', () => {
    const { store } = setup([]);
    store.setStreams([
      { id: 'a', intervalMs: 1, labels: {} },
      { id: 'b', intervalMs: 1, labels: {}, origin: 'callback' },
    ]);
    expect(store.get('a')!.origin).toBe('config');
    expect(store.get('b')!.origin).toBe('callback');
  });

  it('replacing the watched set bumps roomsVersion (the room info is re-rendered); a room seen again does not', () => {
    const { store } = setup();
    const v0 = store.roomsVersion;
    store.setStreams([{ id: 'a', intervalMs: 10_000, labels: {} }]);
    expect(store.roomsVersion).toBe(v0 + 1);
    store.applyRoomList('a', { roomId: 'r1', listed: true, createTimeSec: T / 1000, sentAtMs: T });
    expect(store.roomsVersion).toBe(v0 + 2);
    expect(store.get('a')!.roomId).toBe('r1');
    store.applyRoomList('a', { roomId: 'r1', listed: true, createTimeSec: T / 1000, sentAtMs: T + 1000 });
    expect(store.roomsVersion).toBe(v0 + 2);
    store.applyRoomList('a', { roomId: 'r2', listed: true, createTimeSec: T / 1000, sentAtMs: T + 2000 });
    expect(store.roomsVersion).toBe(v0 + 3);
  });
});

describe('store: probes', () => {
  it("a result another replica probed is stamped with that result's time, not now", () => {
    const { store } = setup();
    store.applyProbe('a', up(T - 5000), T - 4000);
    expect(store.get('a')).toMatchObject({ lastProbeMs: T - 4000, lastSuccessMs: T - 4000, changedAtMs: T - 4000 });
    store.applyProbe('a', up(T));
    expect(store.get('a')).toMatchObject({ lastProbeMs: T, lastSuccessMs: T, changedAtMs: T - 4000 });
  });

  it('a probe records when it was sent as the moment the state describes', () => {
    const { store } = setup();
    store.applyProbe('a', up(T - 700));
    expect(store.get('a')!.observedAtMs).toBe(T - 700);
    // So a room list sent before it cannot undo it, and one sent after can.
    store.applyRoomList('a', { roomId: 'r', listed: false, createTimeSec: null, sentAtMs: T - 701 });
    expect(store.get('a')).toMatchObject({ active: true, source: 'probe' });
    store.applyRoomList('a', { roomId: 'r', listed: false, createTimeSec: null, sentAtMs: T - 700 });
    expect(store.get('a')).toMatchObject({ active: false, source: 'room_list' });
  });

  it('closed keeps both readings apart: a close time only when closed, a create time only when active', () => {
    const { store } = setup();
    store.applyProbe('a', down(T));
    expect(store.get('a')).toMatchObject({ active: false, notFound: false, createTimeSec: null, closeTimeSec: T / 1000 - 30 });
    store.applyProbe('a', up(T + 1000, 123));
    expect(store.get('a')).toMatchObject({ active: true, createTimeSec: 123, closeTimeSec: null });
    store.applyProbe('a', gone(T + 2000));
    expect(store.get('a')).toMatchObject({ active: false, notFound: true, createTimeSec: null, closeTimeSec: null });
  });

  it('41004 for a stream first seen closed by a room list is still the same close (no history permission)', () => {
    const { store, lines } = setup();
    store.applyRoomList('a', { roomId: 'r', listed: true, createTimeSec: T / 1000 - 10, sentAtMs: T - 2000 });
    store.applyRoomList('a', { roomId: 'r', listed: false, createTimeSec: null, sentAtMs: T - 1000 });
    const closedAt = store.get('a')!.closeTimeSec;
    lines.length = 0;
    store.applyProbe('a', gone(T));
    expect(store.get('a')).toMatchObject({ active: false, notFound: false, closeTimeSec: closedAt, source: 'probe', observedAtMs: T });
    expect(lines).toHaveLength(0);
  });

  it('41004 for a stream never seen is "not found"; for one seen not found it stays not found without a new line', () => {
    const { store, lines } = setup();
    store.applyProbe('a', gone(T));
    store.applyProbe('a', gone(T + 1000));
    expect(store.get('a')).toMatchObject({ active: false, notFound: true });
    expect(lines.map((l) => l.msg)).toEqual(['stream not found']);
  });
});

describe('store: probes against callbacks', () => {
  it('a probe sent at the very moment the callback arrived is not older than it: it applies', () => {
    const { store } = setup();
    store.applyCallback('a', create(T - 100), T);
    store.applyProbe('a', down(T));
    expect(store.get('a')).toMatchObject({ active: false, source: 'probe' });
  });

  it('a probe sent before the callback arrived is recorded as a successful probe but leaves the state', () => {
    const { store } = setup();
    store.applyCallback('a', create(T - 100), T);
    store.applyProbe('a', down(T - 1));
    expect(store.get('a')).toMatchObject({ active: true, source: 'callback', probeSuccess: true, lastCode: '41006', disagreements: 0 });
    expect(store.disagreementsTotal).toBe(0);
  });

  it('a contradiction is logged at info once, at warn when it repeats; an agreeing probe resets the count', () => {
    const { store, lines } = setup();
    store.applyCallback('a', create(T - 100), T);
    lines.length = 0;
    store.applyProbe('a', down(T + 10));
    expect(store.get('a')!.disagreements).toBe(1);
    expect(lines[0]).toMatchObject({
      level: 30,
      msg: 'the API contradicts the last callback; following the API',
      stream_id: 'a',
      code: '41006',
      outcome: 'closed',
      callback_said: 'active',
      disagreements: 1,
    });
    // The callback says up again, the API says down again: the second contradiction in a row.
    store.applyCallback('a', create(T + 500, 3), T + 1000);
    lines.length = 0;
    store.applyProbe('a', down(T + 1010));
    expect(store.get('a')!.disagreements).toBe(2);
    expect(store.disagreementsTotal).toBe(2);
    expect(lines[0]).toMatchObject({ level: 40, msg: 'the API keeps contradicting callbacks for this stream; following the API', disagreements: 2 });
    // A close callback the API confirms: the count starts again.
    store.applyCallback('a', close(T + 2000, 4), T + 2000);
    store.applyProbe('a', down(T + 2010));
    expect(store.get('a')!.disagreements).toBe(0);
    expect(store.disagreementsTotal).toBe(2);
  });

  it('a probe saying up against a close callback is a contradiction reported as such', () => {
    const { store, lines } = setup();
    store.applyCallback('a', close(T - 100), T);
    lines.length = 0;
    store.applyProbe('a', up(T + 10));
    expect(lines[0]).toMatchObject({ outcome: 'active', callback_said: 'closed', disagreements: 1 });
    expect(store.get('a')).toMatchObject({ active: true, source: 'probe' });
  });

  it('a probe against a room list or an earlier probe is no contradiction of a callback', () => {
    const { store } = setup();
    store.applyRoomList('a', { roomId: 'r', listed: true, createTimeSec: T / 1000, sentAtMs: T });
    store.applyProbe('a', down(T + 10));
    store.applyProbe('a', up(T + 20));
    expect(store.get('a')!.disagreements).toBe(0);
    expect(store.disagreementsTotal).toBe(0);
  });
});

describe('store: callbacks', () => {
  it('a create sets the create time from its milliseconds and clears the close time; a close sets close time and reason', () => {
    const { store } = setup();
    expect(store.applyCallback('a', close(T - 5000, 1), T - 4000)).toBe('accepted');
    expect(store.get('a')).toMatchObject({ active: false, createTimeSec: null, closeTimeSec: (T - 5000) / 1000, closeReason: 'heartbeat_timeout' });
    expect(store.applyCallback('a', create(T - 1500, 2), T - 1000)).toBe('accepted');
    expect(store.get('a')).toMatchObject({
      active: true,
      notFound: false,
      createTimeSec: (T - 1500) / 1000,
      closeTimeSec: null,
      source: 'callback',
      callbackAtMs: T - 1000,
      observedAtMs: T - 1000,
      changedAtMs: T - 1000,
      // The reason of the last close stays, shown while the stream is up again.
      closeReason: 'heartbeat_timeout',
    });
  });

  it('a close without its destroy time closes the stream as of its arrival', () => {
    const { store } = setup();
    store.applyCallback('a', close(null, 1), T);
    expect(store.get('a')!.closeTimeSec).toBe(T / 1000);
  });

  it('a callback clears "not found": the stream exists', () => {
    const { store, lines } = setup();
    store.applyProbe('a', gone(T - 1000));
    lines.length = 0;
    store.applyCallback('a', close(T - 500, 1), T);
    expect(store.get('a')).toMatchObject({ active: false, notFound: false, changedAtMs: T });
    expect(lines).toEqual([expect.objectContaining({ msg: 'stream is down', source: 'callback', reason: 'heartbeat_timeout', code: 'stream_close' })]);
  });

  it('the same state again from a newer callback logs nothing and keeps when it changed', () => {
    const { store, lines } = setup();
    store.applyCallback('a', create(T - 100, 1), T);
    store.applyCallback('a', create(T + 100, 2), T + 200);
    expect(lines.map((l) => l.msg)).toEqual(['stream is up']);
    expect(store.get('a')!.changedAtMs).toBe(T);
  });

  it('answers duplicate for the same event, stale for an older one, unwatched for a stream not watched', () => {
    const { store } = setup();
    expect(store.applyCallback('a', create(T, 5), T)).toBe('accepted');
    expect(store.applyCallback('a', create(T, 5), T + 10)).toBe('duplicate');
    expect(store.applyCallback('a', close(T - 100, 4), T + 20)).toBe('stale');
    expect(store.applyCallback('b', create(T, 1), T)).toBe('unwatched');
    expect(store.get('a')).toMatchObject({ active: true, callbackAtMs: T });
  });

  it('a late create from before the close a probe saw is stale; one from after it applies', () => {
    const { store } = setup();
    store.applyProbe('a', down(T)); // closed at T/1000 - 30 s
    expect(store.applyCallback('a', create(T - 31_000), T + 10)).toBe('stale');
    expect(store.applyCallback('a', create(T - 29_000, 2), T + 20)).toBe('accepted');
    expect(store.get('a')!.active).toBe(true);
  });

  it('a late create in the same second as the close is not older than it (whole seconds compared)', () => {
    const { store } = setup();
    store.applyProbe('a', down(T)); // closed at T/1000 - 30 s
    expect(store.applyCallback('a', create(T - 30_000 + 999), T + 10)).toBe('accepted');
  });

  it('a late close from before the create a probe or list saw is stale; one from after it applies', () => {
    const { store } = setup();
    store.applyProbe('a', up(T, T / 1000 - 60));
    expect(store.applyCallback('a', close(T - 61_000, 1), T + 10)).toBe('stale');
    expect(store.applyCallback('a', close(T - 60_000 + 999, 2), T + 20)).toBe('accepted');
    expect(store.get('a')!.active).toBe(false);
  });

  it('a late close without its destroy time is judged by its create time', () => {
    const { store } = setup();
    store.applyProbe('a', up(T, T / 1000 - 60));
    expect(store.applyCallback('a', close(null, 1, T - 120_000), T + 10)).toBe('stale');
    const s2 = setup().store;
    s2.applyProbe('a', up(T, T / 1000 - 60));
    expect(s2.applyCallback('a', close(null, 1, T - 30_000), T + 10)).toBe('accepted');
  });

  it('a close with no times at all is never judged older than a probe', () => {
    const { store } = setup();
    store.applyProbe('a', up(T, T / 1000 - 60));
    expect(store.applyCallback('a', close(null, 1, null), T + 10)).toBe('accepted');
  });

  it('against an active stream of unknown create time, a late close applies', () => {
    const { store } = setup();
    store.applyProbe('a', probe({ kind: 'active', createTimeSec: null }, T));
    expect(store.applyCallback('a', close(1000, 1), T + 10)).toBe('accepted');
  });

  it('against a not-found stream, a late create applies (there is no close time to be older than)', () => {
    const { store } = setup();
    store.applyProbe('a', gone(T));
    expect(store.applyCallback('a', create(1_000_000), T + 10)).toBe('accepted');
  });

  it('after a callback set the state, an older create is judged by the callback order alone', () => {
    const { store } = setup();
    store.applyCallback('a', close(T - 100, 3), T);
    // Seq 4 is newer by ZEGO's order even though its create time is older than the close.
    expect(store.applyCallback('a', create(T - 200_000, 4), T + 10)).toBe('accepted');
  });
});

describe('store: room lists', () => {
  const list = (listed: boolean, sentAtMs: number, createTimeSec: number | null = listed ? T / 1000 - 60 : null) => ({
    roomId: 'r',
    listed,
    createTimeSec,
    sentAtMs,
  });

  it('a stream that left the list is closed as of the list; a later list of it gone keeps that close time', () => {
    const { store, lines } = setup();
    store.applyRoomList('a', list(true, T - 2000));
    store.applyRoomList('a', list(false, T));
    expect(store.get('a')).toMatchObject({ active: false, createTimeSec: null, closeTimeSec: T / 1000, changedAtMs: T, source: 'room_list' });
    store.applyRoomList('a', list(false, T + 5000));
    expect(store.get('a')).toMatchObject({ closeTimeSec: T / 1000, changedAtMs: T, observedAtMs: T + 5000 });
    expect(lines.map((l) => l.msg)).toEqual(['stream is up', 'stream went down']);
    expect(lines[1]).toMatchObject({ code: 'unlisted', source: 'room_list', close_time: T / 1000 });
    expect(lines[0]).toMatchObject({ code: 'listed', source: 'room_list' });
  });

  it('the same listing again only moves the observation time: no change for readers', () => {
    const { store } = setup();
    store.applyRoomList('a', list(true, T));
    const v = store.get('a')!.version;
    store.applyRoomList('a', list(true, T + 1000));
    expect(store.get('a')).toMatchObject({ version: v, observedAtMs: T + 1000 });
  });

  it('a listing with a new create time (the stream republished between lists) is a change', () => {
    const { store } = setup();
    store.applyRoomList('a', list(true, T, 100));
    const v = store.get('a')!.version;
    store.applyRoomList('a', list(true, T + 1000, 200));
    expect(store.get('a')).toMatchObject({ createTimeSec: 200, active: true });
    expect(store.get('a')!.version).toBeGreaterThan(v);
  });

  it('a list that agrees with a probe takes over as the source (the freshest observation)', () => {
    const { store } = setup();
    store.applyProbe('a', up(T - 1000, T / 1000 - 60));
    const v = store.get('a')!.version;
    store.applyRoomList('a', list(true, T));
    expect(store.get('a')).toMatchObject({ source: 'room_list', observedAtMs: T, active: true });
    expect(store.get('a')!.version).toBeGreaterThan(v);
  });

  it('a list clears "not found" (closed since before, time unknown), and one that shows a closed stream closed again keeps its close time', () => {
    const { store } = setup();
    store.applyProbe('a', gone(T - 1000));
    store.applyRoomList('a', list(false, T));
    expect(store.get('a')).toMatchObject({ active: false, notFound: false, closeTimeSec: null, changedAtMs: T, source: 'room_list' });
    const s2 = setup().store;
    s2.applyProbe('a', down(T - 1000));
    s2.applyRoomList('a', list(false, T + 500));
    // The probe's close stands: its time, and when it was seen to change (the clock: T).
    expect(s2.get('a')).toMatchObject({ active: false, closeTimeSec: T / 1000 - 30, source: 'room_list', changedAtMs: T });
  });

  it('a list sent at the moment of the current observation applies; one sent before only records the room', () => {
    const { store } = setup();
    store.applyProbe('a', up(T));
    store.applyRoomList('a', { ...list(false, T - 1), roomId: 'first' });
    expect(store.get('a')).toMatchObject({ active: true, source: 'probe', roomId: 'first' });
    store.applyRoomList('a', list(false, T));
    expect(store.get('a')).toMatchObject({ active: false, source: 'room_list', roomId: 'r' });
  });

  it('a list for a stream not watched is ignored', () => {
    const { store } = setup();
    store.applyRoomList('zz', list(true, T));
    expect(store.get('zz')).toBeUndefined();
    expect(store.size).toBe(1);
  });
});

describe('store: log lines', () => {
  it('"stream went up" after a known close, with the create time', () => {
    const { store, lines } = setup();
    store.applyProbe('a', down(T));
    store.applyProbe('a', up(T + 1000, 4242));
    expect(lines.map((l) => l.msg)).toEqual(['stream is down', 'stream went up']);
    expect(lines[1]).toMatchObject({ level: 30, stream_id: 'a', outcome: 'active', create_time: 4242, source: 'probe', code: '0' });
    expect(lines[0]).toMatchObject({ outcome: 'closed', close_time: T / 1000 - 30 });
    expect(lines[0]).not.toHaveProperty('reason');
  });

  it('a callback close names its reason; "stream went down" only after a known up', () => {
    const { store, lines } = setup();
    store.applyCallback('a', create(T - 100, 1), T);
    store.applyCallback('a', close(T + 100, 2), T + 200);
    expect(lines.map((l) => l.msg)).toEqual(['stream is up', 'stream went down']);
    expect(lines[1]).toMatchObject({ source: 'callback', reason: 'heartbeat_timeout', code: 'stream_close', close_time: (T + 100) / 1000 });
  });

  it('not found after active is "stream not found" with that outcome', () => {
    const { store, lines } = setup();
    store.applyProbe('a', up(T));
    store.applyProbe('a', gone(T + 1000));
    expect(lines.map((l) => [l.msg, l.outcome])).toEqual([
      ['stream is up', 'active'],
      ['stream not found', 'not_found'],
    ]);
  });
});
