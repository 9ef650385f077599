import { isSeq } from 'yaml';
import type { ConfigReader, YamlNode } from '../reader.js';
import { OUTPUT_DEFAULT_INTERVAL_MS, type OutputDiscoveryConfig } from '../types.js';
import { readOutputInterval } from './outputs.js';

const DEFAULT_MAX_OUTPUTS = 100;
const MAX_OUTPUTS_CEILING = 10_000;
const DEFAULT_FORGET_AFTER_MS = 3_600_000;
/** A host name or address as URL.hostname gives it (lower case; IPv6 in brackets). */
const HOST = /^(\[[0-9a-f:.]+\]|[a-z0-9]([a-z0-9.-]*[a-z0-9])?)$/;

/**
 * `output_discovery:` (optional; off when absent or `enabled: false`) — play URLs from stream_create
 * and mix_start callbacks become outputs, only on `allowed_hosts` (docs/outputs.md#discovery):
 * a callback names a URL the exporter then fetches, so the hosts it may fetch are the operator's list.
 */
export function readOutputDiscovery(r: ConfigReader, node: YamlNode | null | undefined): OutputDiscoveryConfig | undefined {
  const f = r.fields(node, 'output_discovery', ['enabled', 'allowed_hosts', 'max_outputs', 'forget_after', 'interval']);
  if (!f) return undefined;
  const enabled = f.has('enabled') ? (r.bool(f.get('enabled'), 'output_discovery.enabled') ?? false) : true;
  const hosts: string[] = [];
  const hn = f.get('allowed_hosts');
  if (!isSeq(hn) || hn.items.length === 0) {
    if (enabled)
      r.err('output_discovery.allowed_hosts', hn ?? node, 'required: the CDN hosts discovered play URLs may be on, such as ["pull.example-cdn.com"]');
  } else {
    hn.items.forEach((it, i) => {
      const path = `output_discovery.allowed_hosts[${i}]`;
      const v = r
        .string(it as YamlNode, path)
        ?.trim()
        .toLowerCase();
      if (v === undefined) return;
      if (!HOST.test(v)) r.err(path, it as YamlNode, `must be a host name or address (no scheme, port or path), got ${r.shown(it as YamlNode, v)}`);
      else hosts.push(v);
    });
  }
  let maxOutputs = DEFAULT_MAX_OUTPUTS;
  if (f.has('max_outputs')) {
    const n = r.number(f.get('max_outputs'), 'output_discovery.max_outputs');
    if (n !== undefined && !(Number.isInteger(n) && n >= 1 && n <= MAX_OUTPUTS_CEILING))
      r.err('output_discovery.max_outputs', f.get('max_outputs'), `must be an integer from 1 to ${MAX_OUTPUTS_CEILING}`);
    else if (n !== undefined) maxOutputs = n;
  }
  let forgetAfterMs = DEFAULT_FORGET_AFTER_MS;
  if (f.has('forget_after')) {
    const ms = r.duration(f.get('forget_after'), 'output_discovery.forget_after');
    if (ms !== undefined) forgetAfterMs = ms;
  }
  const intervalMs = f.has('interval') ? readOutputInterval(r, f.get('interval'), 'output_discovery.interval') : OUTPUT_DEFAULT_INTERVAL_MS;
  if (!enabled || intervalMs === undefined) return undefined;
  return { allowedHosts: hosts, maxOutputs, forgetAfterMs, intervalMs };
}
