/**
 * Callbacks in fleet mode: N exporter processes on one redis-server and the strict simulator,
 * callbacks posted round-robin (as a Service in front of replicas spreads ZEGO's posts), and the
 * time from each POST until every replica shows it on /metrics. Shared by
 * test/integration/callbacks-fleet.test.ts and `npm run bench -- --only callbacks-fleet`.
 */
import { callbackSignature } from '../src/callbacks/verify.js';
import { startSimulator, type Simulator } from '../simulator/index.js';
import { startExporter, stopAll, type ExporterProcess } from '../test/helpers/exporter-process.js';
import { startRedis, type RedisProcess } from '../test/helpers/redis.js';

export const FLEET_APP_ID = 987650001;
const SERVER_SECRET = '0123456789abcdef0123456789abcdef';
export const FLEET_CALLBACK_SECRET = 'fleet-callback-secret';

export interface FleetHarness {
  sim: Simulator;
  redis: RedisProcess;
  replicas: ExporterProcess[];
  /** Each replica's callback listener (callbacks go there; /metrics is on `replicas[i].url`). */
  cbUrls: string[];
  streams: string[];
  /** Starts replica i again (after a stop), same config. */
  restart(i: number, env?: Record<string, string>): Promise<ExporterProcess>;
  stop(): Promise<void>;
}

export function fleetConfig(sim: Simulator, streams: string[], opts: { intervalMs?: number; rate?: number } = {}): string {
  return (
    `zego:\n  app_id: ${FLEET_APP_ID}\n  server_secret: \${S}\n  endpoint: ${sim.url}\n  rate_limit: ${opts.rate ?? 10}\n  timeout: 2s\n` +
    `probe:\n  interval: ${opts.intervalMs ?? 60_000}ms\n` +
    `callbacks:\n  secret: \${CB}\n  previous_secret: \${CB_PREVIOUS:-}\n  fanout_accept_unsigned: \${ACCEPT_UNSIGNED:-false}\n  listen_address: 127.0.0.1:0\n  discover:\n    patterns: ["\${DISC}"]\n    max_streams: 2\n` +
    `fleet:\n  redis_url: \${REDIS_URL}\n  key_prefix: cbfleet\n  fallback_rate_limit: 2\n` +
    `streams:\n${streams.map((id) => `  - ${id}`).join('\n')}\n`
  );
}

/**
 * The simulator, a redis-server and `n` replicas that have each probed every stream once (closed,
 * long ago). Each discovers streams matching $DISC (default disc-*; `env` may give a replica its
 * own), at most 2. `env` may also give a replica its own callback secret ($CB), a previous one
 * ($CB_PREVIOUS) and $ACCEPT_UNSIGNED (callbacks.fanout_accept_unsigned).
 */
export async function startFleetHarness(
  n: number,
  streams: string[],
  opts: { intervalMs?: number; rate?: number; env?: (i: number) => Record<string, string> } = {},
): Promise<FleetHarness> {
  const sim = await startSimulator({ apps: [{ appId: FLEET_APP_ID, secret: SERVER_SECRET }] });
  const redis = await startRedis();
  const now = Math.floor(Date.now() / 1000);
  for (const id of streams) sim.setStream(id, { state: 'closed', createTime: now - 600, closeTime: now - 300 });
  const yaml = fleetConfig(sim, streams, opts);
  const launch = (i: number, extra: Record<string, string> = {}): Promise<ExporterProcess> =>
    startExporter(yaml, {
      env: { S: SERVER_SECRET, CB: FLEET_CALLBACK_SECRET, REDIS_URL: redis.url, DISC: 'disc-*', ...opts.env?.(i), ...extra },
      logLevel: 'info',
    });
  const stop = async (): Promise<void> => {
    await stopAll();
    await sim.close();
    await redis.stop();
  };
  let replicas: ExporterProcess[];
  let cbUrls: string[];
  try {
    replicas = await Promise.all(Array.from({ length: n }, (_, i) => launch(i)));
    cbUrls = await Promise.all(replicas.map((r) => r.callbackUrl()));
    await Promise.all(replicas.map((r) => waitFor(r.url, streams)));
  } catch (err) {
    // A harness that never comes up still stops what it started: nothing outlives the test.
    await stop();
    throw err;
  }
  return {
    sim,
    redis,
    replicas,
    cbUrls,
    streams,
    restart: async (i, env) => {
      replicas[i] = await launch(i, env);
      cbUrls[i] = await replicas[i]!.callbackUrl();
      return replicas[i]!;
    },
    stop,
  };
}

