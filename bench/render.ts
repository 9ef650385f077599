import { Agent, get } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { pino } from 'pino';
import { Gauge, Registry } from 'prom-client';
import { StreamFamilies } from '../src/metrics/block-cache.js';
import { startSimulator } from '../simulator/index.js';
import { StateStore } from '../src/state/store.js';
import { scrape, startExporter } from '../test/helpers/exporter-process.js';
import { fmt, percentile, sleep } from './stats.js';

export interface RenderResult {
  streams: number;
  renderP50Ms: number;
  renderP99Ms: number;
  /** The same 7 families through prom-client Gauges with labels ("before"). */
  promClientP50Ms: number;
  promClientP99Ms: number;
  scrapeP50Ms: number;
  scrapeP99Ms: number;
  /** The first scrape after start (the caches are built in the background as probing starts). */
  firstScrapeMs: number;
  rssMb: number;
  bytes: number;
  /** Event-loop delay inside the exporter while 10 autocannon connections scrape it (when measured). */
  lag?: { p50: number; p99: number; max: number; scrapesPerSec: number; scrapeP99Ms: number; errors: number };
}

function filledStore(streams: number): StateStore {
  const store = new StateStore({ logger: pino({ level: 'silent' }) });
  const watched = Array.from({ length: streams }, (_, i) => ({
    id: `stream-${i}`,
    intervalMs: 15_000,
    labels: { team: `t${i % 7}`, severity: i % 10 === 0 ? 'critical' : 'warning' },
  }));
  store.setStreams(watched);
  const now = Date.now();
  for (const w of watched) store.applyProbe(w.id, { outcome: { kind: 'active', createTimeSec: now / 1000 - 100 }, code: '0', sentAtMs: now, durationMs: 3 });
  return store;
}

/**
 * The per-stream families rendered in-process from a filled store: the cost a scrape adds per
 * stream. Between two renders, 600 streams (15 s of probing at the API's limit: one Prometheus
 * scrape interval) get a new probe result, in the order the scheduler would probe them.
 */
function renderInProcess(streams: number, rounds: number): { p50: number; p99: number; bytes: number } {
  const store = filledStore(streams);
  const families = new StreamFamilies();
  const times: number[] = [];
  let bytes = 0;
  let cursor = 0;
  for (let i = 0; i < rounds; i++) {
    const now = Date.now();
    for (let k = 0; k < Math.min(600, streams); k++, cursor = (cursor + 1) % streams) {
      store.applyProbe(`stream-${cursor}`, { outcome: { kind: 'active', createTimeSec: now / 1000 - 100 }, code: '0', sentAtMs: now, durationMs: 3 });
    }
    const t = performance.now();
    bytes = 0;
    for (const chunk of families.chunks(store.snapshot(), now, 'text')) bytes += chunk.length;
    times.push(performance.now() - t);
  }
  return { p50: percentile(times, 50), p99: percentile(times, 99), bytes };
}

/**
 * "Before": the same 7 per-stream families as prom-client Gauges with labels, as a collector would
 * keep them: every scrape sets each stream's values from the snapshot (uptime changes every time),
 * then prom-client renders the registry.
 */
async function renderPromClient(streams: number, rounds: number): Promise<{ p50: number; p99: number }> {
  const store = filledStore(streams);
  const registry = new Registry();
  const labelNames = ['stream_id', 'severity', 'team'] as const;
  const g = (name: string): Gauge<(typeof labelNames)[number]> => new Gauge({ name, help: name, labelNames, registers: [registry] });
  const fams = {
    active: g('zego_stream_active'),
    uptime: g('zego_stream_uptime_seconds'),
    start: g('zego_stream_start_timestamp_seconds'),
    success: g('zego_stream_probe_success'),
    lastProbe: g('zego_stream_last_probe_timestamp_seconds'),
    lastSuccess: g('zego_stream_last_success_timestamp_seconds'),
    interval: g('zego_stream_interval_seconds'),
  };
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const t = performance.now();
    const nowSec = Date.now() / 1000;
    for (const s of store.snapshot()) {
      const l = { stream_id: s.id, severity: s.labels['severity'] ?? '', team: s.labels['team'] ?? '' };
      fams.active.set(l, s.active ? 1 : 0);
      fams.uptime.set(l, s.active && s.createTimeSec !== null ? nowSec - s.createTimeSec : 0);
      fams.start.set(l, s.createTimeSec ?? 0);
      fams.success.set(l, s.probeSuccess ? 1 : 0);
      fams.lastProbe.set(l, (s.lastProbeMs ?? 0) / 1000);
      fams.lastSuccess.set(l, (s.lastSuccessMs ?? 0) / 1000);
      fams.interval.set(l, s.intervalMs / 1000);
    }
    await registry.metrics();
    times.push(performance.now() - t);
  }
  return { p50: percentile(times, 50), p99: percentile(times, 99) };
}

/**
 * The real process with N watched streams (all probed, at a modest rate), scraped over HTTP:
 * end-to-end /metrics latency and the process's resident memory; with `lagSeconds`, also 10
 * concurrent autocannon scrapers for that long while a preloaded probe measures event-loop delay.
 */
