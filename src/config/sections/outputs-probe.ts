import { DEFAULT_OUTPUT_LIMITS } from '../../outputs/prober.js';
import type { ConfigReader, YamlNode } from '../reader.js';
import type { OutputProbeSettings } from '../types.js';

/**
 * The defaults of `probe.outputs`, sized for 500 HLS and 100 HTTP-FLV outputs at 15 s on 2 cores
 * (docs/configuration.md#probeoutputs): an FLV probe holds its slot and its connection for its
 * whole 3 s window, so 100 of them every 15 s keep about 20 probes open at once, often all on one
 * CDN host; HLS probes take milliseconds. 32 at once leaves room for both. The per-probe bounds
 * are the prober's (outputs/prober.ts, docs/limits.md).
 */
export const DEFAULT_OUTPUT_PROBE: Readonly<OutputProbeSettings> = Object.freeze({
  concurrency: 32,
  timeoutMs: DEFAULT_OUTPUT_LIMITS.timeoutMs,
  maxBytes: DEFAULT_OUTPUT_LIMITS.hlsMaxBytes,
  flvMaxBytes: DEFAULT_OUTPUT_LIMITS.flvMaxBytes,
  maxRedirects: DEFAULT_OUTPUT_LIMITS.maxRedirects,
  flvWindowMs: DEFAULT_OUTPUT_LIMITS.flvWindowMs,
  connectionsPerHost: DEFAULT_OUTPUT_LIMITS.connectionsPerHost,
  flvConnectionsPerHost: DEFAULT_OUTPUT_LIMITS.flvConnectionsPerHost,
});

/** Integer keys: [key, field, min, max]. */
const INTEGERS: readonly [
  string,
  'concurrency' | 'maxBytes' | 'flvMaxBytes' | 'maxRedirects' | 'connectionsPerHost' | 'flvConnectionsPerHost',
  number,
  number,
][] = [
  ['concurrency', 'concurrency', 1, 1024],
  ['max_bytes', 'maxBytes', 4096, 64 * 1024 * 1024],
  ['flv_max_bytes', 'flvMaxBytes', 4096, 64 * 1024 * 1024],
  ['max_redirects', 'maxRedirects', 0, 3],
  ['connections_per_host', 'connectionsPerHost', 1, 1024],
  ['flv_connections_per_host', 'flvConnectionsPerHost', 1, 1024],
];
/** Duration keys: [key, field, min ms, max ms]. */
const DURATIONS: readonly [string, 'timeoutMs' | 'flvWindowMs', number, number][] = [
  ['timeout', 'timeoutMs', 1_000, 60_000],
  ['flv_window', 'flvWindowMs', 500, 30_000],
];

/** `probe.outputs:` (optional) — how output probes are bounded: at once, per host, per probe. */
export function readOutputProbe(r: ConfigReader, node: YamlNode | null | undefined): OutputProbeSettings {
  const out: OutputProbeSettings = { ...DEFAULT_OUTPUT_PROBE };
  const f = r.fields(node, 'probe.outputs', [...INTEGERS.map((i) => i[0]), ...DURATIONS.map((d) => d[0])]);
  if (!f) return out;
  for (const [key, field, min, max] of INTEGERS) {
    if (!f.has(key)) continue;
    const path = `probe.outputs.${key}`;
    const n = r.number(f.get(key), path);
    if (n === undefined) continue;
    if (!Number.isInteger(n) || n < min || n > max) r.err(path, f.get(key), `must be an integer from ${min} to ${max}`);
    else out[field] = n;
  }
  for (const [key, field, min, max] of DURATIONS) {
    if (!f.has(key)) continue;
    const path = `probe.outputs.${key}`;
    const ms = r.duration(f.get(key), path);
    if (ms === undefined) continue;
    if (ms < min || ms > max) r.err(path, f.get(key), `must be from ${min / 1000}s to ${max / 1000}s`);
    else out[field] = ms;
  }
  if (out.flvWindowMs >= out.timeoutMs) r.err('probe.outputs.flv_window', f.get('flv_window') ?? node, 'must be shorter than probe.outputs.timeout');
  return out;
}