/** Every stream's zego_stream_active on one replica. */
export async function actives(url: string): Promise<Map<string, number>> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^zego_stream_active\{stream_id="([^"]+)"\} (\S+)$/gm)) out.set(m[1]!, Number(m[2]));
  return out;
}

async function waitFor(url: string, streams: string[]): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const a = await actives(url);
    if (streams.every((id) => a.has(id))) return;
    if (Date.now() > deadline) throw new Error(`streams not probed on ${url} within 15 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

let nonceN = 0;
/** A signed stream_create (seq odd) or stream_close (seq even) as ZEGO sends it; `nonce` fixed to replay one, `secret` for a rotation. */
export function signedEvent(id: string, seq: number, opts: { nonce?: string; nowMs?: number; secret?: string } = {}): Record<string, string> {
  const nowMs = opts.nowMs ?? Date.now();
  const timestamp = String(Math.floor(nowMs / 1000));
  const nonce = opts.nonce ?? `${process.pid}${++nonceN}${Math.floor(Math.random() * 1e6)}`;
  const base = { appid: String(FLEET_APP_ID), stream_id: id, stream_seq: String(seq), create_time_ms: String(nowMs - 1000), timestamp, nonce };
  const ev = seq % 2 === 1 ? { ...base, event: 'stream_create' } : { ...base, event: 'stream_close', type: '0', destroy_timemillis: String(nowMs) };
  return { ...ev, signature: callbackSignature(opts.secret ?? FLEET_CALLBACK_SECRET, timestamp, nonce) };
}

/** POSTs to a callback listener (`h.cbUrls[i]`). */
export async function postCallback(url: string, body: Record<string, string>): Promise<number> {
  const res = await fetch(`${url}/zego/callback`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  await res.text();
  return res.status;
}

/**
 * `count` callbacks, round-robin over the replicas, each flipping one stream; after each, the time
 * until every replica shows the new state. Sequential, so each sample is one callback's spread.
 * `seqBase` lets a second run continue each stream's stream_seq.
 */
export async function measureFleetSpread(
  h: FleetHarness,
  count: number,
  seqBase = 0,
): Promise<{ samplesMs: number[]; p50Ms: number; p99Ms: number; maxMs: number; n: number; notAccepted: number }> {
  const seq = new Map<string, number>(h.streams.map((id) => [id, seqBase]));
  const samples: number[] = [];
  let notAccepted = 0;
  for (let i = 0; i < count; i++) {
    const id = h.streams[i % h.streams.length]!;
    const s = seq.get(id)! + 1;
    seq.set(id, s);
    const want = s % 2 === 1 ? 1 : 0;
    const t0 = performance.now();
    const status = await postCallback(h.cbUrls[i % h.replicas.length]!, signedEvent(id, s));
    if (status !== 200) notAccepted++;
    const deadline = t0 + 5000;
    for (;;) {
      const seen = await Promise.all(h.replicas.map(async (r) => (await actives(r.url)).get(id)));
      if (seen.every((v) => v === want)) break;
      if (performance.now() > deadline) throw new Error(`callback ${i} (${id} seq ${s}) not on every replica within 5 s: ${JSON.stringify(seen)}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    samples.push(performance.now() - t0);
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const q = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  const r = (x: number): number => Math.round(x * 10) / 10;
  return { samplesMs: samples, p50Ms: r(q(0.5)), p99Ms: r(q(0.99)), maxMs: r(sorted[sorted.length - 1]!), n: samples.length, notAccepted };
}

/** The bench section: 3 replicas, 100 callbacks round-robin. */
export async function benchFleetCallbacks(count = 100): Promise<{ p50Ms: number; p99Ms: number; maxMs: number; n: number; notAccepted: number }> {
  const h = await startFleetHarness(
    3,
    Array.from({ length: 10 }, (_, i) => `fleet-cb-${i}`),
  );
  try {
    const { p50Ms, p99Ms, maxMs, n, notAccepted } = await measureFleetSpread(h, count);
    return { p50Ms, p99Ms, maxMs, n, notAccepted };
  } finally {
    await h.stop();
  }
}
