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
  /**
   * The longest refresh seen: the largest gap between two answered calls about one task (their send
   * times, from zego_mix_task_last_success_timestamp_seconds), or a task's age at the end if larger;
   * and the ideal: max(interval, tasks ÷ budget).
   */
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
    // Each scrape renders 1000 tasks' families in the exporter and is parsed here, in the
    // simulator's process: on a 2-core machine a scrape every 250 ms cost several percent of the
    // calls measured. Refresh gaps are read off the last-success times instead (a task is refreshed
    // every ~12.5 s, so a scrape a second sees every refresh), which needs no dense sampling.
    const last = new Map<string, number>();
    const readGaps = (m: Map<string, number>): number => {
      let maxGap = 0;
      for (const [k, v] of m) {
        if (!k.startsWith('zego_mix_task_last_success_timestamp_seconds{') || v <= 0) continue;
        const before = last.get(k);
        if (before !== undefined && v > before) maxGap = Math.max(maxGap, v - before);
        last.set(k, v);
      }
      return maxGap;
    };
    readGaps(await scrape(exp.url));
    sim.resetStats();
    const t0 = Date.now();
    let maxStale = 0;
    while (Date.now() - t0 < seconds * 1000) {
      await sleep(1000);
      maxStale = Math.max(maxStale, readGaps(await scrape(exp.url)));
    }
    const elapsed = (Date.now() - t0) / 1000;
    const st = sim.stats().apis.GetMixTaskInfo;
    const end = Date.now() / 1000;
    // A task not refreshed since the window began counts by its age.
    for (const v of last.values()) maxStale = Math.max(maxStale, end - v);
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
