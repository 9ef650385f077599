import { afterAll, afterEach, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { LINK_DOWN_MESSAGE, LINK_UP_MESSAGE } from '../../src/fleet/redis.js';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { eventually, scrape, startExporter, stopAll, type ExporterProcess } from '../helpers/exporter-process.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';

const APP_ID = 987654321;
const SECRET = '0123456789abcdef0123456789abcdef';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

type Member = ExporterProcess;

/**
 * Several exporter processes on one AppID against the simulator's strict 40/s window and a real
 * redis-server: what they share is only Redis and the API.
 */
describe('fleet mode (real Redis, strict simulator)', () => {
  let sim: Simulator;
  let redis: RedisProcess;
  const members: Member[] = [];
  let prefixN = 0;

  beforeAll(async () => {
    sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }] });
    const now = Math.floor(Date.now() / 1000);
    for (let p = 0; p < 4; p++) for (let i = 0; i < 100; i++) sim.setStream(`p${p}-s${i}`, { state: 'active', createTime: now - i });
    redis = await startRedis();
  });
  afterEach(async () => {
    members.splice(0);
    await stopAll();
  });
  afterAll(async () => {
    await sim?.close();
    await redis?.stop();
  });

  async function start(streams: string[], opts: { rate: number; intervalMs: number; share?: boolean; prefix: string }): Promise<Member> {
    const m = await startExporter(
      `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: ${sim.url}\n  rate_limit: ${opts.rate}\n  timeout: 2s\n` +
        `probe:\n  interval: ${opts.intervalMs}ms\n` +
        `fleet:\n  redis_url: \${REDIS_URL}\n  key_prefix: ${opts.prefix}\n  fallback_rate_limit: 2\n  share_results: ${opts.share ?? false}\n` +
        `streams:\n${streams.map((id) => `  - ${id}`).join('\n')}\n`,
      { env: { S: SECRET, REDIS_URL: redis.url }, logLevel: 'info' },
    );
    members.push(m);
    return m;
  }

  /** The exporter's own gauges only (keeps failure messages short). */
  const metrics = async (m: Member): Promise<Map<string, number>> =>
    new Map(
      [...(await scrape(m.url))].filter(([k]) => k.startsWith('zego_exporter_fleet') || k.startsWith('zego_exporter_rate_limit{api="DescribeRTCStreamState"}')),
    );
  const streamMetrics = async (m: Member): Promise<Map<string, number>> => scrape(m.url);
  const ids = (p: number): string[] => Array.from({ length: 100 }, (_, i) => `p${p}-s${i}`);

  async function measure(ms: number): Promise<{ perSec: number; stats: ReturnType<Simulator['stats']> }> {
    sim.resetStats();
    const t0 = Date.now();
    await sleep(ms);
    const stats = sim.stats();
    return { perSec: stats.accepted / ((Date.now() - t0) / 1000), stats };
  }

  it('4 exporters × 100 streams share rate_limit 38: no 30002, ≥ 90% used; one stops, the others take up its share', async () => {
    const prefix = `fleet${++prefixN}`;
    const ms = await Promise.all([0, 1, 2, 3].map((p) => start(ids(p), { rate: 38, intervalMs: 1000, prefix })));
    await eventually(
      () => Promise.all(ms.map(metrics)),
      (all) => all.every((m) => m.get('zego_exporter_fleet_connected') === 1),
      5000,
    );
    await sleep(1500);

    const all = await measure(5000);
    expect(all.stats.throttled).toBe(0);
    expect(all.stats.codes['30002'] ?? 0).toBe(0);
    expect(all.stats.peakWindow.all).toBeLessThanOrEqual(38);
    expect(all.perSec).toBeGreaterThanOrEqual(0.9 * 38);
    // Every member got a share (p-queue order and the serialized acquirer keep it fair enough).
    for (const p of [0, 1, 2, 3]) {
      const calls = ids(p).reduce((n, id) => n + (all.stats.streamCalls[id] ?? 0), 0);
      expect(calls).toBeGreaterThan(0.1 * all.stats.accepted);
    }

    // Each local budget is at the fleet's full rate: a process alone could spend all of it.
    expect((await metrics(ms[0]!)).get('zego_exporter_rate_limit{api="DescribeRTCStreamState"}')).toBe(38);

    expect(await ms[3]!.stop('SIGTERM')).toBe(0);
    members.splice(members.indexOf(ms[3]!), 1);
    await sleep(1500);
    const three = await measure(5000);
    expect(three.stats.throttled).toBe(0);
    expect(three.stats.peakWindow.all).toBeLessThanOrEqual(38);
    expect(three.perSec).toBeGreaterThanOrEqual(0.9 * 38);
    expect(ids(3).reduce((n, id) => n + (three.stats.streamCalls[id] ?? 0), 0)).toBe(0);
  });

  it('Redis killed mid-run: each falls back to fallback_rate_limit at once, no throttling storm, back to the shared budget when Redis returns', async () => {
    const prefix = `fleet${++prefixN}`;
    let restarted = false;
    onTestFinished(async () => {
      if (!restarted) await redis.restart();
    });
    const ms = await Promise.all([0, 1, 2].map((p) => start(ids(p), { rate: 38, intervalMs: 1000, prefix })));
    await eventually(
      () => Promise.all(ms.map(metrics)),
      (all) => all.every((m) => m.get('zego_exporter_fleet_connected') === 1),
      5000,
    );
    await sleep(1500);
    sim.resetStats();

    await redis.kill();
    const killedAt = Date.now();
    const down = await eventually(
      () => Promise.all(ms.map(metrics)),
      (all) => all.every((m) => m.get('zego_exporter_fleet_connected') === 0),
      3000,
      50,
    );
    for (const m of down) expect(m.get('zego_exporter_rate_limit{api="DescribeRTCStreamState"}')).toBe(2);
    // The switch itself releases nothing at once: from the kill on, at most the fallback slots per process.
    expect(sim.stats().peakWindow.all).toBeLessThanOrEqual(38);
    await sleep(Math.max(0, killedAt + 2500 - Date.now())); // calls granted before the kill have run out
    const fallback = await measure(3000);

    // 3 processes × 2/s; never the 3 × 38 an unshared budget would have tried.
    expect(fallback.perSec).toBeLessThanOrEqual(3 * 2 + 1);
    expect(fallback.perSec).toBeGreaterThanOrEqual(3 * 2 * 0.7);
    for (const m of ms)
      expect(
        m
          .logs()
          .filter((l) => l.msg.startsWith('fleet Redis'))
          .map((l) => l.msg),
      ).toEqual([LINK_UP_MESSAGE, LINK_DOWN_MESSAGE]);

    sim.resetStats();
    await redis.restart();
    restarted = true;
    await eventually(
      () => Promise.all(ms.map(metrics)),
      (all) => all.every((m) => m.get('zego_exporter_fleet_connected') === 1 && m.get('zego_exporter_rate_limit{api="DescribeRTCStreamState"}') === 38),
      5000,
      50,
    );
    await sleep(1500);
    const back = await measure(4000);

    expect(back.perSec).toBeGreaterThanOrEqual(0.9 * 38);
    // Over the whole outage and the switch back: never throttled, never above the limit.
    const whole = sim.stats();
    expect(whole.throttled).toBe(0);
    expect(whole.peakWindow.all).toBeLessThanOrEqual(38);
  });

  it('share_results: an HA pair on the same 100 streams makes about one call per stream per interval, and both serve the real probe time', async () => {
    const prefix = `fleet${++prefixN}`;
    const intervalMs = 4000; // 25 calls/s of demand: under the budget, so any excess would be duplicates
    const [a, b] = await Promise.all([
      start(ids(0), { rate: 38, intervalMs, share: true, prefix }),
      start(ids(0), { rate: 38, intervalMs, share: true, prefix }),
    ]);
    await eventually(
      () => Promise.all([a!, b!].map(metrics)),
      (all) => all.every((m) => m.get('zego_exporter_fleet_connected') === 1),
      5000,
    );
    await sleep(2500);
    const run = await measure(8000);
    const perStreamPerInterval = ids(0).map((id) => (run.stats.streamCalls[id] ?? 0) / (8000 / intervalMs));
    const mean = perStreamPerInterval.reduce((x, y) => x + y, 0) / perStreamPerInterval.length;
    expect(mean).toBeGreaterThan(0.8);
    expect(mean).toBeLessThan(1.25);
    expect(run.stats.throttled).toBe(0);

    const [ma, mb] = await Promise.all([streamMetrics(a!), streamMetrics(b!)]);
    // Both replicas serve every stream as up, from calls only one of them made.
    const key = (id: string): string => `zego_stream_active{stream_id="${id}"}`;
    for (const id of ids(0)) {
      expect(ma.get(key(id))).toBe(1);
      expect(mb.get(key(id))).toBe(1);
    }
    const reqs = (m: Map<string, number>): number => m.get('zego_exporter_api_requests_total{api="DescribeRTCStreamState",code="0",outcome="active"}') ?? 0;
    expect(reqs(ma) + reqs(mb)).toBeGreaterThan(0);
    // A shared result carries its probe time: never newer than now, never older than about one interval.
    const nowSec = Date.now() / 1000;
    for (const m of [ma, mb]) {
      for (const id of ids(0)) {
        const t = m.get(`zego_stream_last_success_timestamp_seconds{stream_id="${id}"}`)!;
        expect(t).toBeLessThanOrEqual(nowSec);
        expect(nowSec - t).toBeLessThan((2 * intervalMs) / 1000 + 1);
      }
    }
  });
});
