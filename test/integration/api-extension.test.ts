import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { eventually, ROOT, scrape, startExporter, stopAll, type ExporterProcess } from '../helpers/exporter-process.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';

const APP_ID = 987654321;
const SECRET = '0123456789abcdef0123456789abcdef';
/** test/fixtures/throwaway-exporter.mjs: the built exporter plus a made-up Action row and a part that spends it. */
const FIXTURE = join(ROOT, 'test/fixtures/throwaway-exporter.mjs');
/** The fixture's Action: in neither the product's table nor the simulator's. */
const ACTION = 'DescribeThrowawayThing';
/** Its made-up ceiling in production (the fixture's budget is the ceiling itself). */
const LIMIT = 3;
/** The simulator's answer to an Action it does not know (the gateway's "Action not supported"). */
const UNSUPPORTED = '100000007';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Issue 21's proof that a new API is a row and a part: a throwaway part from test/, through a
 * test-only entry point over dist/src/ (no file under src/ changed, no plugin loader in the
 * product), calls a made-up Action through `ctx.api(...)` from 8 loops at once. Its budget keeps
 * the simulator's count of it under the made-up limit in every 1 s window, it has the
 * `api`-labelled self-metrics and a landing line, and on one real redis-server 2 such processes
 * share the one budget. The simulator counts an unknown Action in DescribeRTCStreamState's window
 * (and no stream is configured, only an empty room, which the room APIs' own windows count, so
 * every call counted there is the throwaway part's), and the
 * fixture's calls carry `StreamId=throwaway-<pid>`, so its per-StreamId counts say who spent what.
 */
describe('a throwaway Action and part from test/ (real processes)', () => {
  let sim: Simulator;
  let redis: RedisProcess;

  beforeAll(async () => {
    sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }] });
    redis = await startRedis();
  }, 30_000);
  afterEach(async () => {
    await stopAll();
  });
  afterAll(async () => {
    await sim?.close();
    await redis?.stop();
  });

  const config = (fleet: string): string =>
    `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: ${sim.url}\n  timeout: 2s\n${fleet}streams: []\nrooms:\n  - { id: throwaway-room, interval: 60s }\n`;
  const start = (fleet = ''): Promise<ExporterProcess> =>
    startExporter(config(fleet), { main: FIXTURE, env: { S: SECRET, REDIS_URL: redis.url }, logLevel: 'info', timeoutMs: 30_000 });
  const marker = (m: ExporterProcess): string => `throwaway-${m.child.pid}`;

  /** The throwaway Action's arrivals at the simulator over `ms`, after calls granted before the reset left its window. */
  async function measure(ms: number): Promise<{ seconds: number; stats: ReturnType<Simulator['stats']> }> {
    sim.resetStats();
    const t0 = Date.now();
    await sleep(ms);
    const stats = sim.stats();
    return { seconds: (Date.now() - t0) / 1000, stats };
  }

  it('one process: its budget keeps the made-up Action under its limit in every second, with api-labelled self-metrics and a landing line', async () => {
    const m = await start();
    // Running: the part's calls have been answered (by the gateway's error: the simulator does not know the Action).
    await eventually(
      () => scrape(m.url),
      (x) => (x.get(`zego_exporter_api_requests_total{api="${ACTION}",code="${UNSUPPORTED}",outcome="answered"}`) ?? 0) >= LIMIT,
      20_000,
    );
    await sleep(1500);
    const { seconds, stats } = await measure(6000);
    const calls = stats.apis.DescribeRTCStreamState;
    const perSec = calls.accepted / seconds;
    console.log(`throwaway Action, 1 process, ${seconds.toFixed(1)} s: ${perSec.toFixed(2)} calls/s, peak ${calls.peakWindow.all} in any 1 s (limit ${LIMIT})`);
    expect(calls.throttled).toBe(0);
    // Every 1 s window at the server (a sliding window: every server second included) under the made-up limit…
    expect(calls.peakWindow.all).toBeGreaterThan(0);
    expect(calls.peakWindow.all).toBeLessThanOrEqual(LIMIT);
    // …and the budget spent, not merely idle (8 loops ask for far more; a slot is held 1 s past its answer).
    expect(perSec).toBeGreaterThanOrEqual(LIMIT * 0.5);
    // Every call counted was the throwaway part's, answered with the gateway's error for an unknown Action.
    expect(stats.streamCalls).toEqual({ [marker(m)]: calls.arrivals });
    expect(stats.codes).toEqual({ [UNSUPPORTED]: calls.arrivals });

    const x = await scrape(m.url);
    expect(x.get(`zego_exporter_api_requests_total{api="${ACTION}",code="${UNSUPPORTED}",outcome="answered"}`)).toBeGreaterThan(0);
    expect(x.get(`zego_exporter_api_request_duration_seconds_count{api="${ACTION}"}`)).toBeGreaterThan(0);
    expect(x.get(`zego_exporter_rate_limit{api="${ACTION}"}`)).toBe(LIMIT);
    expect(x.get(`zego_exporter_rate_limit_configured{api="${ACTION}"}`)).toBe(LIMIT);
    expect(x.get(`zego_exporter_budget_slots_held{api="${ACTION}"}`)).toBeGreaterThan(0);
    expect(x.get(`zego_exporter_budget_slots_held{api="${ACTION}"}`)).toBeLessThanOrEqual(LIMIT);
    // 8 loops, at most LIMIT slots: the rest wait in the budget's queue.
    expect(x.get(`zego_exporter_queue_length{api="${ACTION}"}`)).toBeGreaterThan(0);
    expect(x.has(`zego_exporter_achievable_probes_per_second{api="${ACTION}"}`)).toBe(true);

    const landing = await (await fetch(`${m.url}/`)).text();
    // The API service's budget line for it, and the part's own line.
    expect(landing).toContain(`${ACTION}: budget ${LIMIT} calls/s (configured ${LIMIT})`);
    expect(landing).toMatch(new RegExp(`Throwaway part: \\d+ ${ACTION} calls answered \\(last code ${UNSUPPORTED}\\) as ${marker(m)}\\.`));
  }, 90_000);

  it('fleet: 2 processes on one real redis-server share the made-up Action budget: together under its limit in every second, each spending part of it', async () => {
    const fleet = `fleet:\n  redis_url: \${REDIS_URL}\n  key_prefix: throwaway\n  fallback_rate_limit: 2\n`;
    const ms = [await start(fleet), await start(fleet)];
    await eventually(
      () => Promise.all(ms.map((m) => scrape(m.url))),
      (all) =>
        all.every(
          (x) =>
            x.get('zego_exporter_fleet_connected') === 1 &&
            (x.get(`zego_exporter_api_requests_total{api="${ACTION}",code="${UNSUPPORTED}",outcome="answered"}`) ?? 0) > 0,
        ),
      45_000,
    );
    await sleep(1500);
    const { seconds, stats } = await measure(8000);
    const calls = stats.apis.DescribeRTCStreamState;
    const each = ms.map((m) => stats.streamCalls[marker(m)] ?? 0);
    console.log(
      `throwaway Action, 2 processes on one Redis, ${seconds.toFixed(1)} s: ${(calls.accepted / seconds).toFixed(2)} calls/s together (${each.join(' + ')} calls), peak ${calls.peakWindow.all} in any 1 s (limit ${LIMIT})`,
    );
    expect(calls.throttled).toBe(0);
    // Two unshared budgets would send up to 2 × LIMIT in a second: the shared one keeps the pair under LIMIT.
    expect(calls.peakWindow.all).toBeLessThanOrEqual(LIMIT);
    // (The average can exceed LIMIT only by the window's edges: at most LIMIT more calls.)
    expect(calls.accepted).toBeLessThanOrEqual(LIMIT * Math.ceil(seconds + 1));
    expect(calls.accepted / seconds).toBeGreaterThanOrEqual(LIMIT * 0.5);
    // Each process spends part of the one budget, and nothing else arrived.
    for (const n of each) expect(n).toBeGreaterThan(0);
    expect(each[0]! + each[1]!).toBe(calls.arrivals);
    for (const m of ms) {
      const x = await scrape(m.url);
      expect(x.get('zego_exporter_fleet_connected')).toBe(1);
      expect(x.get(`zego_exporter_rate_limit{api="${ACTION}"}`)).toBe(LIMIT);
      expect(x.get(`zego_exporter_api_requests_total{api="${ACTION}",code="${UNSUPPORTED}",outcome="answered"}`)).toBeGreaterThan(0);
    }
  }, 120_000);
});
