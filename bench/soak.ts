/**
 * Soak: the exporter at full budget against the strict simulator, with faults switching on and off
 * and the stream list reloaded every few seconds (SIGHUP and POST /-/reload in turn), scraped every
 * second. Reports RSS growth (slope), handles over time, scrape failures and any unhandled
 * rejection or listener warning. `npm run soak` runs 10 minutes; the CI test runs the same function
 * for under a minute (test/integration/soak.test.ts).
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { startSimulator, type Faults } from '../simulator/index.js';
import { parseMetrics, startExporter } from '../test/helpers/exporter-process.js';
import { fmt, sleep } from './stats.js';

const APP_ID = 909000111;
const SECRET = 'soak0123456789abcdef0123456789ab';

export interface SoakOptions {
  durationSec: number;
  streams?: number;
  rateLimit?: number;
  reloadEverySec?: number;
  faultEverySec?: number;
  log?: (line: string) => void;
}

export interface SoakSample {
  tSec: number;
  rssMb: number;
  heapMb: number;
  handles: number;
}

export interface SoakReport {
  durationSec: number;
  scrapes: number;
  scrapeFailures: number;
  reloads: number;
  reloadFailures: number;
  faultPhases: number;
  accepted: number;
  throttled: number;
  peakWindow: number;
  rateLimit: number;
  unhandledRejections: number;
  listenerWarnings: number;
  exitedEarly: boolean;
  samples: SoakSample[];
  /**
   * Least-squares slope (MB per minute) over the second half of the run of the per-30 s minimum:
   * the floor the GC returns to. The raw samples swing by tens of MB with each collection, so a
   * slope through them says more about where the run happened to end than about a leak.
   */
  rssSlopeMbPerMin: number;
  heapSlopeMbPerMin: number;
  rssFirstMb: number;
  rssLastMb: number;
  handlesFirst: number;
  handlesMax: number;
  handlesLast: number;
}

const FAULT_PHASES: Partial<Faults>[] = [
  {},
  { http500: 0.1, badJson: 0.05, reset: 0.05, hang: 0.02 },
  { latencyMs: 150, jitterMs: 300 },
  { throttleRate: 25 },
  { latencyMs: 1500 }, // beyond the 1 s timeout
  {},
];
/** Quiet seconds after the run: longer than the 1 s call timeout plus undici's 4 s keep-alive. */
const SETTLE_SEC = 6;
const NO_FAULTS: Partial<Faults> = { latencyMs: 0, jitterMs: 0, http500: 0, badJson: 0, reset: 0, hang: 0, throttleRate: null };

function configText(url: string, ids: string[], rate: number): string {
  return `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: ${url}\n  rate_limit: ${rate}\n  timeout: 1s\nprobe:\n  interval: 2s\nstreams:\n${ids.map((id) => `  - ${id}`).join('\n')}\n`;
}

function sumOf(m: Map<string, number>, prefix: string): number {
  let sum = Number.NaN;
  for (const [k, v] of m) if (k.startsWith(prefix)) sum = (Number.isNaN(sum) ? 0 : sum) + v;
  return sum;
}

/** The minimum of each 30 s bucket, as (minutes, MB) points. */
function floors(samples: SoakSample[], y: (s: SoakSample) => number): { x: number; y: number }[] {
  const buckets = new Map<number, number>();
  for (const s of samples) {
    const b = Math.floor(s.tSec / 30);
    buckets.set(b, Math.min(buckets.get(b) ?? Number.POSITIVE_INFINITY, y(s)));
  }
  return [...buckets].map(([b, v]) => ({ x: (b * 30 + 15) / 60, y: v }));
}

function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

