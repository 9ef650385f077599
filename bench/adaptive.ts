import { startSimulator } from '../simulator/index.js';
import { scrape, startExporter } from '../test/helpers/exporter-process.js';
import { apiCalls } from './saturation.js';
import { fmt, sleep } from './stats.js';

const APP_ID = 555000333;
const SECRET = 'adapt0123456789abcdef0123456789a';

function yaml(url: string, rate: number, streams: string): string {
  return `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: ${url}\n  rate_limit: ${rate}\nprobe:\n  interval: 1s\nstreams:\n${streams}\n`;
}

export interface ThrottleResult {
  api: ThrottledApi;
  rateLimit: number;
  available: number;
  /** Seconds from the other caller starting until the throttled share over 10 s stays < 2%. */
  convergeSec: number;
  /** After convergence, until the other caller stops. */
  acceptedPerSecAfter: number;
  throttledPctAfter: number;
  /** Seconds from the other caller stopping until accepted/s over 5 s is ≥ 90% of rate_limit. */
  climbBackSec: number;
}

/**
 * Another caller eats the budget: the simulator throttles at `available`/s while the exporter is
 * configured for `rateLimit`. Samples the simulator's counters every second.
 */
/**
 * Which API another caller squeezes: DescribeRTCStreamState (30002) over 400 streams at 1 s, or
 * DescribeSimpleStreamList (206, its AppID limit) over 600 rooms at 10 s (the per-room rule allows
 * no faster), each on its own budget.
 */
export type ThrottledApi = 'DescribeRTCStreamState' | 'DescribeSimpleStreamList';

function throttleSetup(api: ThrottledApi, url: string, rateLimit: number): { yaml: string; warmupMs: number } {
  if (api === 'DescribeRTCStreamState') return { yaml: yaml(url, rateLimit, Array.from({ length: 400 }, (_, i) => `  - t-${i}`).join('\n')), warmupMs: 3000 };
  const rooms = Array.from({ length: 600 }, (_, i) => `  - { id: room-${i}, interval: 10s }`).join('\n');
  return {
    yaml: `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: ${url}\n  stream_list_rate_limit: ${rateLimit}\nprobe:\n  interval: 1h\nrooms:\n${rooms}\n`,
    warmupMs: 16_000,
  };
}

export async function throttleConvergence(
  rateLimit: number,
  available: number,
  throttledSec: number,
  recoverSec: number,
  api: ThrottledApi = 'DescribeRTCStreamState',
): Promise<ThrottleResult> {
  const sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }] });
  const setup = throttleSetup(api, sim.url, rateLimit);
  const exp = await startExporter(setup.yaml, { env: { S: SECRET }, logLevel: 'info' });
  const squeeze = (rate: number | null): void => void sim.setFaults(api === 'DescribeRTCStreamState' ? { throttleRate: rate } : { listThrottleRate: rate });
  const counts = (): { accepted: number; throttled: number } => sim.stats().apis[api];
  try {
    await sleep(setup.warmupMs);
    squeeze(available);
    const samples: { t: number; accepted: number; throttled: number }[] = [];
    const t0 = Date.now();
    const sample = (): void => {
      const st = counts();
      samples.push({ t: (Date.now() - t0) / 1000, accepted: st.accepted, throttled: st.throttled });
    };
    while (Date.now() - t0 < throttledSec * 1000) {
      sample();
      await sleep(1000);
    }
    sample();
    // Converged: from this sample on, every 10 s window has < 2% throttled.
    const win = (a: (typeof samples)[number], b: (typeof samples)[number]): { acc: number; thr: number } => ({
      acc: b.accepted - a.accepted,
      thr: b.throttled - a.throttled,
    });
    let convergeIdx = samples.length - 1;
    for (let i = samples.length - 11; i >= 0; i--) {
      let ok = true;
      for (let j = i; j + 10 < samples.length; j++) {
        const w = win(samples[j]!, samples[j + 10]!);
        if (w.thr / Math.max(1, w.acc + w.thr) >= 0.02) ok = false;
      }
      if (!ok) break;
      convergeIdx = i;
    }
    const from = samples[convergeIdx]!;
    const to = samples[samples.length - 1]!;
    const after = win(from, to);
    const span = Math.max(1, to.t - from.t);
    squeeze(null);
    const t1 = Date.now();
    let climbBackSec = Number.NaN;
    const recent: { t: number; calls: number }[] = [];
    while (Date.now() - t1 < recoverSec * 1000) {
      recent.push({ t: (Date.now() - t1) / 1000, calls: counts().accepted });
      const old = recent.find((r) => r.t >= recent[recent.length - 1]!.t - 5);
      if (
        old &&
        recent[recent.length - 1]!.t - old.t >= 4.5 &&
        (recent[recent.length - 1]!.calls - old.calls) / (recent[recent.length - 1]!.t - old.t) >= 0.9 * rateLimit
      ) {
        climbBackSec = recent[recent.length - 1]!.t;
        break;
      }
      await sleep(500);
    }
    void apiCalls(await scrape(exp.url));
    return {
      api,
      rateLimit,
      available,
      convergeSec: from.t,
      acceptedPerSecAfter: after.acc / span,
      throttledPctAfter: (100 * after.thr) / Math.max(1, after.acc + after.thr),
      climbBackSec,
    };
  } finally {
    await exp.stop();
    await sim.close();
  }
}

