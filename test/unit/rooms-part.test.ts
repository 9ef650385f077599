import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Config, RoomConfig } from '../../src/config/types.js';
import type { RoomLock } from '../../src/rooms/list-scheduler.js';
import type { Gate } from '../../src/scheduler/budget.js';
import { RoomsPart, type RoomsFleetLike } from '../../src/rooms/part.js';
import { StateStore, type WatchedStream } from '../../src/state/store.js';
import type { ListedStream, RoomStreamsResult, UserCountResult } from '../../src/zego/outcome.js';
import { testConfig } from '../helpers/config.js';
import { fakePartContext } from '../helpers/part-context.js';

const T0 = 1_700_000_000_000;

/** A room as the tests write it: streams_severity left at its default unless given. */
type TestRoom = Omit<RoomConfig, 'streamsSeverity'> & Partial<Pick<RoomConfig, 'streamsSeverity'>>;

function config(testRooms: TestRoom[], streams: Config['streams'] = [], maxRoomStreams = 1000): Config {
  const rooms: RoomConfig[] = testRooms.map((r) => ({ streamsSeverity: 'none', ...r }));
  return testConfig({ streams, probe: { intervalMs: 15_000, maxRoomStreams }, extra: { rooms } });
}

interface Harness {
  part: RoomsPart;
  store: StateStore;
  /** What each room lists now (tests change it); a function gives a raw bad answer. */
  lists: Map<string, ListedStream[] | 'bad'>;
  users: Map<string, number>;
  logs: { msg: string; room_id?: string }[];
  calls: { api: string; code: string }[];
  /** What the Exporter does after applyConfig: recompute the watched set. */
  rewatch: () => void;
}

function harness(cfg: Config, fleet?: RoomsFleetLike): Harness {
  const logs: Harness['logs'] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Harness['logs'][number]) });
  const store = new StateStore({ logger, now: Date.now });
  const lists = new Map<string, ListedStream[] | 'bad'>();
  const users = new Map<string, number>();
  const calls: Harness['calls'] = [];
  const watch = (): void => {
    const listed: WatchedStream[] = cfg.streams.map((s) => ({ id: s.id, intervalMs: s.intervalMs, labels: s.labels }));
    const ids = new Set(listed.map((w) => w.id));
    store.setStreams([...listed, ...[...part.watched()].filter((w) => !ids.has(w.id))]);
  };
  const ctx = fakePartContext({
    logger,
    store,
    recordApiCall: (api, r) => calls.push({ api, code: r.code }),
    watchAdded: () => watch(),
    watchRemoved: () => watch(),
    roomApi: {
      describeSimpleStreamList: async (roomId): Promise<RoomStreamsResult> => {
        const sentAtMs = Date.now();
        const l = lists.get(roomId) ?? [];
        if (l === 'bad')
          return {
            roomId,
            sentAtMs,
            durationMs: 1,
            code: 'bad_response',
            outcome: { kind: 'failed', reason: 'error', message: 'Data.StreamList[0].StreamId is not a string' },
          };
        return { roomId, sentAtMs, durationMs: 1, code: '0', outcome: { kind: 'ok', streams: l } };
      },
      describeUserNum: async (roomIds): Promise<UserCountResult> => ({
        roomIds,
        sentAtMs: Date.now(),
        durationMs: 1,
        code: '0',
        outcome: { kind: 'ok', counts: roomIds.map((roomId) => ({ roomId, userCount: users.get(roomId) ?? 0, adminUserCount: 1 })) },
      }),
    },
    watchedChanged: () => watch(),
  });
  const part = new RoomsPart(cfg, ctx, { api: ctx.roomApi, ...(fleet ? { fleet: () => fleet } : {}) });
  watch();
  return { part, store, lists, users, logs, calls, rewatch: watch };
}

async function stop(h: Harness): Promise<void> {
  let done = false;
  const p = h.part.stop(0).then(() => (done = true));
  for (let i = 0; i < 50 && !done; i++) await vi.advanceTimersByTimeAsync(100);
  await p;
}

