/**
 * Issue 16 #6: "discover 10 000 streams: total time". The exporter as a real process with
 * callbacks and discovery on; signed stream_create callbacks for 10k unlisted streams arrive as
 * fast as a few concurrent senders post them, while a scraper times /metrics every 100 ms.
 * Before discovery became incremental, 2000 discoveries took 2 s at first and 13 s after 10k,
 * with /metrics at 2.5 s during the burst: the time per 1000 should now stay flat.
 */
import { readFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { Pool } from 'undici';
import { CallbackSender, encodeCallback, signCallback, startSimulator, type CallbackFields } from '../simulator/index.js';
import { scrape, startExporter } from '../test/helpers/exporter-process.js';
import { fmt, percentile, sleep } from './stats.js';

const APP_ID = 555000222;
const SECRET = 'bench0123456789abcdef0123456789b';
const CB_SECRET = 'bench-discovery-callback-secret';

export interface DiscoveryResult {
  streams: number;
  totalSec: number;
  /** Seconds each successive 1000 discoveries took (flat when each costs O(1)). */
  perThousandSec: number[];
  /** Exporter CPU ms each successive 1000 discoveries took: flat when each costs O(1), however busy the machine. */
  cpuPerThousandMs: number[];
  rejected: number;
  scrapes: number;
  scrapeP50Ms: number;
  scrapeP99Ms: number;
  scrapeMaxMs: number;
  rssMb: number;
  /** Exporter CPU time (user+system) per discovered stream, in µs: what the timing means on a busy machine. */
  cpuPerDiscoveryUs: number;
  /** The bench process's own CPU per callback sent (signing, HTTP client), in µs. */
  senderCpuUs: number;
}

/** User+system CPU seconds a process has used, from /proc (Linux). */
export function cpuSec(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

export async function discoverStreams(n: number, concurrency = 16): Promise<DiscoveryResult> {
  const sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }] });
  const exp = await startExporter(
    [
      'zego:',
      `  app_id: ${APP_ID}`,
      '  server_secret: ${S}',
      `  endpoint: ${sim.url}`,
      '  rate_limit: 10',
      'probe:',
      '  interval: 60s',
      'streams:',
      '  - listed-0',
      'callbacks:',
      '  secret: ${CB}',
      '  listen_address: 127.0.0.1:0',
      '  discover:',
      '    patterns: ["found-*"]',
      `    max_streams: ${n}`,
      '',
    ].join('\n'),
    { env: { S: SECRET, CB: CB_SECRET }, logLevel: 'info' },
  );
  // The simulator's sender builds the events; they are signed and posted here over a keep-alive
  // pool (fetch per callback cost the bench twice the exporter's CPU), without retries: a
  // refused callback is counted, not resent behind the timing's back.
  const cbUrl = await exp.callbackUrl();
  const events = new CallbackSender({ url: `${cbUrl}/zego/callback`, appId: APP_ID, secret: CB_SECRET });
  const pool = new Pool(cbUrl, { connections: concurrency });
  const post = async (fields: CallbackFields): Promise<number> => {
    const signed = signCallback(fields, CB_SECRET, Math.floor(Date.now() / 1000), String(randomInt(1, 2 ** 47)));
    const { contentType, body } = encodeCallback(signed, 'json');
    const res = await pool.request({ path: '/zego/callback', method: 'POST', headers: { 'content-type': contentType }, body });
    await res.body.dump();
    return res.statusCode;
  };
  // Settled first: start-up, the first probe and the first renders are not the burst's cost.
  for (let i = 0; i < 3; i++) await scrape(exp.url);
  await sleep(1000);
  const latencies: number[] = [];
  let sending = true;
  const scraper = (async () => {
    while (sending) {
      const t = performance.now();
      await scrape(exp.url);
      latencies.push(performance.now() - t);
      await sleep(100);
    }
  })();
  try {
    const cpu0 = cpuSec(exp.child.pid!);
    const own0 = process.cpuUsage();
    const t0 = performance.now();
    const marks: number[] = [];
    const cpuMarks: number[] = [];
    let next = 0;
    let done = 0;
    let rejected = 0;
    const worker = async (): Promise<void> => {
      while (next < n) {
        const i = next++;
        const status = await post(events.createEvent(`found-${i}`, Date.now())).catch(() => 0);
        if (status !== 200) rejected++;
        if (++done % 1000 === 0) {
          marks.push(performance.now());
          cpuMarks.push(cpuSec(exp.child.pid!));
        }
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    const totalSec = (performance.now() - t0) / 1000;
    const cpu = cpuSec(exp.child.pid!) - cpu0;
    const own = process.cpuUsage(own0);
    // Every callback is answered after it was applied, so the set is complete now. The check
    // waits for the scraper: a scrape that arrives during a render shares that (older) render.
    sending = false;
    await scraper;
    const m = await scrape(exp.url);
    const discovered = m.get('zego_exporter_streams_discovered') ?? 0;
    if (discovered !== n - rejected) throw new Error(`expected ${n - rejected} discovered streams, /metrics says ${discovered}`);
    const perThousandSec = marks.map((t, k) => (t - (k === 0 ? t0 : marks[k - 1]!)) / 1000);
    const cpuPerThousandMs = cpuMarks.map((c, k) => (c - (k === 0 ? cpu0 : cpuMarks[k - 1]!)) * 1000);
    const rssMb = (m.get('process_resident_memory_bytes') ?? 0) / 2 ** 20;
    return {
      streams: n,
      totalSec,
      perThousandSec,
      cpuPerThousandMs,
      rejected,
      scrapes: latencies.length,
      scrapeP50Ms: percentile(latencies, 50),
      scrapeP99Ms: percentile(latencies, 99),
      scrapeMaxMs: Math.max(...latencies),
      rssMb,
      cpuPerDiscoveryUs: (cpu / n) * 1e6,
      senderCpuUs: (own.user + own.system) / n,
    };
  } finally {
    sending = false;
    await scraper.catch(() => undefined);
    await pool.close();
    await exp.stop();
    await sim.close();
  }
}

export function printDiscovery(r: DiscoveryResult): void {
  console.log(
    `discovery   ${r.streams} streams discovered by signed stream_create in ${fmt(r.totalSec, 2)} s (${r.rejected} refused); ` +
      `per 1000: ${r.perThousandSec.map((s) => fmt(s, 2)).join(' ')} s, exporter CPU ${r.cpuPerThousandMs.map((c) => fmt(c, 0)).join(' ')} ms; /metrics during the burst p50 ${fmt(r.scrapeP50Ms)} ms ` +
      `p99 ${fmt(r.scrapeP99Ms)} ms max ${fmt(r.scrapeMaxMs)} ms (n=${r.scrapes}); RSS after ${fmt(r.rssMb, 0)} MB; ` +
      `exporter CPU ${fmt(r.cpuPerDiscoveryUs, 0)} µs per discovery (bench's sender ${fmt(r.senderCpuUs, 0)} µs per callback)`,
  );
}
