import type { ConfigReader, YamlNode } from '../reader.js';
import type { ProbeConfig } from '../types.js';

const DEFAULT_INTERVAL_MS = 15_000;

/** `probe:` (optional) — the default refresh interval of every stream. */
export function readProbe(r: ConfigReader, node: YamlNode | null | undefined, present: boolean): ProbeConfig {
  if (!present) return { intervalMs: DEFAULT_INTERVAL_MS };
  const f = r.fields(node, 'probe', ['interval']);
  return { intervalMs: (f && readInterval(r, f.get('interval'), 'probe.interval', DEFAULT_INTERVAL_MS)) ?? DEFAULT_INTERVAL_MS };
}

/** A probe interval: at least 1 s (the API's Sequence and budget make less meaningless), at most 24 h. */
export function readInterval(r: ConfigReader, node: YamlNode | null | undefined, path: string, fallback: number): number | undefined {
  if (node === undefined) return fallback;
  const d = r.duration(node, path);
  if (d === undefined) return undefined;
  if (d < 1000 || d > 86_400_000) {
    r.err(path, node, 'must be from 1s to 24h');
    return undefined;
  }
  return d;
}
