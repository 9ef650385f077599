/**
 * npm run bench — prints the figures the README's "Performance" section quotes:
 *   budget use at saturation vs rate_limit (and the server's busiest second), max staleness vs N/R,
 *   /metrics render time and RSS at 1k and 10k streams, callback-to-/metrics latency.
 * Targets (2-core machine): ≥ 95% of the budget at loopback latency, zero throttling, peak window
 * ≤ rate_limit; staleness ≤ 1.2 × N/R; /metrics for 10k streams p99 < 50 ms.
 * `--quick` shortens the runs (CI smoke); `--only saturation|render` picks a section.
 */
import { parseArgs } from 'node:util';
import { measureCallbackLatency } from './callbacks.js';
import { printRender, renderInProcessAndOverHttp } from './render.js';
import { printSaturation, saturation } from './saturation.js';

const { values } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' } } });
const quick = values.quick;
const only = values.only;

async function main(): Promise<void> {
  console.log(`zego-stream-exporter bench — node ${process.version}, ${new Date().toISOString()}${quick ? ' (quick)' : ''}`);
  let failed = false;
  if (!only || only === 'saturation') {
    for (const [streams, rate] of [
      [400, 38],
      [200, 20],
    ] as const) {
      const r = await saturation(streams, rate, quick ? 8 : 20);
      printSaturation(r);
      failed ||= r.budgetUsedPct < 95 || r.throttled > 0 || r.peakWindow > r.rateLimit || r.maxStalenessSec > 1.2 * r.idealStalenessSec;
    }
  }
  if (!only || only === 'render') {
    for (const n of [1000, 10_000]) {
      const r = await renderInProcessAndOverHttp(n, quick ? 30 : 100);
      printRender(r);
      if (n === 10_000) failed ||= r.scrapeP99Ms >= 50;
    }
  }
  if (!only || only === 'callbacks') {
    const r = await measureCallbackLatency(quick ? 20 : 100);
    console.log(`callbacks   signed stream_create/close → visible on /metrics: p50 ${r.p50Ms.toFixed(1)} ms p99 ${r.p99Ms.toFixed(1)} ms (n=${r.n})`);
    failed ||= r.p99Ms >= 1000;
  }
  console.log(failed ? 'RESULT: a target was missed (see above)' : 'RESULT: all targets met');
  process.exitCode = failed ? 1 : 0;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
