import { startSimulator } from '../simulator/index.js';
import { scrape, startExporter } from '../test/helpers/exporter-process.js';
import { fmt, sleep } from './stats.js';

const APP_ID = 555000111;
const SECRET = 'bench0123456789abcdef0123456789a';

export interface SaturationResult {
  streams: number;
  rateLimit: number;
  addedLatencyMs: number;
  acceptedPerSec: number;
  budgetUsedPct: number;
  throttled: number;
  peakWindow: number;
  maxStalenessSec: number;
  idealStalenessSec: number;
  /** Exporter CPU time (user+system) per API call made, in µs. */
  cpuPerProbeUs: number;
}

export function apiCalls(m: Map<string, number>): number {
  let n = 0;
  for (const [k, v] of m) if (k.startsWith('zego_exporter_api_requests_total{')) n += v;
  return n;
}

/**
 * The exporter as a real process against the strict simulator (40/s sliding window), every stream
 * asking for a 1 s refresh: how much of rate_limit it spends, whether it is ever throttled, the
 * server's busiest second, and how stale the stalest stream gets compared with the ideal N/R.
 * Staleness is read the way an operator would: scrape time minus last_success_timestamp.
 */
export async function saturation(streams: number, rateLimit: number, seconds: number, addedLatencyMs = 0): Promise<SaturationResult> {
  const sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }], faults: { latencyMs: addedLatencyMs } });
  const now = Math.floor(Date.now() / 1000);
  for (let i = 0; i < streams; i++) if (i % 2 === 0) sim.setStream(`sat-${i}`, { state: 'active', createTime: now });
  const exp = await startExporter(
    `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: ${sim.url}\n  rate_limit: ${rateLimit}\nprobe:\n  interval: 1s\nstreams:\n${Array.from({ length: streams }, (_, i) => `  - sat-${i}`).join('\n')}\n`,
    { env: { S: SECRET }, logLevel: 'info' },
  );
  try {
    const ideal = streams / rateLimit;
    // Warm up for one full round, so every stream has been probed once before staleness counts.
    await sleep(Math.ceil(ideal * 1000) + 1500);
    sim.resetStats();
    const t0 = Date.now();
    const first = await scrape(exp.url);
    let last = first;
    let maxStale = 0;
    while (Date.now() - t0 < seconds * 1000) {
      const m = await scrape(exp.url);
      last = m;
      const at = Date.now() / 1000;
      for (const [k, v] of m) if (k.startsWith('zego_stream_last_success_timestamp_seconds{') && v > 0) maxStale = Math.max(maxStale, at - v);
      await sleep(250);
    }
    const elapsed = (Date.now() - t0) / 1000;
    const st = sim.stats();
    return {
      streams,
      rateLimit,
      addedLatencyMs,
      acceptedPerSec: st.accepted / elapsed,
      budgetUsedPct: (100 * st.accepted) / elapsed / rateLimit,
      throttled: st.throttled,
      peakWindow: st.peakWindow.all,
      maxStalenessSec: maxStale,
      idealStalenessSec: ideal,
      cpuPerProbeUs:
        (1e6 * ((last.get('process_cpu_seconds_total') ?? 0) - (first.get('process_cpu_seconds_total') ?? 0))) / Math.max(1, apiCalls(last) - apiCalls(first)),
    };
  } finally {
    await exp.stop();
    await sim.close();
  }
}

export function printSaturation(r: SaturationResult): void {
  console.log(
    `saturation  streams=${r.streams} rate_limit=${r.rateLimit} added_latency=${r.addedLatencyMs}ms: ` +
      `accepted ${fmt(r.acceptedPerSec, 2)}/s (${fmt(r.budgetUsedPct)}% of budget), throttled ${r.throttled}, ` +
      `server peak 1 s window ${r.peakWindow} (limit ${r.rateLimit}); max staleness ${fmt(r.maxStalenessSec, 2)} s ` +
      `vs ideal N/R ${fmt(r.idealStalenessSec, 2)} s (${fmt(r.maxStalenessSec / r.idealStalenessSec, 2)}×); CPU ${fmt(r.cpuPerProbeUs, 0)} µs per probe`,
  );
}
