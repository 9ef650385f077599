import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { scrape, startExporter, stopAll, type ExporterProcess } from '../helpers/exporter-process.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';

const APP_ID = 864209753;
const SECRET = 'f1ee70123456789abcdef0123456789a';
const ROOM = 'zego_room_';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The room's series in one scrape, by family name (the room's labels left out). */
function roomSeries(m: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of m) if (k.startsWith(ROOM) && k.includes('room_id="show"')) out.set(k.slice(0, k.indexOf('{')), v);
  return out;
}

/** What the issue saw on the second replica: probe success without a successful list behind it. */
function inconsistency(r: Map<string, number>): string | null {
  if (r.size === 0) return null;
  const want = ['zego_room_probe_success', 'zego_room_last_success_timestamp_seconds'];
  const missing = want.filter((n) => !r.has(n));
  if (missing.length > 0) return `missing ${missing.join(', ')} beside ${[...r.keys()].join(', ')}`;
  if (r.get('zego_room_probe_success') === 1 && !(r.get('zego_room_last_success_timestamp_seconds')! > 0)) return 'probe_success 1 with last_success 0';
  if (r.get('zego_room_probe_success') === 1 && !r.has('zego_room_streams')) return 'probe_success 1 without zego_room_streams';
  if (r.has('zego_room_streams') !== r.get('zego_room_last_success_timestamp_seconds')! > 0) return 'zego_room_streams and last_success disagree';
  return null;
}

/**
 * The set-up: two replicas in fleet mode with share_results on one room. The second
 * finds the room held by the first (the per-room rule across the fleet) and waits an interval
 * for its own list, while its user count answers at once. From its first scrape on, its room
 * series are absent or agree: never probe success 1 beside last success 0 and no stream count.
 */
describe('rooms in fleet mode with share_results (real Redis, strict simulator)', () => {
  let sim: Simulator;
  let redis: RedisProcess;

  beforeAll(async () => {
    sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }] });
    sim.publishInRoom('show', 'host');
    sim.setRoomCounts('show', { userCount: 3 });
    redis = await startRedis();
  }, 30_000);
  afterAll(async () => {
    await stopAll();
    await sim?.close();
    await redis?.stop();
  });

  const config = (): string =>
    `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: ${sim.url}\n  timeout: 2s\n` +
    `fleet:\n  redis_url: \${REDIS_URL}\n  key_prefix: share-rooms\n  fallback_rate_limit: 2\n  share_results: true\n` +
    `rooms:\n  - { id: show, interval: 10s, labels: { severity: critical } }\n`;

  it("the second replica's room series are consistent from its first scrape", async () => {
    const env = { S: SECRET, REDIS_URL: redis.url };
    const first = await startExporter(config(), { env, logLevel: 'info' });
    await sleep(1500); // the first replica has taken the room
    const second: ExporterProcess = await startExporter(config(), { env, logLevel: 'info' });
    const seen: string[] = [];
    let scrapes = 0;
    let absent = 0;
    let whole: Map<string, number> | undefined;
    // Whichever replica asks first takes the room each round: the second may lose a few rounds.
    const until = Date.now() + 45_000;
    while (Date.now() < until && whole === undefined) {
      const r = roomSeries(await scrape(second.url));
      scrapes++;
      const bad = inconsistency(r);
      if (bad) seen.push(`${bad}: ${JSON.stringify([...r])}`);
      if (r.size === 0) absent++;
      if (r.get('zego_room_probe_success') === 1) whole = r;
      await sleep(100);
    }
    expect(seen).toEqual([]);
    // The room was held elsewhere for a while (the case), then read.
    expect(absent).toBeGreaterThan(0);
    expect(whole?.get('zego_room_streams')).toBe(1);
    expect(whole?.get('zego_room_users')).toBe(3);
    expect(scrapes).toBeGreaterThan(absent);
    expect(roomSeries(await scrape(first.url)).get('zego_room_probe_success')).toBe(1);
  }, 75_000);
});
