/**
 * Issue 16 #6: "discover 10 000 streams: total time". The exporter as a real process with
 * callbacks and discovery on; signed stream_create callbacks for 10k unlisted streams arrive as
 * fast as a few concurrent senders post them, while a scraper times /metrics every 100 ms.
 * Before discovery became incremental, 2000 discoveries took 2 s at first and 13 s after 10k,
 * with /metrics at 2.5 s during the burst: the time per 1000 should now stay flat.
 */
import { CallbackSender, startSimulator } from '../simulator/index.js';
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
  rejected: number;
  scrapes: number;
  scrapeP50Ms: number;
  scrapeP99Ms: number;
  scrapeMaxMs: number;
  rssMb: number;
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
      '  discover:',
      '    patterns: ["found-*"]',
      `    max_streams: ${n}`,
      '',
    ].join('\n'),
    { env: { S: SECRET, CB: CB_SECRET }, logLevel: 'warn' },
  );
  // No retries: a refused callback is counted, not resent behind the timing's back.
  const sender = new CallbackSender({ url: `${exp.url}/zego/callback`, appId: APP_ID, secret: CB_SECRET, retryGapsMs: [] });
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
    const t0 = performance.now();
    const marks: number[] = [];
    let next = 0;
    let done = 0;
    let rejected = 0;
    const worker = async (): Promise<void> => {
      while (next < n) {
        const i = next++;
        const status = await sender.send(sender.createEvent(`found-${i}`, Date.now()));
        if (status !== 200) rejected++;
        if (++done % 1000 === 0) marks.push(performance.now());
      }
    };
    await Promise.all(Array.from({ length: concurrency }, worker));
    // Every callback is answered after it was applied: the set is complete now; check it is.
    const m = await scrape(exp.url);
    const totalSec = (performance.now() - t0) / 1000;
    const discovered = m.get('zego_exporter_streams_discovered') ?? 0;
    if (discovered !== n - rejected) throw new Error(`expected ${n - rejected} discovered streams, /metrics says ${discovered}`);
    const perThousandSec = marks.map((t, k) => (t - (k === 0 ? t0 : marks[k - 1]!)) / 1000);
    const rssMb = (m.get('process_resident_memory_bytes') ?? 0) / 2 ** 20;
    sending = false;
    await scraper;
    return {
      streams: n,
      totalSec,
      perThousandSec,
      rejected,
      scrapes: latencies.length,
      scrapeP50Ms: percentile(latencies, 50),
      scrapeP99Ms: percentile(latencies, 99),
      scrapeMaxMs: Math.max(...latencies),
      rssMb,
    };
  } finally {
    sending = false;
    await scraper.catch(() => undefined);
    sender.close();
    await exp.stop();
    await sim.close();
  }
}

export function printDiscovery(r: DiscoveryResult): void {
  console.log(
    `discovery   ${r.streams} streams discovered by signed stream_create in ${fmt(r.totalSec, 2)} s (${r.rejected} refused); ` +
      `per 1000: ${r.perThousandSec.map((s) => fmt(s, 2)).join(' ')} s; /metrics during the burst p50 ${fmt(r.scrapeP50Ms)} ms ` +
      `p99 ${fmt(r.scrapeP99Ms)} ms max ${fmt(r.scrapeMaxMs)} ms (n=${r.scrapes}); RSS after ${fmt(r.rssMb, 0)} MB`,
  );
}
