import { startSimulator } from '../simulator/index.js';
import { scrape, startExporter } from '../test/helpers/exporter-process.js';
import { fmt, sleep } from './stats.js';

const APP_ID = 555000333;
const SECRET = 'bench0123456789abcdef0123456789m';

export interface MixResult {
  tasks: number;
  intervalSec: number;
  budget: number;
  acceptedPerSec: number;
  /** What the slot rule yields at the measured latency (rate ÷ (1 + L)), as the exporter reports it at the end. */
  achievablePerSec: number;
  throttled: number;
  /** Stalest task seen (scrape time − its last answered call), and the ideal: max(interval, tasks ÷ budget). */
  maxStalenessSec: number;
  idealStalenessSec: number;
}

/**
 * The mix part as a real process against the strict simulator (GetMixTaskInfo at its documented
 * 100/s): `tasks` running tasks at one interval on GetMixTaskInfo's own budget. Accepted calls/s
 * against the budget, rate errors, and how stale the stalest task gets against the ideal refresh.
 */
export async function mixBench(tasks: number, intervalSec: number, budget: number, seconds: number): Promise<MixResult> {
  const mixTasks = Object.fromEntries(Array.from({ length: tasks }, (_, i) => [`task-${i}`, { inputs: [`in-${i}`] }]));
  const sim = await startSimulator({ apps: [{ appId: APP_ID, secret: SECRET }], mixTasks });
  const exp = await startExporter(
    `zego:\n  app_id: ${APP_ID}\n  server_secret: \${S}\n  endpoint: ${sim.url}\n  mix_task_info_rate_limit: ${budget}\n` +
      `mix_tasks:\n${Array.from({ length: tasks }, (_, i) => `  - { id: task-${i}, interval: ${intervalSec}s }`).join('\n')}\n`,
    { env: { S: SECRET }, logLevel: 'info' },
  );
  try {
    const ideal = Math.max(intervalSec, tasks / budget);
    await sleep(Math.ceil(ideal * 1000) + 1500);
    sim.resetStats();
    const t0 = Date.now();
    let maxStale = 0;
    while (Date.now() - t0 < seconds * 1000) {
      const m = await scrape(exp.url);
      const at = Date.now() / 1000;
      for (const [k, v] of m) if (k.startsWith('zego_mix_task_last_success_timestamp_seconds{') && v > 0) maxStale = Math.max(maxStale, at - v);
      await sleep(250);
    }
    const elapsed = (Date.now() - t0) / 1000;
    const st = sim.stats().apis.GetMixTaskInfo;
    const achievable = (await scrape(exp.url)).get('zego_exporter_achievable_probes_per_second{api="GetMixTaskInfo"}') ?? Number.NaN;
    return {
      tasks,
      intervalSec,
      budget,
      acceptedPerSec: st.accepted / elapsed,
      achievablePerSec: achievable,
      throttled: st.throttled,
      maxStalenessSec: maxStale,
      idealStalenessSec: ideal,
    };
  } finally {
    await exp.stop();
    await sim.close();
  }
}

export function printMix(r: MixResult): void {
  console.log(
    `mix         tasks=${r.tasks} interval=${r.intervalSec}s: GetMixTaskInfo ${fmt(r.acceptedPerSec, 2)}/s of ${r.budget} ` +
      `(${fmt((100 * r.acceptedPerSec) / r.budget)}%; the slot rule yields ${fmt(r.achievablePerSec, 2)}/s at this latency); rate errors ${r.throttled}; max task staleness ${fmt(r.maxStalenessSec, 2)} s ` +
      `vs ideal ${fmt(r.idealStalenessSec, 2)} s (${fmt(r.maxStalenessSec / r.idealStalenessSec, 2)}×)`,
  );
}