const stream = (streamId: string, createTimeSec = 1_699_999_000): ListedStream => ({ streamId, createTimeSec });

describe('rooms part', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: T0 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("watches the streams a room lists, with the room's labels but severity none, active since CreateTime; one that leaves reads inactive within one refresh", async () => {
    const h = harness(config([{ id: 'show', intervalMs: 10_000, labels: { severity: 'critical', team: 'live' } }]));
    h.lists.set('show', [stream('host', 1_699_999_000), stream('guest', 1_699_999_500)]);
    await h.part.start();
    await vi.advanceTimersByTimeAsync(100);
    expect(h.store.get('host')).toMatchObject({
      active: true,
      createTimeSec: 1_699_999_000,
      source: 'room_list',
      roomId: 'show',
      // The room's severity is about the room (ZegoKeyRoomEmpty): a guest who leaves must not page.
      labels: { severity: 'none', team: 'live' },
      origin: 'room',
    });
    expect(h.store.get('guest')?.active).toBe(true);
    h.lists.set('show', [stream('host', 1_699_999_000)]);
    await vi.advanceTimersByTimeAsync(10_100);
    expect(h.store.get('guest')).toMatchObject({ active: false, roomId: 'show' });
    expect(h.store.get('host')?.active).toBe(true);
    h.lists.set('show', [stream('host', 1_699_999_000), stream('guest', 1_700_000_015)]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.store.get('guest')).toMatchObject({ active: true, createTimeSec: 1_700_000_015 });
    const text = h.part.metrics('text');
    expect(text).toContain('zego_room_streams{room_id="show",severity="critical",team="live"} 2');
    expect(text).toContain('zego_room_probe_success{room_id="show",severity="critical",team="live"} 1');
    expect(text).toContain('zego_stream_room_info{stream_id="guest",room_id="show"} 1');
    expect(h.calls.filter((c) => c.api === 'DescribeSimpleStreamList').length).toBe(3);
    await stop(h);
  });

  it('a listed stream keeps its own labels and is never forgotten; a discovered one is forgotten after forget_after closed', async () => {
    const cfg = config([{ id: 'show', intervalMs: 10_000, labels: { team: 'live' } }], [{ id: 'host', intervalMs: 5000, labels: { team: 'mine' } }]);
    const h = harness(cfg);
    h.lists.set('show', [stream('host'), stream('guest')]);
    await h.part.start();
    await vi.advanceTimersByTimeAsync(100);
    expect(h.store.get('host')).toMatchObject({ labels: { team: 'mine' }, origin: 'config' });
    expect(h.store.get('guest')).toMatchObject({ labels: { team: 'live', severity: 'none' }, origin: 'room' });
    h.lists.set('show', []);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.store.get('host')?.active).toBe(false);
    expect(h.store.get('guest')?.active).toBe(false);
    await vi.advanceTimersByTimeAsync(3_600_000 + 60_000);
    h.part.sweep();
    expect(h.store.get('guest')).toBeUndefined();
    expect(h.store.get('host')).toBeDefined();
    await stop(h);
  });

  it('a stream that moves to another watched room stays active, carried by its new room', async () => {
    const h = harness(
      // b's list is read before a's in each round: a's later list must not close what b now carries.
      config([
        { id: 'b', intervalMs: 10_000, labels: { stage: 'b' } },
        { id: 'a', intervalMs: 10_000, labels: { stage: 'a' } },
      ]),
    );
    h.lists.set('a', [stream('host')]);
    await h.part.start();
    await vi.advanceTimersByTimeAsync(100);
    expect(h.store.get('host')).toMatchObject({ active: true, roomId: 'a' });
    h.lists.set('a', []);
    h.lists.set('b', [stream('host', 1_700_000_005)]);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.store.get('host')).toMatchObject({ active: true, roomId: 'b' });
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.store.get('host')).toMatchObject({ active: true, roomId: 'b' });
    expect(h.part.metrics('text')).toContain('zego_stream_room_info{stream_id="host",room_id="b"} 1');
    await stop(h);
  });

  it('a reload adds and removes rooms in place: a removed room stops being called, its streams stop being watched', async () => {
    const before = config([
      { id: 'a', intervalMs: 10_000, labels: {} },
      { id: 'b', intervalMs: 10_000, labels: {} },
    ]);
    const h = harness(before);
    h.lists.set('a', [stream('sa')]);
    h.lists.set('b', [stream('sb')]);
    await h.part.start();
    await vi.advanceTimersByTimeAsync(100);
    expect([...h.part.watched()].map((w) => w.id).sort()).toEqual(['sa', 'sb']);
    const after = config([
      { id: 'a', intervalMs: 20_000, labels: { team: 'x' } },
      { id: 'c', intervalMs: 10_000, labels: {} },
    ]);
    h.part.applyConfig(after);
    h.rewatch();
    expect(h.store.get('sb')).toBeUndefined();
    const callsBefore = h.calls.length;
    await vi.advanceTimersByTimeAsync(25_000);
    expect([...h.part.watched()]).toEqual([{ id: 'sa', intervalMs: 15_000, labels: { team: 'x', severity: 'none' }, origin: 'room' }]);
    const text = h.part.metrics('text');
    expect(text).not.toContain('room_id="b"');
    expect(text).toContain('zego_room_streams{room_id="a",team="x"} 1');
    expect(text).toContain('zego_room_streams{room_id="c"} 0');
    expect(h.calls.length).toBeGreaterThan(callsBefore);
    await stop(h);
  });

  it('holds the discovery cap: streams past probe.max_room_streams are not watched, and the cap is logged once', async () => {
    const h = harness(config([{ id: 'big', intervalMs: 10_000, labels: {} }], [], 3));
    h.lists.set(
      'big',
      ['a', 'b', 'c', 'd', 'e'].map((id) => stream(id)),
    );
    await h.part.start();
    await vi.advanceTimersByTimeAsync(20_100);
    expect(h.store.size).toBe(3);
    expect(h.store.get('d')).toBeUndefined();
    expect(h.logs.filter((l) => l.msg.includes('max_room_streams')).length).toBe(1);
    // The room's own count is the whole list, watched or not.
    expect(h.part.metrics('text')).toContain('zego_room_streams{room_id="big"} 5');
    await stop(h);
  });

  it('a bad list is counted, logged once and changes nothing', async () => {
    const h = harness(config([{ id: 'show', intervalMs: 10_000, labels: {} }]));
    h.lists.set('show', [stream('host')]);
    await h.part.start();
    await vi.advanceTimersByTimeAsync(100);
    h.lists.set('show', 'bad');
    await vi.advanceTimersByTimeAsync(30_000);
    expect(h.store.get('host')?.active).toBe(true);
    expect(h.logs.filter((l) => l.msg === 'bad room API answer ignored').length).toBe(1);
    expect(h.calls.filter((c) => c.code === 'bad_response').length).toBe(3);
    const text = h.part.metrics('text');
    expect(text).toContain('zego_room_streams{room_id="show"} 1');
    expect(text).toContain('zego_room_probe_success{room_id="show"} 0');
    await stop(h);
  });

  it('counts users per room in batches and shows them', async () => {
    const rooms = Array.from({ length: 25 }, (_, i) => ({ id: `r${i}`, intervalMs: 10_000, labels: {} }));
    const h = harness(config(rooms));
    h.users.set('r7', 42);
    await h.part.start();
    await vi.advanceTimersByTimeAsync(3000);
    const text = h.part.metrics('text');
    expect(text).toContain('zego_room_users{room_id="r7"} 42');
    expect(text).toContain('zego_room_admin_users{room_id="r7"} 1');
    const counts = h.calls.filter((c) => c.api === 'DescribeUserNum').length;
    expect(counts).toBe(3);
    expect(h.part.stats.roomsPerCountCall).toBeCloseTo(25 / 3);
    await stop(h);
  });

  it('streams_severity opts the streams found in a room in: they carry it (and the rest of the room labels); a stream the config lists keeps its own', async () => {
    const h = harness(
      config(
        [{ id: 'show', intervalMs: 10_000, labels: { severity: 'critical', team: 'live' }, streamsSeverity: 'warning' }],
        [{ id: 'host', intervalMs: 5000, labels: { severity: 'critical' } }],
      ),
    );
    h.lists.set('show', [stream('host'), stream('guest')]);
    await h.part.start();
    await vi.advanceTimersByTimeAsync(100);
    expect(h.store.get('guest')).toMatchObject({ labels: { severity: 'warning', team: 'live' }, origin: 'room' });
    expect(h.store.get('host')).toMatchObject({ labels: { severity: 'critical' }, origin: 'config' });
    await stop(h);
  });

  it('fleet mode, the room held by another replica: no room series until its first list answers, then all of them at once and agreeing', async () => {
    let heldElsewhere = true;
    const lock: RoomLock = { hold: async () => !heldElsewhere, release: () => undefined };
    const gate: Gate = { acquire: async () => ({ release: () => undefined }) };
    const fleet: RoomsFleetLike = {
      listGate: gate,
      countGate: gate,
      roomLock: lock,
      rate: (_which, rate) => rate,
      setRateLimits: () => undefined,
      close: async () => undefined,
    };
    const h = harness(config([{ id: 'show', intervalMs: 30_000, labels: { severity: 'critical' } }]), fleet);
    h.lists.set('show', [stream('host')]);
    h.users.set('show', 3);
    await h.part.start();
    // The user count answers at once (DescribeUserNum has no per-room hold); the list waits.
    await vi.advanceTimersByTimeAsync(5000);
    expect(h.calls.some((c) => c.api === 'DescribeUserNum')).toBe(true);
    expect(h.calls.some((c) => c.api === 'DescribeSimpleStreamList')).toBe(false);
    expect(h.part.metrics('text')).not.toMatch(/^zego_room_/m);
    // The page shows what is known: users, no list yet.
    expect(h.part.landingTable()?.rows[0]).toEqual(['show', 'severity=critical', '', '3', '1', 'never', 'pending']);
    heldElsewhere = false;
    await vi.advanceTimersByTimeAsync(30_000);
    const text = h.part.metrics('text');
    const sample = (name: string): string | undefined => new RegExp(`^${name}\\{room_id="show",severity="critical"\\} (\\S+)$`, 'm').exec(text)?.[1];
    expect(sample('zego_room_streams')).toBe('1');
    expect(sample('zego_room_users')).toBe('3');
    expect(sample('zego_room_probe_success')).toBe('1');
    expect(Number(sample('zego_room_last_success_timestamp_seconds'))).toBeGreaterThan(T0 / 1000);
    expect(h.part.landingTable()?.rows[0]).toEqual(['show', 'severity=critical', '1', '3', '1', expect.stringMatching(/^\d+s ago$/), 'ok']);
    await stop(h);
  });

  it('reports each room API budget with its api label and the refresh the rooms get', async () => {
    const rooms = Array.from({ length: 600 }, (_, i) => ({ id: `r${i}`, intervalMs: 10_000, labels: {} }));
    const h = harness(config(rooms));
    const [list, count] = h.part.apiBudgets();
    expect(list).toMatchObject({ api: 'DescribeSimpleStreamList', rateLimitConfigured: 40, demandPerSec: 60, achievableRefreshSec: 15 });
    expect(count).toMatchObject({ api: 'DescribeUserNum', rateLimitConfigured: 8, demandPerSec: 6, achievableRefreshSec: 10 });
    await stop(h);
  });
});