export async function soak(opts: SoakOptions): Promise<SoakReport> {
  const streams = opts.streams ?? 150;
  const rate = opts.rateLimit ?? 38;
  const reloadEvery = (opts.reloadEverySec ?? 3) * 1000;
  const faultEvery = (opts.faultEverySec ?? 5) * 1000;
  const log = opts.log ?? ((): void => undefined);
  const sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }] });
  const nowSec = Math.floor(Date.now() / 1000);
  for (let i = 0; i < streams + 40; i++) if (i % 3 !== 0) sim.setStream(`soak-${i}`, { state: 'active', createTime: nowSec - i });
  const base = Array.from({ length: streams }, (_, i) => `soak-${i}`);
  const exp = await startExporter(configText(sim.url, base, rate), { env: { S: SECRET }, logLevel: 'info' });
  const report: SoakReport = {
    durationSec: opts.durationSec,
    scrapes: 0,
    scrapeFailures: 0,
    reloads: 0,
    reloadFailures: 0,
    faultPhases: 0,
    accepted: 0,
    throttled: 0,
    peakWindow: 0,
    rateLimit: rate,
    unhandledRejections: 0,
    listenerWarnings: 0,
    exitedEarly: false,
    samples: [],
    rssSlopeMbPerMin: 0,
    heapSlopeMbPerMin: 0,
    rssFirstMb: 0,
    rssLastMb: 0,
    handlesFirst: 0,
    handlesMax: 0,
    handlesLast: 0,
  };
  const t0 = Date.now();
  const settled: SoakSample[] = [];
  const sample = async (): Promise<SoakSample | null> => {
    try {
      const res = await fetch(`${exp.url}/metrics`, { signal: AbortSignal.timeout(5000) });
      const m = parseMetrics(await res.text());
      if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
      report.scrapes++;
      return {
        tSec: (Date.now() - t0) / 1000,
        rssMb: (m.get('process_resident_memory_bytes') ?? Number.NaN) / 1048576,
        heapMb: (m.get('nodejs_heap_size_used_bytes') ?? Number.NaN) / 1048576,
        // prom-client's per-type gauges (the _total one is removed as misnamed): their sum.
        handles: sumOf(m, 'nodejs_active_handles{'),
      };
    } catch {
      report.scrapeFailures++;
      return null;
    }
  };
  let nextReload = t0 + reloadEvery;
  let nextFault = t0 + faultEvery;
  try {
    while (Date.now() - t0 < opts.durationSec * 1000) {
      if (exp.child.exitCode !== null) {
        report.exitedEarly = true;
        break;
      }
      const now = Date.now();
      if (now >= nextFault) {
        const phase = FAULT_PHASES[report.faultPhases % FAULT_PHASES.length]!;
        sim.setFaults({ ...NO_FAULTS, ...phase });
        report.faultPhases++;
        nextFault = now + faultEvery;
      }
      if (now >= nextReload) {
        // A changed list each time: drop a rotating slice of 20, add 20 new ones.
        const k = report.reloads;
        const ids = [...base.filter((_, i) => (i + k * 20) % streams >= 20), ...Array.from({ length: 20 }, (_, j) => `soak-${streams + ((k * 7 + j) % 40)}`)];
        writeFileSync(exp.configFile, configText(sim.url, [...new Set(ids)], rate));
        if (k % 2 === 0) exp.child.kill('SIGHUP');
        else {
          try {
            const res = await fetch(`${exp.url}/-/reload`, { method: 'POST' });
            await res.text();
            if (res.status !== 200) report.reloadFailures++;
          } catch {
            report.reloadFailures++;
          }
        }
        report.reloads++;
        nextReload = now + reloadEvery;
      }
      const s = await sample();
      if (s) {
        report.samples.push(s);
        if (report.samples.length % 30 === 0)
          log(`soak t=${fmt(s.tSec, 0)}s rss=${fmt(s.rssMb)}MB heap=${fmt(s.heapMb)}MB handles=${s.handles} reloads=${report.reloads}`);
      }
      await sleep(1000);
    }
    // Handles are counted once the faults stop and the calls they held have timed out: a run
    // that ends during a hang phase holds a socket per hanging call, which is not a leak.
    sim.setFaults(NO_FAULTS);
    for (let i = 0; i < SETTLE_SEC && exp.child.exitCode === null; i++) {
      await sleep(1000);
      const s = await sample();
      if (s) settled.push(s);
    }
  } finally {
    const st = sim.stats();
    report.accepted = st.accepted;
    report.throttled = st.throttled;
    report.peakWindow = st.peakWindow.all;
    await exp.stop();
    await sim.close();
  }
  const err = exp.stderr();
  report.unhandledRejections = err.split('unhandled rejection').length - 1;
  report.listenerWarnings = err.split('MaxListenersExceededWarning').length - 1;
  const half = report.samples.filter((s) => s.tSec >= opts.durationSec / 2);
  report.rssSlopeMbPerMin = slope(floors(half, (s) => s.rssMb));
  report.heapSlopeMbPerMin = slope(floors(half, (s) => s.heapMb));
  const first = report.samples.slice(0, 5);
  const last = report.samples.slice(-5);
  report.rssFirstMb = Math.max(...first.map((s) => s.rssMb));
  report.rssLastMb = Math.max(...last.map((s) => s.rssMb));
  report.handlesFirst = Math.min(...first.map((s) => s.handles));
  report.handlesMax = Math.max(...report.samples.map((s) => s.handles));
  report.handlesLast = Math.min(...(settled.length > 0 ? settled : last).map((s) => s.handles));
  return report;
}

