import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ActionRow, CallResult } from '../../src/api/actions.js';
import { ApiService } from '../../src/api/service.js';
import { Secret } from '../../src/config/secret.js';
import type { Config, RoomConfig } from '../../src/config/types.js';
import type { RoomLock } from '../../src/rooms/list-scheduler.js';
import { RoomsPart } from '../../src/rooms/part.js';
import type { DiscoveryService } from '../../src/discovery/service.js';
import type { StateStore, WatchedStream } from '../../src/state/store.js';
import { discovering } from '../helpers/discovery.js';
import { fakePartContext } from '../helpers/part-context.js';
import type { ListedStream, RoomStreamsResult, UserCountResult } from '../../src/zego/outcome.js';

const T0 = 1_700_000_000_000;

/** A room as the tests write it: streams_severity left at its default unless given. */
type TestRoom = Omit<RoomConfig, 'streamsSeverity'> & Partial<Pick<RoomConfig, 'streamsSeverity'>>;

function config(testRooms: TestRoom[], streams: Config['streams'] = [], maxRoomStreams = 1000, roomStreamsForgetAfterMs = 3_600_000): Config {
  const rooms: RoomConfig[] = testRooms.map((r) => ({ streamsSeverity: 'none', ...r }));
  return {
    zego: {
      appId: 1234,
      serverSecret: new Secret('0123456789abcdef0123456789abcdef'),
      endpoint: 'http://127.0.0.1:9',
      isTest: false,
      rateLimit: 10,
      streamListRateLimit: 40,
      userNumRateLimit: 8,
      mixTaskInfoRateLimit: 8,
      timeoutMs: 2000,
    },
    probe: { intervalMs: 15_000, maxRoomStreams, roomStreamsForgetAfterMs },
    streams,
    rooms,
  };
}

interface Harness {
  part: RoomsPart;
  /** The API service the part's callers come from (its budgets, their status). */
  api: ApiService;
  store: StateStore;
  /** What each room lists now (tests change it); a function gives a raw bad answer. */
  lists: Map<string, ListedStream[] | 'bad'>;
  users: Map<string, number>;
  logs: { msg: string; room_id?: string }[];
  calls: { api: string; code: string }[];
  /** The discovery service the part reports to (the real one, over the store). */
  discovery: DiscoveryService;
  /** What discovery watches (the streams found in rooms). */
  watched: () => WatchedStream[];
  /** A reload as the Exporter does it: discovery takes the config, then the part, then the watched set. */
  reload: (cfg: Config) => void;
}

function harness(cfg: Config, lock?: RoomLock): Harness {
  const logs: Harness['logs'] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void logs.push(JSON.parse(line) as Harness['logs'][number]) });
  const lists = new Map<string, ListedStream[] | 'bad'>();
  const users = new Map<string, number>();
  const calls: Harness['calls'] = [];
  const describeSimpleStreamList = async (roomId: string): Promise<RoomStreamsResult> => {
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
  };
  const describeUserNum = async (roomIds: readonly string[]): Promise<UserCountResult> => ({
    roomIds,
    sentAtMs: Date.now(),
    durationMs: 1,
    code: '0',
    outcome: { kind: 'ok', counts: roomIds.map((roomId) => ({ roomId, userCount: users.get(roomId) ?? 0, adminUserCount: 1 })) },
  });
  // The room APIs answered by the functions above, in place of the client; the service is the real one.
  const api = new ApiService({
    zego: cfg.zego,
    now: Date.now,
    transport: {
      call: async <I, R extends CallResult>(row: ActionRow<I, R>, input: I): Promise<R> => {
        const r = row.name === 'DescribeSimpleStreamList' ? await describeSimpleStreamList(input as string) : await describeUserNum(input as readonly string[]);
        return r as unknown as R;
      },
    },
    record: (action, r) => calls.push({ api: action, code: r.code }),
  });
  const d = discovering(cfg, logger);
  const ctx = fakePartContext({ logger, ...d.ctx, api: api.api.bind(api) });
  const part = new RoomsPart(cfg, ctx, lock ? { lock } : {});
  return {
    part,
    api,
    store: d.store,
    lists,
    users,
    logs,
    calls,
    discovery: d.discovery,
    watched: d.watched,
    reload: (c) => d.reload(c, () => part.applyConfig(c)),
  };
}

