/**
 * Preloaded into the exporter by the bench (NODE_OPTIONS=--import): measures the event loop's delay
 * from inside the process. SIGUSR2 writes the percentiles since the last SIGUSR2 to $LAG_PROBE_OUT
 * and starts a new window, so the bench can bracket exactly the load it applies.
 */
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

const out = process.env['LAG_PROBE_OUT'];
if (out) {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  process.on('SIGUSR2', () => {
    const ms = (ns: number): number => ns / 1e6;
    writeFileSync(out, JSON.stringify({ p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max), samples: h.count }));
    h.reset();
  });
}
