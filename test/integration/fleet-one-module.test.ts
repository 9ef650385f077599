import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { LINK_DOWN_MESSAGE, LINK_UP_MESSAGE } from '../../src/fleet/redis.js';
import { eventually, scrape, startExporter, stopAll, type ExporterProcess } from '../helpers/exporter-process.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';

const APP_ID = 987654321;
const SECRET = '0123456789abcdef0123456789abcdef';
const STREAMS = Array.from({ length: 40 }, (_, i) => `one-s${i}`);
const ROOMS = 300;
/** The fleet's budgets; fallback_rate_limit 2 of rate_limit 10 is a fifth of each while Redis is away. */
const RATE = { DescribeRTCStreamState: 10, DescribeSimpleStreamList: 20, DescribeUserNum: 5 } as const;
const FALLBACK = 2;
const REPLICAS = 2;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Fleet, rooms and callbacks all on in 2 real processes against the strict simulator and one real
 * redis-server: each process holds 2 connections, and losing Redis is one transition (one log line)
 * per process after which every API — probing and both room APIs — stays within its fallback share.
 */
describe('fleet as one Redis module (real processes, real Redis)', () => {
  let sim: Simulator;
  let redis: RedisProcess;
  let raw: Redis;
  let ms: ExporterProcess[] = [];

  beforeAll(async () => {
    sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }] });
    const now = Math.floor(Date.now() / 1000);
    for (const id of STREAMS) sim.setStream(id, { state: 'active', createTime: now - 60 });
    for (let i = 0; i < ROOMS; i++) sim.setRoomCounts(`room${i}`, { userCount: i % 7, adminUserCount: 0 });
    redis = await startRedis();
    raw = new Redis(redis.url, { maxRetriesPerRequest: 1, lazyConnect: true });
    raw.on('error', () => undefined);
  }, 30_000);
  afterAll(async () => {
    await stopAll();
    raw?.disconnect();
    await sim?.close();
    await redis?.stop();
  });

  const config =
    `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: \${SIM}\n  timeout: 2s\n  rate_limit: ${RATE.DescribeRTCStreamState}\n` +
    `  stream_list_rate_limit: ${RATE.DescribeSimpleStreamList}\n  user_num_rate_limit: ${RATE.DescribeUserNum}\n` +
    `probe:\n  interval: 1s\n` +
    `fleet:\n  redis_url: \${REDIS_URL}\n  key_prefix: one\n  fallback_rate_limit: ${FALLBACK}\n  share_results: true\n` +
    `callbacks:\n  secret: \${CB}\n  listen_address: 127.0.0.1:0\n` +
    `streams:\n${STREAMS.map((id) => `  - ${id}`).join('\n')}\n` +
    `rooms:\n${Array.from({ length: ROOMS }, (_, i) => `  - { id: room${i}, interval: 10s }`).join('\n')}\n`;

  const connected = (m: Map<string, number>): boolean =>
    m.get('zego_exporter_fleet_connected') === 1 && m.get('zego_exporter_callbacks_fanout_connected') === 1;

  it('CLIENT LIST: at most 2 connections per process with fleet, rooms and callbacks all on; one named for commands, one for reads', async () => {
    for (let i = 0; i < REPLICAS; i++) {
      ms.push(
        await startExporter(config, {
          env: { S: SECRET, SIM: sim.url, REDIS_URL: redis.url, CB: 'one-module-callback-secret' },
          logLevel: 'info',
          timeoutMs: 30_000,
        }),
      );
    }
    await eventually(
      () => Promise.all(ms.map((m) => scrape(m.url))),
      (all) => all.every(connected),
      45_000,
    );
    await raw.connect();
    const clients = String(await raw.client('LIST'))
      .split('\n')
      .filter((l) => l.includes('addr='));
    const names = clients.map((l) => /(?:^| )name=(\S*)/.exec(l)?.[1] ?? '');
    console.log(
      `CLIENT LIST with ${REPLICAS} exporters (fleet + rooms + callbacks + share_results): ${clients.length - 1} exporter connections: ${names.filter((n) => n).join(', ')}`,
    );
    // Everything but this test's own connection is an exporter's, and each names its process.
    expect(clients.length - 1).toBeLessThanOrEqual(2 * REPLICAS);
    const byPid = new Map<string, string[]>();
    for (const n of names.filter((x) => x !== '')) {
      const m = /^zego-exporter:.+:(\d+):[0-9a-f]{8}:(command|read)$/.exec(n);
      expect(m, n).not.toBeNull();
      byPid.set(m![1]!, [...(byPid.get(m![1]!) ?? []), m![2]!]);
    }
    expect(byPid.size).toBe(REPLICAS);
    for (const m of ms) expect(byPid.get(String(m.child.pid))?.sort()).toEqual(['command', 'read']);
  }, 150_000);

  it('Redis killed: one transition line per process, every API (probing and both room APIs) under its fallback share and its AppID limit', async () => {
    expect(ms).toHaveLength(REPLICAS);
    let restarted = false;
    onTestFinished(async () => {
      if (!restarted) await redis.restart();
    });
    // Demand beyond every fallback share: 40 streams at 1 s, 300 rooms at 10 s (30 lists/s, 3 counts/s).
    // Rooms a process could not hold while its first connection was being made wait one interval
    // (10 s) before their first list: wait until every process lists rooms, so the window measured
    // below has the room APIs' demand in it and not only the start-up wait.
    const calls = (m: Map<string, number>, api: string): number =>
      [...m].filter(([k]) => k.startsWith(`zego_exporter_api_requests_total{api="${api}",`)).reduce((n, [, v]) => n + v, 0);
    await eventually(
      () => Promise.all(ms.map((m) => scrape(m.url))),
      (all) => all.every((m) => connected(m) && calls(m, 'DescribeSimpleStreamList') > 0 && calls(m, 'DescribeUserNum') > 0),
      45_000,
    );
    const before = ms.map((m) => m.logs().length);
    await redis.kill();
    const killedAt = Date.now();
    await eventually(
      () => Promise.all(ms.map((m) => scrape(m.url))),
      (all) => all.every((m) => m.get('zego_exporter_fleet_connected') === 0 && m.get('zego_exporter_callbacks_fanout_connected') === 0),
      5000,
      50,
    );
    // Calls granted before the kill have left ZEGO's window; then measure the fallback alone.
    await sleep(Math.max(0, killedAt + 2500 - Date.now()));
    sim.resetStats();
    const t0 = Date.now();
    await sleep(6000);
    const stats = sim.stats();
    const seconds = (Date.now() - t0) / 1000;
    const rates: Record<string, number> = {};
    for (const api of Object.keys(RATE) as (keyof typeof RATE)[]) {
      const s = stats.apis[api];
      rates[api] = Math.round((s.accepted / seconds) * 10) / 10;
      const share = Math.max(0.5, (RATE[api] * FALLBACK) / RATE.DescribeRTCStreamState);
      expect(s.throttled, api).toBe(0);
      // Each process at its share of this API's budget: never the replicas × budget an unshared one would try.
      expect(s.accepted / seconds, api).toBeLessThanOrEqual(REPLICAS * share * 1.15 + 0.3);
      expect(s.accepted / seconds, api).toBeGreaterThanOrEqual(REPLICAS * share * 0.5);
      expect(s.peakWindow.all, api).toBeLessThanOrEqual(RATE[api]);
    }
    console.log(
      `Redis away, ${REPLICAS} processes, ${seconds.toFixed(1)} s: calls/s per API ${JSON.stringify(rates)}; room rule broken across replicas ${stats.roomRuleViolations} times (docs/fleet.md: not held without Redis)`,
    );
    expect(stats.codes['30002'] ?? 0).toBe(0);
    // The kill is one transition per process, whichever of its users (budgets, room holds, fan-out) noticed it.
    const transitions = (m: ExporterProcess, from: number): string[] =>
      m
        .logs()
        .slice(from)
        .filter((l) => l.msg === LINK_UP_MESSAGE || l.msg === LINK_DOWN_MESSAGE)
        .map((l) => l.msg);
    const atRestart = ms.map((m) => m.logs().length);
    for (const [i, m] of ms.entries()) {
      expect(transitions(m, before[i]!)).toEqual([LINK_DOWN_MESSAGE]);
      const x = await scrape(m.url);
      expect(x.get('zego_exporter_rate_limit{api="DescribeRTCStreamState"}')).toBe(FALLBACK);
    }

    // Back: one transition each, and with the room holds in Redis again the per-room rule holds across replicas.
    await redis.restart();
    restarted = true;
    // 1.5 s of good probes; up to 60 s if Redis failed within 10 s of its last return (on a loaded machine an
    // event loop late by more than 150 ms makes a command time out, and the switch doubles its wait).
    await eventually(
      () => Promise.all(ms.map((m) => scrape(m.url))),
      (all) => all.every(connected),
      60_000,
      50,
    );
    // Holds taken on each process's own rule during the outage run out first (10 s after their calls).
    await sleep(12_000);
    sim.resetStats();
    await sleep(4000);
    const back = sim.stats();
    expect(back.roomRuleViolations).toBe(0);
    for (const api of Object.keys(RATE) as (keyof typeof RATE)[]) {
      expect(back.apis[api].throttled, api).toBe(0);
      expect(back.apis[api].peakWindow.all, api).toBeLessThanOrEqual(RATE[api]);
    }
    for (const [i, m] of ms.entries()) expect(transitions(m, atRestart[i]!)[0]).toBe(LINK_UP_MESSAGE);
    ms = [];
  }, 180_000);
});