export async function renderInProcessAndOverHttp(streams: number, scrapes: number, lagSeconds = 0): Promise<RenderResult> {
  // The in-process comparisons (10k prom-client gauges among them) run after the HTTP figures, so
  // this process's own heap and GC do not land in the scrape timings it takes as a client.
  const rounds = streams >= 50_000 ? 40 : 200;
  const appId = 777000222;
  const secret = 'render0123456789abcdef0123456789';
  const sim = await startSimulator({ apps: [{ appId, secret }] });
  const now = Math.floor(Date.now() / 1000);
  for (let i = 0; i < streams; i++) if (i % 2 === 0) sim.setStream(`r-${i}`, { state: 'active', createTime: now });
  const dir = mkdtempSync(join(tmpdir(), 'zego-lag-'));
  const lagOut = join(dir, 'lag.json');
  const probe = new URL('./lag-probe.js', import.meta.url).pathname;
  const exp = await startExporter(
    `zego:\n  app_id: ${appId}\n  server_secret: \${S}\n  endpoint: ${sim.url}\n  rate_limit: 38\nprobe:\n  interval: 1m\nstreams:\n${Array.from({ length: streams }, (_, i) => `  - id: r-${i}\n    labels: { team: t${i % 7} }`).join('\n')}\n`,
    { env: { S: secret, NODE_OPTIONS: `--import=${probe}`, LAG_PROBE_OUT: lagOut }, logLevel: 'info', timeoutMs: 60_000 },
  );
  try {
    await sleep(5000); // some probes done, steady state
    const times: number[] = [];
    const agent = new Agent({ keepAlive: true });
    const firstScrapeMs = await timedScrape(`${exp.url}/metrics`, agent);
    for (let i = 0; i < scrapes; i++) {
      times.push(await timedScrape(`${exp.url}/metrics`, agent));
      await sleep(200); // probes land between scrapes, as they do between Prometheus's
    }
    agent.destroy();
    const m = await scrape(exp.url);
    const local = renderInProcess(streams, rounds);
    const before = await renderPromClient(streams, Math.max(10, Math.floor(rounds / 4)));
    const result: RenderResult = {
      streams,
      renderP50Ms: local.p50,
      renderP99Ms: local.p99,
      promClientP50Ms: before.p50,
      promClientP99Ms: before.p99,
      scrapeP50Ms: percentile(times, 50),
      scrapeP99Ms: percentile(times, 99),
      firstScrapeMs,
      rssMb: (m.get('process_resident_memory_bytes') ?? Number.NaN) / 1024 / 1024,
      bytes: local.bytes,
    };
    if (lagSeconds > 0) {
      exp.child.kill('SIGUSR2'); // start the window
      await sleep(200);
      const ac = await autocannon({ url: `${exp.url}/metrics`, connections: 10, duration: lagSeconds });
      exp.child.kill('SIGUSR2');
      await sleep(300);
      const lag = JSON.parse(readFileSync(lagOut, 'utf8')) as { p50: number; p99: number; max: number };
      result.lag = { ...lag, scrapesPerSec: ac.requests.average, scrapeP99Ms: ac.latency.p99, errors: ac.errors + ac.non2xx + ac.timeouts };
    }
    return result;
  } finally {
    await exp.stop();
    await sim.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * One scrape as Prometheus sees it: request sent until the last byte of the body arrived. The body
 * is drained, not decoded into a string, so the figure is the exporter's, not this client's.
 */
function timedScrape(url: string, agent: Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    get(url, { agent }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => resolve(performance.now() - t));
      res.on('error', reject);
    }).on('error', reject);
  });
}

export function printRender(r: RenderResult): void {
  console.log(
    `metrics     streams=${r.streams}: per-stream render p50 ${fmt(r.renderP50Ms, 2)} ms p99 ${fmt(r.renderP99Ms, 2)} ms (${fmt(r.bytes / 1024, 0)} KiB); ` +
      `prom-client Gauges (before) p50 ${fmt(r.promClientP50Ms, 2)} ms p99 ${fmt(r.promClientP99Ms, 2)} ms = ${fmt(r.promClientP50Ms / r.renderP50Ms, 1)}× slower at p50; ` +
      `full /metrics over HTTP p50 ${fmt(r.scrapeP50Ms, 2)} ms p99 ${fmt(r.scrapeP99Ms, 2)} ms (first after start ${fmt(r.firstScrapeMs, 0)} ms); RSS ${fmt(r.rssMb)} MB`,
  );
  if (r.lag) {
    console.log(
      `eventloop   streams=${r.streams}, 10 concurrent scrapers (autocannon): ${fmt(r.lag.scrapesPerSec, 1)} scrapes/s, scrape p99 ${fmt(r.lag.scrapeP99Ms, 0)} ms, errors ${r.lag.errors}; ` +
        `event-loop delay inside the exporter p50 ${fmt(r.lag.p50, 1)} ms p99 ${fmt(r.lag.p99, 1)} ms max ${fmt(r.lag.max, 1)} ms`,
    );
  }
}
