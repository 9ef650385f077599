import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import type { OutputConfig } from '../src/config/types.js';
import { OutputsPart } from '../src/outputs/part.js';
import type { OutputProbeOutcome } from '../src/outputs/types.js';
import { StateStore } from '../src/state/store.js';
import { parseMetrics, startExporter } from '../test/helpers/exporter-process.js';
import { testConfig } from '../test/helpers/config.js';
import { fmt, percentile, sleep } from './stats.js';

const APP_ID = 555000444;
const SECRET = 'bench0123456789abcdef0123456789o';

export interface OutputsResult {
  hls: number;
  flv: number;
  intervalSec: number;
  /** Outputs up at the end, of hls + flv. */
  up: number;
  /** Failures counted over the run, by reason (what kept an output down or unreached). */
  failures: Record<string, number>;
  /** The stalest output seen (scrape time − its last probe that reached the CDN), against the interval. */
  maxStalenessSec: number;
  /** The exporter's event-loop delay over the window (ms). */
  lag: { p50: number; p99: number; max: number };
  scrapeP50Ms: number;
  scrapeP99Ms: number;
  /** The outputs part's families rendered in this process (no HTTP, no load but this one's), every output known and up. */
  renderP50Ms: number;
  renderP99Ms: number;
  renderBytes: number;
  /** The exporter's CPU over the window, in % of one core. */
  cpuPercent: number;
  rssMb: number;
}

/**
 * The outputs part as a real process: `hls` HLS and `flv` HTTP-FLV outputs at one interval against
 * the simulator's CDN (a process of its own, so that serving 20 FLV streams at once does not delay
 * this process's timing of /metrics), the default probe.outputs limits. Over `seconds` after a
 * warm-up of one interval: the exporter's event-loop delay (bench/lag-probe.ts, from inside it),
 * /metrics latency scraped once a second meanwhile, how stale the stalest output gets, its CPU.
 */
