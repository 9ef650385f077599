/**
 * Issue 25: 100 000 streams in one process. The exporter as a real process discovers N streams by
 * signed stream_create callbacks (16 keep-alive senders, as the discovery section posts them)
 * while a scraper times /metrics every 100 ms; then, with probes landing (rate_limit 38) and a
 * trickle of callbacks, /metrics is scraped every 500 ms without and with gzip: latency, bytes on
 * the wire, RSS. Last, the CPU floor: a bare undici client (floor-client.ts: sign, send, parse) and
 * a small exporter call DescribeRTCStreamState at the same rate on two AppIDs of one simulator, one
 * after the other, and the CPU each spends per accepted call is compared.
 */
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { get } from 'node:http';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Pool } from 'undici';
import { CallbackSender, encodeCallback, signCallback, startSimulator, type CallbackFields, type Simulator } from '../simulator/index.js';
import { startExporter } from '../test/helpers/exporter-process.js';
import { cpuSec } from './discovery.js';
import { fmt, percentile, sleep } from './stats.js';

const APP_ID = 555000333;
const FLOOR_APP_ID = 555000334;
const SECRET = 'bench0123456789abcdef0123456789c';
const CB_SECRET = 'bench-scale-callback-secret';
const RATE = 38;

export interface ScrapeFigures {
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Bytes of the body on the wire (compressed when gzip). */
  wireBytes: number;
  /** Exporter CPU per scrape (ms): what the scrapes cost beyond probing, from /proc. */
  cpuPerScrapeMs: number;
  n: number;
}

export interface ScaleResult {
  streams: number;
  discoverySec: number;
  rejected: number;
  burst: { p50Ms: number; p99Ms: number; maxMs: number; n: number };
  plain: ScrapeFigures;
  gzip: ScrapeFigures;
  rssMb: number;
  peakRssMb: number;
  floor: { rate: number; bareCpuPerCallMs: number; bareAccepted: number; exporterCpuPerCallMs: number; exporterAccepted: number; ratio: number };
  loadAvg: string;
}