export function printThrottle(r: ThrottleResult): void {
  console.log(
    `throttle    ${r.api} rate_limit=${r.rateLimit}, another caller leaves ${r.available}/s: converged in ${fmt(r.convergeSec, 0)} s; after that ${fmt(r.acceptedPerSecAfter, 1)}/s accepted ` +
      `(${fmt((100 * r.acceptedPerSecAfter) / r.available, 0)}% of what is left), throttled ${fmt(r.throttledPctAfter, 2)}%; back to ≥ 90% of rate_limit ${fmt(r.climbBackSec, 0)} s after the other caller stopped`,
  );
}

export interface MixedResult {
  keyStreams: number;
  otherStreams: number;
  keyMaxStaleSec: number;
  otherMaxStaleSec: number;
  otherIdealSec: number;
}

/** Key streams at 1 s, the rest at 5 s, demand far above the budget: key streams keep their interval. */
export async function mixedIntervals(keys: number, others: number, rateLimit: number, seconds: number): Promise<MixedResult> {
  const sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }] });
  const list = [
    ...Array.from({ length: keys }, (_, i) => `  - id: key-${i}\n    interval: 1s`),
    ...Array.from({ length: others }, (_, i) => `  - id: bulk-${i}\n    interval: 5s`),
  ].join('\n');
  const exp = await startExporter(yaml(sim.url, rateLimit, list), { env: { S: SECRET }, logLevel: 'info' });
  const left = rateLimit - keys;
  try {
    await sleep(Math.ceil((others / left) * 1000) + 3000);
    let keyMax = 0;
    let otherMax = 0;
    const t0 = Date.now();
    while (Date.now() - t0 < seconds * 1000) {
      const m = await scrape(exp.url);
      const at = Date.now() / 1000;
      for (const [k, v] of m) {
        if (!k.startsWith('zego_stream_last_success_timestamp_seconds{') || v <= 0) continue;
        if (k.includes('"key-')) keyMax = Math.max(keyMax, at - v);
        else otherMax = Math.max(otherMax, at - v);
      }
      await sleep(250);
    }
    return { keyStreams: keys, otherStreams: others, keyMaxStaleSec: keyMax, otherMaxStaleSec: otherMax, otherIdealSec: others / left };
  } finally {
    await exp.stop();
    await sim.close();
  }
}

export function printMixed(r: MixedResult): void {
  console.log(
    `mixed       ${r.keyStreams} key streams at 1 s + ${r.otherStreams} at 5 s (demand ${r.keyStreams + r.otherStreams / 5}/s): key max staleness ${fmt(r.keyMaxStaleSec, 2)} s (interval 1 s); ` +
      `the rest ${fmt(r.otherMaxStaleSec, 2)} s vs ideal N/(R−keys) ${fmt(r.otherIdealSec, 2)} s (${fmt(r.otherMaxStaleSec / r.otherIdealSec, 2)}×)`,
  );
}