export async function outputsBench(hls: number, flv: number, intervalSec: number, seconds: number): Promise<OutputsResult> {
  const n = hls + flv;
  const sim = await startSimulatorProcess(n);
  const dir = mkdtempSync(join(tmpdir(), 'zego-outputs-bench-'));
  const lagOut = join(dir, 'lag.json');
  const probe = new URL('./lag-probe.js', import.meta.url).pathname;
  const url = (i: number): string => (i < hls ? `${sim.url}/cdn/hls/demo-${i + 1}.m3u8?token=t${i}` : `${sim.url}/cdn/flv/demo-${i + 1}.flv?token=t${i}`);
  const exp = await startExporter(
    `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: ${sim.url}\n` +
      `outputs:\n${Array.from({ length: n }, (_, i) => `  - { url: "${url(i)}", interval: ${intervalSec}s }`).join('\n')}\n`,
    { env: { S: SECRET, NODE_OPTIONS: `--import=${probe}`, LAG_PROBE_OUT: lagOut }, logLevel: 'info', timeoutMs: 60_000 },
  );
  const agent = new Agent({ keepAlive: true });
  try {
    // One interval and a probe's time: every output probed once, the pacing in its steady state.
    await sleep(intervalSec * 1000 + 4000);
    const cpu0 = await cpuSeconds(exp.url, agent);
    exp.child.kill('SIGUSR2'); // starts the lag window
    const t0 = Date.now();
    const times: number[] = [];
    let maxStale = 0;
    let last = new Map<string, number>();
    while (Date.now() - t0 < seconds * 1000) {
      const s = await timedScrape(`${exp.url}/metrics`, agent);
      times.push(s.ms);
      last = parseMetrics(s.text);
      const at = Date.now() / 1000;
      for (const [k, v] of last) if (k.startsWith('zego_output_last_success_timestamp_seconds{') && v > 0) maxStale = Math.max(maxStale, at - v);
      await sleep(1000);
    }
    exp.child.kill('SIGUSR2');
    const elapsed = (Date.now() - t0) / 1000;
    const cpu1 = await cpuSeconds(exp.url, agent);
    await sleep(300);
    const lag = JSON.parse(readFileSync(lagOut, 'utf8')) as { p50: number; p99: number; max: number };
    let up = 0;
    const failures: Record<string, number> = {};
    for (const [k, v] of last) {
      if (k.startsWith('zego_output_up{') && v === 1) up++;
      const reason = /^zego_output_failures_total\{.*reason="(\w+)"\}$/.exec(k)?.[1];
      if (reason !== undefined && v > 0) failures[reason] = (failures[reason] ?? 0) + v;
    }
    const render = await renderInProcess(hls, flv, intervalSec);
    return {
      ...render,
      hls,
      flv,
      intervalSec,
      up,
      failures,
      maxStalenessSec: maxStale,
      lag,
      scrapeP50Ms: percentile(times, 50),
      scrapeP99Ms: percentile(times, 99),
      cpuPercent: (100 * (cpu1 - cpu0)) / elapsed,
      rssMb: (last.get('process_resident_memory_bytes') ?? 0) / 1024 / 1024,
    };
  } finally {
    agent.destroy();
    await exp.stop();
    sim.child.kill();
    await once(sim.child, 'exit');
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The part's families for hls + flv outputs, each after one probe that found it up: p50/p99 of 200 renders. */
async function renderInProcess(hls: number, flv: number, intervalSec: number): Promise<{ renderP50Ms: number; renderP99Ms: number; renderBytes: number }> {
  const outputs: OutputConfig[] = Array.from({ length: hls + flv }, (_, i) => {
    const name = i < hls ? `https://pull.example-cdn.com/live/o-${i}.m3u8` : `https://pull.example-cdn.com/live/o-${i}.flv`;
    return { url: `${name}?token=t`, name, kind: i < hls ? 'hls' : 'flv', intervalMs: intervalSec * 1000, labels: { team: `t${i % 7}` } };
  });
  const logger = pino({ level: 'silent' });
  const now = Date.now();
  const outcome = (kind: 'hls' | 'flv'): OutputProbeOutcome => ({
    result: {
      reached: true,
      up: true,
      reason: null,
      detail: '',
      firstByteSeconds: 0.004,
      bitrateBps: 812_345,
      targetDurationSeconds: kind === 'hls' ? 2 : null,
      mediaAdvancedAtMs: now,
      tlsNotAfterMs: now + 86_400_000,
    },
    memory: null,
  });
  const part = new OutputsPart(
    testConfig({ extra: { outputs } }),
    {
      logger,
      now: Date.now,
      store: new StateStore({ logger }),
      api: () => {
        throw new Error('no API');
      },
      discover: () => 'off',
      forget: () => undefined,
      discovered: () => ({ size: 0, ids: () => [], has: () => false }),
    },
    () => ({ probe: async (t) => outcome(t.kind), close: async () => undefined }),
  );
  for (const r of part.rows()) r.state.apply(outcome(r.kind), now);
  const times: number[] = [];
  let bytes = 0;
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    bytes = part.metrics('text').length;
    times.push(performance.now() - t);
  }
  await part.stop(0);
  return { renderP50Ms: percentile(times, 50), renderP99Ms: percentile(times, 99), renderBytes: bytes };
}

/** The built simulator with `streams` active streams demo-1 … demo-N (each served on its CDN). */
async function startSimulatorProcess(streams: number): Promise<{ child: ChildProcess; url: string }> {
  const main = new URL('../simulator/main.js', import.meta.url).pathname;
  const child = spawn(process.execPath, [main, '--app-id', String(APP_ID), '--streams', String(streams)], {
    env: { ...process.env, SIM_SECRET: SECRET },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const [first] = (await once(lines, 'line')) as [string];
  return { child, url: (JSON.parse(first) as { url: string }).url };
}

async function cpuSeconds(base: string, agent: Agent): Promise<number> {
  const s = await timedScrape(`${base}/metrics`, agent);
  return parseMetrics(s.text).get('process_cpu_seconds_total') ?? Number.NaN;
}

function timedScrape(url: string, agent: Agent): Promise<{ ms: number; text: string }> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    get(url, { agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ ms: performance.now() - t, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

export function printOutputs(r: OutputsResult): void {
  console.log(
    `outputs     ${r.hls} HLS + ${r.flv} HTTP-FLV at ${r.intervalSec}s: ${r.up}/${r.hls + r.flv} up (failures: ${JSON.stringify(r.failures)}); stalest output ${fmt(r.maxStalenessSec, 1)} s (interval ${r.intervalSec} s); ` +
      `event-loop delay p50 ${fmt(r.lag.p50, 2)} ms p99 ${fmt(r.lag.p99, 2)} ms max ${fmt(r.lag.max, 1)} ms; /metrics p50 ${fmt(r.scrapeP50Ms, 1)} ms p99 ${fmt(r.scrapeP99Ms, 1)} ms; ` +
      `the outputs' families rendered in-process p50 ${fmt(r.renderP50Ms, 2)} ms p99 ${fmt(r.renderP99Ms, 2)} ms (${fmt(r.renderBytes / 1024, 0)} KiB); ` +
      `exporter CPU ${fmt(r.cpuPercent, 0)}% of a core, RSS ${fmt(r.rssMb, 0)} MB`,
  );
}