/** One scrape over a fresh connection, the body drained: its time and the bytes that crossed the wire. */
function timedScrape(url: string, gzip: boolean): Promise<{ ms: number; bytes: number; encoding: string | undefined }> {
  const t = performance.now();
  return new Promise((resolve, reject) => {
    const req = get(`${url}/metrics`, { headers: gzip ? { 'accept-encoding': 'gzip' } : {}, agent: false }, (res) => {
      let bytes = 0;
      res.on('data', (c: Buffer) => (bytes += c.length));
      res.on('end', () => resolve({ ms: performance.now() - t, bytes, encoding: res.headers['content-encoding'] }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

function rssMb(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): number {
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
}

async function scrapeSeries(url: string, pid: number, gzip: boolean, n: number, gapMs: number): Promise<ScrapeFigures> {
  const times: number[] = [];
  let bytes = 0;
  let cpu = 0;
  for (let i = 0; i < n; i++) {
    const c0 = cpuSec(pid);
    const r = await timedScrape(url, gzip);
    cpu += cpuSec(pid) - c0;
    if ((r.encoding === 'gzip') !== gzip) throw new Error(`asked ${gzip ? 'for' : 'without'} gzip, got Content-Encoding ${r.encoding ?? 'none'}`);
    times.push(r.ms);
    bytes = r.bytes;
    await sleep(gapMs);
  }
  return { p50Ms: percentile(times, 50), p99Ms: percentile(times, 99), maxMs: Math.max(...times), wireBytes: bytes, cpuPerScrapeMs: (cpu * 1000) / n, n };
}

export async function scaleBench(n: number, scrapes = 40): Promise<ScaleResult> {
  const sim = await startSimulator({
    apps: [
      { appId: APP_ID, secret: SECRET },
      { appId: FLOOR_APP_ID, secret: SECRET },
    ],
  });
  try {
    const big = await discoverAndScrape(sim, n, scrapes);
    const floor = await cpuFloor(sim, 20);
    return { ...big, floor, loadAvg: readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ') };
  } finally {
    await sim.close();
  }
}

async function discoverAndScrape(sim: Simulator, n: number, scrapes: number): Promise<Omit<ScaleResult, 'floor' | 'loadAvg'>> {
  const exp = await startExporter(
    [
      'zego:',
      `  app_id: ${APP_ID}`,
      '  server_secret: ${S}',
      `  endpoint: ${sim.url}`,
      `  rate_limit: ${RATE}`,
      'probe:',
      '  interval: 60s',
      'streams:',
      '  - listed-0',
      'callbacks:',
      '  secret: ${CB}',
      '  listen_address: 127.0.0.1:0',
      '  discover:',
      '    patterns: ["room-*"]',
      `    max_streams: ${n}`,
      '    forget_after: 24h',
      '',
    ].join('\n'),
    { env: { S: SECRET, CB: CB_SECRET }, logLevel: 'info', timeoutMs: 30_000 },
  );
  const pid = exp.child.pid!;
  const cbUrl = await exp.callbackUrl();
  const events = new CallbackSender({ url: `${cbUrl}/zego/callback`, appId: APP_ID, secret: CB_SECRET });
  const pool = new Pool(cbUrl, { connections: 16 });
  const post = async (fields: CallbackFields): Promise<number> => {
    const signed = signCallback(fields, CB_SECRET, Math.floor(Date.now() / 1000), String(randomInt(1, 2 ** 47)));
    const { contentType, body } = encodeCallback(signed, 'json');
    const res = await pool.request({ path: '/zego/callback', method: 'POST', headers: { 'content-type': contentType }, body });
    await res.body.dump();
    return res.statusCode;
  };
  // Realistic ids: a room and a user in each, ~40 bytes, as apps name their streams.
  const id = (i: number): string => `room-${String(i % 5000).padStart(5, '0')}-user-${String(i).padStart(7, '0')}-main`;
  const nowSec = Math.floor(Date.now() / 1000);
  try {
    await timedScrape(exp.url, false);
    const burst: number[] = [];
    let sending = true;
    const scraper = (async () => {
      while (sending) {
        burst.push((await timedScrape(exp.url, false)).ms);
        await sleep(100);
      }
    })();
    const t0 = performance.now();
    let next = 0;
    let rejected = 0;
    const worker = async (): Promise<void> => {
      while (next < n) {
        const i = next++;
        // Half of them live in the simulator too, so probes find active and missing streams alike.
        if (i % 2 === 0) sim.setStream(id(i), { state: 'active', createTime: nowSec - (i % 3600) });
        const status = await post(events.createEvent(id(i), Date.now())).catch(() => 0);
        if (status !== 200) rejected++;
      }
    };
    await Promise.all(Array.from({ length: 16 }, worker));
    const discoverySec = (performance.now() - t0) / 1000;
    sending = false;
    await scraper;
    // Steady state: probes land at the budget's rate; a trickle of callbacks (10/s) lands too.
    let trickle = true;
    const trickler = (async () => {
      for (let k = 0; trickle; k++) {
        await post(events.createEvent(id((k * 7919) % n), Date.now())).catch(() => 0);
        await sleep(100);
      }
    })();
    await sleep(2000);
    const plain = await scrapeSeries(exp.url, pid, false, scrapes, 500);
    const gzip = await scrapeSeries(exp.url, pid, true, scrapes, 500);
    trickle = false;
    await trickler;
    return {
      streams: n,
      discoverySec,
      rejected,
      burst: { p50Ms: percentile(burst, 50), p99Ms: percentile(burst, 99), maxMs: Math.max(...burst), n: burst.length },
      plain,
      gzip,
      rssMb: rssMb(pid),
      peakRssMb: rssMb(pid, 'VmHWM'),
    };
  } finally {
    await pool.close();
    await exp.stop();
  }
}

/**
 * CPU per accepted DescribeRTCStreamState call: the exporter (400 streams at a 1 s interval, so
 * its budget of RATE/s is always spent; not scraped meanwhile) and then the bare client at the
 * same rate, on the other AppID, each for `seconds`. Accepted: admitted by the simulator's limiter.
 */
async function cpuFloor(sim: Simulator, seconds: number): Promise<ScaleResult['floor']> {
  const streams = 400;
  for (let i = 0; i < streams; i++) if (i % 2 === 0) sim.setStream(`floor-${i}`, { state: 'active', createTime: Math.floor(Date.now() / 1000) });
  const exp = await startExporter(
    `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: ${sim.url}\n  rate_limit: ${RATE}\nprobe:\n  interval: 1s\nstreams:\n${Array.from({ length: streams }, (_, i) => `  - floor-${i}`).join('\n')}\n`,
    { env: { S: SECRET }, logLevel: 'info' },
  );
  let exporterCpu: number;
  let exporterAccepted: number;
  try {
    // Started, and one full pass made: each stream's first answer is a state change, logged at
    // info (a tenth of the exporter's CPU in the first pass, profiled): steady state is the floor.
    await sleep(3000 + (streams / RATE) * 1000);
    sim.resetStats();
    const c0 = cpuSec(exp.child.pid!);
    await sleep(seconds * 1000);
    exporterCpu = cpuSec(exp.child.pid!) - c0;
    exporterAccepted = sim.stats().accepted;
  } finally {
    await exp.stop();
  }
  sim.resetStats();
  const script = fileURLToPath(new URL('./floor-client.js', import.meta.url));
  const { stdout } = await promisify(execFile)(process.execPath, [
    script,
    sim.url,
    String(FLOOR_APP_ID),
    SECRET,
    String(RATE),
    String(seconds),
    String(streams),
  ]);
  const bare = JSON.parse(stdout) as { sent: number; answered: number; cpuMs: number };
  const bareAccepted = sim.stats().accepted;
  const bareCpuPerCallMs = bare.cpuMs / Math.max(1, bareAccepted);
  const exporterCpuPerCallMs = (exporterCpu * 1000) / Math.max(1, exporterAccepted);
  return { rate: RATE, bareCpuPerCallMs, bareAccepted, exporterCpuPerCallMs, exporterAccepted, ratio: exporterCpuPerCallMs / bareCpuPerCallMs };
}

export function printScale(r: ScaleResult): void {
  const s = (f: ScrapeFigures): string =>
    `p50 ${fmt(f.p50Ms)} ms p99 ${fmt(f.p99Ms)} ms max ${fmt(f.maxMs)} ms, ${fmt(f.wireBytes / 2 ** 20, 2)} MiB on the wire, exporter CPU ${fmt(f.cpuPerScrapeMs, 0)} ms a scrape (n=${f.n})`;
  console.log(
    `scale       ${r.streams} streams discovered by signed stream_create in ${fmt(r.discoverySec, 2)} s (${r.rejected} refused); /metrics during the burst p50 ${fmt(r.burst.p50Ms)} ms p99 ${fmt(r.burst.p99Ms)} ms max ${fmt(r.burst.maxMs)} ms (n=${r.burst.n})`,
  );
  console.log(`scale       /metrics plain: ${s(r.plain)}`);
  console.log(`scale       /metrics gzip:  ${s(r.gzip)}`);
  console.log(`scale       RSS after ${fmt(r.rssMb, 0)} MB, peak ${fmt(r.peakRssMb, 0)} MB; load average ${r.loadAvg}`);
  const f = r.floor;
  console.log(
    `scale       CPU floor at ${f.rate}/s: bare undici client ${fmt(f.bareCpuPerCallMs, 3)} ms per accepted call (${f.bareAccepted} accepted), exporter ${fmt(f.exporterCpuPerCallMs, 3)} ms (${f.exporterAccepted}): ${fmt(f.ratio, 2)}×`,
  );
}
