import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Secret } from '../../src/config/secret.js';
import type { Config, RoomConfig } from '../../src/config/types.js';
import type { PartContext } from '../../src/parts/part.js';
import { RoomsPart } from '../../src/rooms/part.js';
import { StateStore, type WatchedStream } from '../../src/state/store.js';
import type { ListedStream, RoomStreamsResult, UserCountResult } from '../../src/zego/outcome.js';

const T0 = 1_700_000_000_000;

function config(rooms: RoomConfig[], streams: Config['streams'] = [], maxRoomStreams = 1000): Config {
  return {
    zego: {
      appId: 1234,
      serverSecret: new Secret('0123456789abcdef0123456789abcdef'),
      endpoint: 'http://127.0.0.1:9',
      isTest: false,
      rateLimit: 10,
      streamListRateLimit: 40,
      userNumRateLimit: 8,
      timeoutMs: 2000,
    },
    probe: { intervalMs: 15_000, maxRoomStreams },
    streams,
    rooms,
  };
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

function harness(cfg: Config): Harness {
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
  const ctx: PartContext = {
    logger,
    now: Date.now,
    store,
    recordCallback: () => undefined,
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
    rateChanged: () => undefined,
  };
  const part = new RoomsPart(cfg, ctx, { api: ctx.roomApi });
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

  it("watches the streams a room lists, with the room's labels, active since CreateTime; one that leaves reads inactive within one refresh", async () => {
    const h = harness(config([{ id: 'show', intervalMs: 10_000, labels: { severity: 'critical' } }]));
    h.lists.set('show', [stream('host', 1_699_999_000), stream('guest', 1_699_999_500)]);
    await h.part.start();
    await vi.advanceTimersByTimeAsync(100);
    expect(h.store.get('host')).toMatchObject({
      active: true,
      createTimeSec: 1_699_999_000,
      source: 'room_list',
      roomId: 'show',
      labels: { severity: 'critical' },
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
    expect(text).toContain('zego_room_streams{room_id="show",severity="critical"} 2');
    expect(text).toContain('zego_room_probe_success{room_id="show",severity="critical"} 1');
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
    expect(h.store.get('host')?.labels).toEqual({ team: 'mine' });
    expect(h.store.get('guest')?.labels).toEqual({ team: 'live' });
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
    expect([...h.part.watched()]).toEqual([{ id: 'sa', intervalMs: 15_000, labels: { team: 'x' } }]);
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

  it('reports each room API budget with its api label and the refresh the rooms get', async () => {
    const rooms = Array.from({ length: 600 }, (_, i) => ({ id: `r${i}`, intervalMs: 10_000, labels: {} }));
    const h = harness(config(rooms));
    const [list, count] = h.part.apiBudgets();
    expect(list).toMatchObject({ api: 'DescribeSimpleStreamList', rateLimitConfigured: 40, demandPerSec: 60, achievableRefreshSec: 15 });
    expect(count).toMatchObject({ api: 'DescribeUserNum', rateLimitConfigured: 8, demandPerSec: 6, achievableRefreshSec: 10 });
    await stop(h);
  });
});
