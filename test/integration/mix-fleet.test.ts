import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '../../simulator/index.js';
import { callbackSignature } from '../../src/callbacks/verify.js';
import { eventually, scrape, startExporter, stopAll, type ExporterProcess } from '../helpers/exporter-process.js';
import { startRedis, type RedisProcess } from '../helpers/redis.js';

const APP_ID = 987650023;
const SECRET = '0123456789abcdef0123456789abcdef';
const CB_SECRET = 'mix-fleet-callback-secret';

let nonceN = 0;

/** A mix callback signed as ZEGO signs it, task_id AppID-prefixed. */
function mixCallback(event: 'mix_start' | 'mix_stop', taskId: string, seq: number): string {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = `${process.pid}${++nonceN}${Math.floor(Math.random() * 1e6)}`;
  return JSON.stringify({
    appid: APP_ID,
    event,
    task_id: `${APP_ID}:${taskId}`,
    seq,
    channel_id: 'stage',
    mix_stream_alias: `${taskId}-out`,
    timestamp,
    nonce,
    signature: callbackSignature(CB_SECRET, timestamp, nonce),
  });
}

async function post(cbUrl: string, body: string): Promise<number> {
  const res = await fetch(`${cbUrl}/zego/callback`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body });
  await res.text();
  return res.status;
}

/**
 * Mix callbacks in fleet mode: three exporter processes on one redis-server and the strict
 * simulator. ZEGO posts each callback to one URL (one replica behind a Service); the callback
 * fan-out carries mix_start / mix_stop to the others. Polling is set to a minute, so what every
 * replica shows within a second came by the fan-out.
 */
describe('mix callbacks in fleet mode (3 real processes, real Redis)', () => {
  let sim: Simulator;
  let redis: RedisProcess;
  let replicas: ExporterProcess[];
  let cbUrls: string[];

  beforeAll(async () => {
    sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }] });
    redis = await startRedis();
    sim.startMix('show', { inputs: ['host'] });
    const yaml =
      `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: ${sim.url}\n  timeout: 2s\n` +
      `callbacks:\n  secret: \${CB}\n  listen_address: 127.0.0.1:0\n  discover:\n    mix_task_patterns: ["found-*"]\n    max_mix_tasks: 5\n` +
      `fleet:\n  redis_url: \${REDIS_URL}\n  key_prefix: mixfleet\n` +
      `mix_tasks:\n  - { id: show, interval: 60s }\n`;
    replicas = await Promise.all(
      [0, 1, 2].map(() => startExporter(yaml, { env: { S: SECRET, CB: CB_SECRET, REDIS_URL: redis.url }, logLevel: 'info', timeoutMs: 30_000 })),
    );
    cbUrls = await Promise.all(replicas.map((r) => r.callbackUrl()));
    // Each replica polled the task once (running) and reads the fan-out.
    await eventually(
      () => Promise.all(replicas.map((r) => scrape(r.url))),
      (all) => all.every((m) => m.get('zego_exporter_callbacks_fanout_connected') === 1 && m.get('zego_mix_task_active{task_id="show"}') === 1),
      20_000,
      100,
    );
  }, 60_000);
  afterAll(async () => {
    await stopAll();
    await sim?.close();
    await redis?.stop();
  });

  it('a mix_stop sent to one of 3 replicas is seen within 1 s on all replicas (zego_mix_task_active 0 on each), counted by callback on each', async () => {
    expect(await post(cbUrls[1]!, mixCallback('mix_stop', 'show', 2))).toBe(200);
    // From its acceptance: replica 1 applied it before answering 200, the fan-out starts there.
    const sentAt = Date.now();
    // Each replica watched on its own: when a scrape of it first shows the stop (an upper bound: the
    // scrape's end), not when a round of all three does.
    const seenMs = await Promise.all(
      replicas.map(async (r) => {
        await eventually(
          () => scrape(r.url),
          (m) => m.get('zego_mix_task_active{task_id="show"}') === 0,
          3000,
          10,
        );
        return Date.now() - sentAt;
      }),
    );
    console.log(`mix fleet: mix_stop accepted (200) → zego_mix_task_active 0 on each replica after ${seenMs.join(', ')} ms (loaded machine)`);
    expect(Math.max(...seenMs)).toBeLessThan(1000);
    const all = await Promise.all(replicas.map((r) => scrape(r.url)));
    for (const m of all) expect(m.get('zego_mix_task_stops_total{task_id="show",reason="callback"}')).toBe(1);
    // Received once (at replica 1); the others applied the fan-out's entry without counting it as received.
    const received = all.map((m) => m.get('zego_exporter_callbacks_total{event="mix_stop",result="accepted"}') ?? 0);
    expect(received).toEqual([0, 1, 0]);
  });

  it('a mix_start for an unlisted task, sent to one replica, is discovered by every replica (each within its own cap) with its output', async () => {
    sim.startMix('found-1', { inputs: ['in-1'] });
    expect(await post(cbUrls[2]!, mixCallback('mix_start', 'found-1', 1))).toBe(200);
    const id = `${APP_ID}:found-1`;
    const all = await eventually(
      () => Promise.all(replicas.map((r) => scrape(r.url))),
      (ms) => ms.every((m) => m.get(`zego_mix_task_active{task_id="${id}"}`) === 1),
      3000,
      20,
    );
    for (const m of all) {
      expect(m.get('zego_exporter_discovered{source="mix_callback"}')).toBe(1);
      expect(m.get(`zego_mix_task_info{task_id="${id}",room_id="stage",output_stream_id="found-1-out"}`)).toBe(1);
    }
  });
});
