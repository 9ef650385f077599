import { pino } from 'pino';
import { StreamFamilies } from '../src/metrics/streams.js';
import { startSimulator } from '../src/simulator/index.js';
import { StateStore } from '../src/state/store.js';
import { scrape, startExporter } from '../test/helpers/exporter-process.js';
import { fmt, percentile, sleep } from './stats.js';

export interface RenderResult {
  streams: number;
  renderP50Ms: number;
  renderP99Ms: number;
  scrapeP50Ms: number;
  scrapeP99Ms: number;
  rssMb: number;
  bytes: number;
}

/** The per-stream families rendered in-process from a filled store: the cost a scrape adds per stream. */
export function renderInProcess(streams: number, rounds: number): { p50: number; p99: number; bytes: number } {
  const store = new StateStore({ logger: pino({ level: 'silent' }) });
  const watched = Array.from({ length: streams }, (_, i) => ({ id: `stream-${i}`, intervalMs: 15_000, labels: { team: `t${i % 7}`, severity: i % 10 === 0 ? 'critical' : 'warning' } }));
  store.setStreams(watched);
  const now = Date.now();
  for (const w of watched) store.applyProbe(w.id, { outcome: { kind: 'active', createTimeSec: now / 1000 - 100 }, code: '0', sentAtMs: now, durationMs: 3 });
  const families = new StreamFamilies();
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    bytes = families.render(store.snapshot(), Date.now(), 'text').length;
    times.push(performance.now() - t);
  }
  return { p50: percentile(times, 50), p99: percentile(times, 99), bytes };
}

/**
 * The real process with N watched streams (all probed, at a modest rate), scraped over HTTP:
 * end-to-end /metrics latency and the process's resident memory.
 */
export async function renderInProcessAndOverHttp(streams: number, scrapes: number): Promise<RenderResult> {
  const local = renderInProcess(streams, 200);
  const appId = 777000222;
  const secret = 'render0123456789abcdef0123456789';
  const sim = await startSimulator({ apps: [{ appId, secret }] });
  const now = Math.floor(Date.now() / 1000);
  for (let i = 0; i < streams; i++) if (i % 2 === 0) sim.setStream(`r-${i}`, { state: 'active', createTime: now });
  const exp = await startExporter(
    `zego:\n  app_id: ${appId}\n  server_secret: \${S}\n  endpoint: ${sim.url}\n  rate_limit: 38\nprobe:\n  interval: 1m\nstreams:\n${Array.from({ length: streams }, (_, i) => `  - id: r-${i}\n    labels: { team: t${i % 7} }`).join('\n')}\n`,
    { env: { S: secret }, logLevel: 'info' },
  );
  try {
    await sleep(5000); // some probes done, steady state
    const times: number[] = [];
    for (let i = 0; i < scrapes; i++) {
      const t = performance.now();
      const res = await fetch(`${exp.url}/metrics`);
      await res.text();
      times.push(performance.now() - t);
    }
    const m = await scrape(exp.url);
    return {
      streams,
      renderP50Ms: local.p50,
      renderP99Ms: local.p99,
      scrapeP50Ms: percentile(times, 50),
      scrapeP99Ms: percentile(times, 99),
      rssMb: (m.get('process_resident_memory_bytes') ?? Number.NaN) / 1024 / 1024,
      bytes: local.bytes,
    };
  } finally {
    await exp.stop();
    await sim.close();
  }
}

export function printRender(r: RenderResult): void {
  console.log(
    `metrics     streams=${r.streams}: per-stream render p50 ${fmt(r.renderP50Ms, 2)} ms p99 ${fmt(r.renderP99Ms, 2)} ms (${fmt(r.bytes / 1024, 0)} KiB); ` +
      `full /metrics over HTTP p50 ${fmt(r.scrapeP50Ms, 2)} ms p99 ${fmt(r.scrapeP99Ms, 2)} ms; RSS ${fmt(r.rssMb)} MB`,
  );
}
