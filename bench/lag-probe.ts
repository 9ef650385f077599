/**
 * Preloaded into the exporter by the bench (NODE_OPTIONS=--import): measures the event loop's delay
 * from inside the process. SIGUSR2 writes the percentiles since the last SIGUSR2 to $LAG_PROBE_OUT
 * and starts a new window, so the bench can bracket exactly the load it applies.
 *
 * monitorEventLoopDelay records the whole time between two ticks of its timer, that is the
 * resolution plus the delay (an idle loop shows p50 ≈ resolution: nodejs/node#25378), so the
 * resolution is subtracted; it is 1 ms so that short stalls are sampled too.
 */
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const RESOLUTION_MS = 1;
const out = process.env['LAG_PROBE_OUT'];
if (out) {
  const h = monitorEventLoopDelay({ resolution: RESOLUTION_MS });
  h.enable();
  process.on('SIGUSR2', () => {
    const delay = (ns: number): number => Math.max(0, ns / 1e6 - RESOLUTION_MS);
    writeFileSync(out, JSON.stringify({ p50: delay(h.percentile(50)), p99: delay(h.percentile(99)), max: delay(h.max), samples: h.count }));
    h.reset();
  });
}
