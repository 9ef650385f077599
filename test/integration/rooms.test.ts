import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { eventually, scrape, startExporter, stopAll, type ExporterProcess } from '../helpers/exporter-process.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';

const APP_ID = 987654321;
const SECRET = '0123456789abcdef0123456789abcdef';
const ROOMS = 600;
/** Rooms r0..r199 each publish one stream: 200 streams against a discovery cap of 100. */
const WITH_STREAM = 200;
const CAP = 100;
const LIST_BUDGET = 40;
/** 600 rooms at 10 s want 6 DescribeUserNum calls/s: a budget of 5 keeps it saturated too. */
const COUNT_BUDGET = 5;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The rooms part as a real process against the strict simulator: 600 rooms at 10 s want 60
 * DescribeSimpleStreamList calls/s against a 40/s budget (and 6 DescribeUserNum calls/s against
 * 5/s), both saturated, each API on its own window, the per-room rule counted on arrival.
 */
describe('rooms (real process, strict simulator)', () => {
  let sim: Simulator;
  let redis: RedisProcess;

  beforeAll(async () => {
    sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }] });
    for (let i = 0; i < ROOMS; i++) sim.setRoomCounts(`r${i}`, { userCount: i % 50, adminUserCount: i % 2 });
    for (let i = 0; i < WITH_STREAM; i++) sim.publishInRoom(`r${i}`, `s${i}`);
    // A listed stream in room r5, probed once an hour: only the room's list can see it leave.
    sim.publishInRoom('r5', 'host');
    redis = await startRedis();
  }, 30_000);
  afterEach(async () => {
    await stopAll();
  });
  afterAll(async () => {
    await sim?.close();
    await redis?.stop();
  });

  const config = (extra = ''): string =>
    `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: ${sim.url}\n  timeout: 2s\n` +
    `  stream_list_rate_limit: ${LIST_BUDGET}\n  user_num_rate_limit: ${COUNT_BUDGET}\n` +
    `probe:\n  interval: 24h\n  max_room_streams: ${CAP}\n` +
    `streams:\n  - { id: host, interval: 1h }\n` +
    `rooms:\n${Array.from({ length: ROOMS }, (_, i) => `  - { id: r${i}, interval: 10s${i === 5 ? ', labels: { severity: critical }' : ''} }`).join('\n')}\n` +
    extra;

  async function window(ms: number): Promise<{ seconds: number; stats: ReturnType<Simulator['stats']> }> {
    sim.resetStats();
    const t0 = Date.now();
    await sleep(ms);
    return { seconds: (Date.now() - t0) / 1000, stats: sim.stats() };
  }

  it('600 rooms at 10 s: no rate error on either API, the per-room rule kept, ≥ 95% of each budget used, ~10 rooms a DescribeUserNum call, a leaving stream seen within one refresh, the cap held', async () => {
    const m = await startExporter(config(), { env: { S: SECRET }, logLevel: 'info' });
    // The budget math is in the start-up log (written as the rooms part starts, which may come
    // just after "listening": wait for it rather than race it).
    const isPlan = (l: { msg?: unknown }): boolean => typeof l.msg === 'string' && l.msg.startsWith('DescribeSimpleStreamList: 600 rooms');
    for (let i = 0; i < 100 && !m.logs().some(isPlan); i++) await sleep(50);
    const plan = m.logs().find(isPlan);
    expect(plan?.msg).toContain('budget-limited: every room refreshed every 15s');
    // One full round of lists (600 / 40 = 15 s) before measuring.
    await sleep(16_000);
    let metrics = await scrape(m.url);
    expect(metrics.get('zego_exporter_room_streams_discovered')).toBe(CAP);
    expect(metrics.get('zego_exporter_streams_watched')).toBe(CAP + 1);
    expect(metrics.get('zego_room_streams{room_id="r5",severity="critical"}')).toBe(2);
    expect(metrics.get('zego_room_users{room_id="r7"}')).toBe(7);
    expect(metrics.get('zego_room_admin_users{room_id="r7"}')).toBe(1);
    expect(metrics.get('zego_stream_room_info{stream_id="host",room_id="r5"}')).toBe(1);
    expect(metrics.get('zego_stream_active{stream_id="host"}')).toBe(1);

    // host leaves r5 as the measurement window opens, and is watched for while it runs (scrapes
    // spend no API call): within one refresh at this load (15 s) plus a call, it reads inactive.
    const measuring = window(20_000);
    sim.unpublishFromRoom('r5', 'host');
    const left = Date.now();
    metrics = await eventually(
      () => scrape(m.url),
      (x) => x.get('zego_stream_active{stream_id="host"}') === 0,
      17_000,
      250,
    );
    expect(Date.now() - left).toBeLessThanOrEqual(16_000);
    expect(
      metrics.get('zego_stream_state_source{source="room_list",stream_id="host"}') ??
        metrics.get('zego_stream_state_source{stream_id="host",source="room_list"}'),
    ).toBe(1);

    const w = await measuring;
    const list = w.stats.apis.DescribeSimpleStreamList;
    const count = w.stats.apis.DescribeUserNum;
    expect(list.throttled).toBe(0);
    expect(count.throttled).toBe(0);
    // The room APIs' rate codes: 206 (AppID limit) and 207 (per-room rule).
    expect(w.stats.codes['206'] ?? 0).toBe(0);
    expect(w.stats.codes['207'] ?? 0).toBe(0);
    expect(w.stats.roomRuleViolations).toBe(0);
    expect(list.peakWindow.all).toBeLessThanOrEqual(LIST_BUDGET);
    expect(count.peakWindow.all).toBeLessThanOrEqual(COUNT_BUDGET);
    expect(list.accepted / w.seconds).toBeGreaterThanOrEqual(0.95 * LIST_BUDGET);
    expect(count.accepted / w.seconds).toBeGreaterThanOrEqual(0.95 * COUNT_BUDGET);
    expect(w.stats.userNumRooms / w.stats.userNumCalls).toBeGreaterThanOrEqual(9.5);

    // The cap still held after two more rounds of lists.
    metrics = await scrape(m.url);
    expect(metrics.get('zego_exporter_room_streams_discovered')).toBe(CAP);
    expect(metrics.get('zego_exporter_streams_watched')).toBe(CAP + 1);
    expect(metrics.get('zego_exporter_api_requests_total{api="DescribeSimpleStreamList",code="0",outcome="ok"}')).toBeGreaterThan(600);
  }, 80_000);

  it('3 fleet processes on the room budgets: together within each budget, no rate error, the per-room rule kept across them', async () => {
    const fleet = `fleet:\n  redis_url: \${REDIS_URL}\n  key_prefix: rooms-it\n  fallback_rate_limit: 2\n`;
    const ms: ExporterProcess[] = [];
    for (let i = 0; i < 3; i++) ms.push(await startExporter(config(fleet), { env: { S: SECRET, REDIS_URL: redis.url }, logLevel: 'info' }));
    await eventually(
      () => Promise.all(ms.map((m) => scrape(m.url))),
      (all) => all.every((x) => x.get('zego_exporter_fleet_connected') === 1),
      5000,
    );
    // Past the start-up, when every member finds every room due at once and most held by another.
    await sleep(15_000);
    const w = await window(15_000);
    const list = w.stats.apis.DescribeSimpleStreamList;
    const count = w.stats.apis.DescribeUserNum;
    expect(list.throttled).toBe(0);
    expect(count.throttled).toBe(0);
    expect(w.stats.roomRuleViolations).toBe(0);
    expect(list.peakWindow.all).toBeLessThanOrEqual(LIST_BUDGET);
    expect(count.peakWindow.all).toBeLessThanOrEqual(COUNT_BUDGET);
    // Rooms another member holds are skipped and cost no slot: together they spend the list budget.
    expect(list.accepted / w.seconds).toBeGreaterThanOrEqual(0.9 * LIST_BUDGET);
    expect(w.stats.userNumRooms / w.stats.userNumCalls).toBeGreaterThanOrEqual(9.5);
    // Every member did some of the work.
    for (const m of ms) {
      const x = await scrape(m.url);
      expect(x.get('zego_exporter_api_requests_total{api="DescribeSimpleStreamList",code="0",outcome="ok"}') ?? 0).toBeGreaterThan(10);
    }
  }, 70_000);
});