export function printSoak(r: SoakReport): void {
  console.log(
    `soak        ${r.durationSec}s: scrapes ${r.scrapes} (failed ${r.scrapeFailures}), reloads ${r.reloads} (failed ${r.reloadFailures}), fault phases ${r.faultPhases}; ` +
      `accepted ${r.accepted}, throttled ${r.throttled} (throttleRate phases), server peak 1 s window ${r.peakWindow} (limit ${r.rateLimit}); ` +
      `RSS ${fmt(r.rssFirstMb)} → ${fmt(r.rssLastMb)} MB, slope of the 30 s floors over the 2nd half ${fmt(r.rssSlopeMbPerMin, 2)} MB/min (heap ${fmt(r.heapSlopeMbPerMin, 2)} MB/min); ` +
      `handles ${r.handlesFirst} → ${r.handlesLast} once the faults stopped (max ${r.handlesMax}); unhandled rejections ${r.unhandledRejections}, listener warnings ${r.listenerWarnings}${r.exitedEarly ? '; EXITED EARLY' : ''}`,
  );
}

/** Pass/fail for both forms; the long one also bounds the slope. */
export function soakProblems(r: SoakReport, long: boolean): string[] {
  const p: string[] = [];
  if (r.exitedEarly) p.push('the exporter exited');
  if (r.scrapeFailures > 0) p.push(`${r.scrapeFailures} scrapes failed`);
  if (r.reloadFailures > 0) p.push(`${r.reloadFailures} reloads failed`);
  if (r.unhandledRejections > 0) p.push(`${r.unhandledRejections} unhandled rejections`);
  if (r.listenerWarnings > 0) p.push(`${r.listenerWarnings} listener warnings`);
  if (r.peakWindow > r.rateLimit) p.push(`server window ${r.peakWindow} > rate_limit ${r.rateLimit}`);
  if (!r.samples.every((s) => Number.isFinite(s.rssMb) && Number.isFinite(s.handles))) p.push('process metrics missing from /metrics');
  if (r.handlesLast > r.handlesFirst + 5) p.push(`handles grew ${r.handlesFirst} → ${r.handlesLast} (after the faults stopped)`);
  if (r.rssLastMb - r.rssFirstMb > 60) p.push(`RSS grew ${fmt(r.rssFirstMb)} → ${fmt(r.rssLastMb)} MB`);
  if (long && r.heapSlopeMbPerMin > 0.5) p.push(`heap floor slope ${fmt(r.heapSlopeMbPerMin, 2)} MB/min over the 2nd half`);
  if (long && r.rssSlopeMbPerMin > 2) p.push(`RSS floor slope ${fmt(r.rssSlopeMbPerMin, 2)} MB/min over the 2nd half`);
  return p;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values } = parseArgs({ options: { duration: { type: 'string', default: '600' } } });
  const durationSec = Number(values.duration);
  console.log(`zego-stream-exporter soak — node ${process.version}, ${new Date().toISOString()}, ${durationSec}s`);
  soak({ durationSec, log: (l) => console.log(l) })
    .then((r) => {
      printSoak(r);
      const problems = soakProblems(r, durationSec >= 300);
      console.log(problems.length === 0 ? 'RESULT: soak passed' : `RESULT: soak failed: ${problems.join('; ')}`);
      process.exitCode = problems.length === 0 ? 0 : 1;
    })
    .catch((err: unknown) => {
      console.error(err);
      process.exitCode = 1;
    });
}