/** As the Exporter stops: the budgets first, then the part. */
async function stop(h: Harness): Promise<void> {
  let done = false;
  const p = h.api
    .stop(0)
    .then(() => h.part.stop())
    .then(() => (done = true));
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

  it('a listed stream keeps its own labels and is never forgotten; a discovered one is forgotten after probe.room_streams_forget_after closed', async () => {
    const cfg = config(
      [{ id: 'show', intervalMs: 10_000, labels: { team: 'live' } }],
      [{ id: 'host', intervalMs: 5000, labels: { team: 'mine' } }],
      1000,
      600_000,
    );
    const h = harness(cfg);
    h.lists.set('show', [stream('host'), stream('guest')]);
    await h.part.start();
    await vi.advanceTimersByTimeAsync(100);
    expect(h.store.get('host')).toMatchObject({ labels: { team: 'mine' }, origin: 'config' });
    expect(h.store.get('guest')).toMatchObject({ labels: { team: 'live', severity: 'none' }, origin: 'room' });
    h.lists.set('show', []);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(h.store.get('host')?.active).toBe(false);
    const closedAt = h.store.get('guest')?.changedAtMs;
    expect(h.store.get('guest')?.active).toBe(false);
    vi.setSystemTime(closedAt! + 600_000 - 1);
    h.discovery.sweep();
    expect(h.store.get('guest')).toBeDefined();
    vi.setSystemTime(closedAt! + 600_000);
    h.discovery.sweep();
    expect(h.store.get('guest')).toBeUndefined();
    expect(h.store.get('host')).toBeDefined();
    expect(h.part.gauges[0]!.read()).toBe(0);
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
    expect(
      h
        .watched()
        .map((w) => w.id)
        .sort(),
    ).toEqual(['sa', 'sb']);
    const after = config([
      { id: 'a', intervalMs: 20_000, labels: { team: 'x' } },
      { id: 'c', intervalMs: 10_000, labels: {} },
    ]);
    h.reload(after);
    expect(h.store.get('sb')).toBeUndefined();
    const callsBefore = h.calls.length;
    await vi.advanceTimersByTimeAsync(25_000);
    expect(h.watched()).toEqual([{ id: 'sa', intervalMs: 15_000, labels: { team: 'x', severity: 'none' }, origin: 'room' }]);
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
    const h = harness(config([{ id: 'show', intervalMs: 30_000, labels: { severity: 'critical' } }]), lock);
    h.lists.set('show', [stream('host')]);
    h.users.set('show', 3);
    await h.part.start();
    // The user count answers at once (DescribeUserNum has no per-room hold); the list waits.
    await vi.advanceTimersByTimeAsync(5000);
    expect(h.calls.some((c) => c.api === 'DescribeUserNum')).toBe(true);
    expect(h.calls.some((c) => c.api === 'DescribeSimpleStreamList')).toBe(false);
    expect(h.part.metrics('text')).not.toMatch(/^zego_room_/m);
    // The page shows what is known: users, no list yet.
    expect(h.part.landing()?.table?.rows[0]).toEqual(['show', 'severity=critical', '', '3', '1', 'never', 'pending']);
    heldElsewhere = false;
    await vi.advanceTimersByTimeAsync(30_000);
    const text = h.part.metrics('text');
    const sample = (name: string): string | undefined => new RegExp(`^${name}\\{room_id="show",severity="critical"\\} (\\S+)$`, 'm').exec(text)?.[1];
    expect(sample('zego_room_streams')).toBe('1');
    expect(sample('zego_room_users')).toBe('3');
    expect(sample('zego_room_probe_success')).toBe('1');
    expect(Number(sample('zego_room_last_success_timestamp_seconds'))).toBeGreaterThan(T0 / 1000);
    expect(h.part.landing()?.table?.rows[0]).toEqual(['show', 'severity=critical', '1', '3', '1', expect.stringMatching(/^\d+s ago$/), 'ok']);
    await stop(h);
  });

  it('reports each room API budget with its api label and the refresh the rooms get', async () => {
    const rooms = Array.from({ length: 600 }, (_, i) => ({ id: `r${i}`, intervalMs: 10_000, labels: {} }));
    const h = harness(config(rooms));
    const [list, count] = h.api.status();
    expect(list).toMatchObject({ api: 'DescribeSimpleStreamList', rateLimitConfigured: 40, demandPerSec: 60, achievableRefreshSec: 15 });
    expect(count).toMatchObject({ api: 'DescribeUserNum', rateLimitConfigured: 8, demandPerSec: 6, achievableRefreshSec: 10 });
    await stop(h);
  });
});
