import { isMap, isSeq } from 'yaml';
import { kindOfPath, outputName, parseOutputUrl } from '../../outputs/output-url.js';
import type { OutputKind } from '../../outputs/types.js';
import { isValidMixTaskId } from '../../zego/mix.js';
import { isValidStreamId } from '../../zego/protocol.js';
import { formatDuration } from '../duration.js';
import type { ConfigReader, YamlNode } from '../reader.js';
import { OUTPUT_DEFAULT_INTERVAL_MS, OUTPUT_MIN_INTERVAL_MS, type OutputConfig } from '../types.js';
import { checkLabelSeverity, readLabels } from './streams.js';

const MAX_OUTPUT_INTERVAL_MS = 86_400_000;
/** The output's series carry these themselves (zego_output_info, _diagnosis, _failures_total). */
export const OUTPUT_RESERVED_LABELS = ['output', 'kind', 'mix_task', 'layer'];
const KINDS: readonly OutputKind[] = ['hls', 'flv'];
const ENTRY_KEYS = ['url', 'interval', 'labels', 'stream_id', 'mix_task', 'kind', 'severity'];

/**
 * `outputs:` (optional) — URLs, or `{ url, interval, labels, stream_id, mix_task, kind, severity }`
 * (docs/outputs.md). A URL is never quoted in an error: its query string may hold a token, so
 * messages name the output without it.
 */
export function readOutputs(r: ConfigReader, node: YamlNode | null | undefined): OutputConfig[] | undefined {
  if (node === undefined || node === null) return [];
  if (!isSeq(node)) {
    r.err('outputs', node, 'must be a list');
    return undefined;
  }
  // By name (the URL without its query string): two entries differing only in tokens are one output.
  const seen = new Map<string, { index: number; node: YamlNode | null }>();
  const out: OutputConfig[] = [];
  node.items.forEach((item, i) => {
    const path = `outputs[${i}]`;
    const o = readEntry(r, item as YamlNode | null, path);
    if (!o) return;
    const first = seen.get(o.config.name);
    if (first) {
      r.err(
        o.urlPath,
        o.urlNode,
        `${o.config.name} is already outputs[${first.index}] (line ${r.pos(first.node)?.line ?? '?'}): URLs that differ only in the query string are one output`,
      );
      return;
    }
    seen.set(o.config.name, { index: i, node: o.urlNode });
    out.push(o.config);
  });
  return out;
}

function readEntry(r: ConfigReader, item: YamlNode | null, path: string): { config: OutputConfig; urlNode: YamlNode | null; urlPath: string } | null {
  let f = new Map<string, YamlNode | null>();
  let urlNode: YamlNode | null = item;
  let urlPath = path;
  if (isMap(item)) {
    const fields = r.fields(item, path, ENTRY_KEYS);
    if (!fields) return null;
    if (!fields.has('url')) {
      r.err(`${path}.url`, item, 'required: the URL viewers play (an .m3u8 playlist or an .flv stream)');
      return null;
    }
    f = fields;
    urlNode = fields.get('url') ?? null;
    urlPath = `${path}.url`;
  }
  const text = r.string(urlNode, urlPath);
  if (text === undefined) return null;
  const parsed = parseOutputUrl(text.trim());
  if (!parsed.ok) {
    r.err(urlPath, urlNode, parsed.message);
    return null;
  }
  const name = outputName(parsed.url);
  let ok = true;
  let kind = kindOfPath(parsed.url);
  if (f.has('kind')) {
    const k = r.string(f.get('kind'), `${path}.kind`);
    const given = KINDS.find((x) => x === k);
    if (k !== undefined && given === undefined) {
      r.err(`${path}.kind`, f.get('kind'), `must be hls or flv, got ${r.shown(f.get('kind'), k)}`);
      ok = false;
    } else if (given !== undefined) kind = given;
  } else if (kind === null) {
    r.err(urlPath, urlNode, `${name}: the path ends in neither .m3u8 nor .flv: say which it is with kind: hls or kind: flv`);
    ok = false;
  }
  const intervalMs = f.has('interval') ? readOutputInterval(r, f.get('interval'), `${path}.interval`) : OUTPUT_DEFAULT_INTERVAL_MS;
  const labels = f.has('labels') ? readLabels(r, f.get('labels'), `${path}.labels`, OUTPUT_RESERVED_LABELS) : {};
  if (labels['severity'] !== undefined && !checkLabelSeverity(r, f.get('labels'), `${path}.labels.severity`, `output ${name}`)) ok = false;
  if (f.has('severity')) {
    if (labels['severity'] !== undefined) {
      r.err(`${path}.severity`, f.get('severity'), 'set either severity or labels.severity, not both');
      ok = false;
    } else {
      const sev = readSeverityKey(r, f.get('severity'), `${path}.severity`, name);
      if (sev === undefined) ok = false;
      else labels['severity'] = sev;
    }
  }
  let streamId: string | undefined;
  if (f.has('stream_id')) {
    streamId = r.string(f.get('stream_id'), `${path}.stream_id`);
    if (streamId !== undefined && !isValidStreamId(streamId)) {
      r.err(
        `${path}.stream_id`,
        f.get('stream_id'),
        `invalid stream id ${r.shown(f.get('stream_id'), streamId)}: only letters, digits, "-" and "_" are allowed`,
      );
      ok = false;
    }
  }
  let mixTask: string | undefined;
  if (f.has('mix_task')) {
    mixTask = r.string(f.get('mix_task'), `${path}.mix_task`);
    if (mixTask !== undefined && !isValidMixTaskId(mixTask)) {
      r.err(`${path}.mix_task`, f.get('mix_task'), `invalid mix task id ${r.shown(f.get('mix_task'), mixTask)}`);
      ok = false;
    }
  }
  if (streamId !== undefined && mixTask !== undefined) {
    r.err(`${path}.mix_task`, f.get('mix_task'), "set stream_id or mix_task, not both: a mix task's output is fed by the task");
    ok = false;
  }
  if (!ok || intervalMs === undefined || kind === null) return null;
  return {
    config: {
      url: parsed.url.href,
      name,
      kind,
      intervalMs,
      labels,
      ...(streamId !== undefined ? { streamId } : {}),
      ...(mixTask !== undefined ? { mixTask } : {}),
    },
    urlNode,
    urlPath,
  };
}

/** `severity:` beside labels: the same rule as `labels.severity`. */
function readSeverityKey(r: ConfigReader, node: YamlNode | null | undefined, path: string, name: string): string | undefined {
  const v = r.string(node, path);
  if (v === undefined) return undefined;
  if (v !== v.trim() || v === '') {
    r.err(path, node, 'must be one of critical, warning, none');
    return undefined;
  }
  const meant = ['critical', 'warning', 'none'].find((k) => k === v.toLowerCase());
  if (meant !== undefined && meant !== v) {
    r.err(path, node, `output ${name}: severity ${r.shown(node, v)} must be written "${meant}": the alert rules match it exactly, case included`);
    return undefined;
  }
  return v;
}

export function readOutputInterval(r: ConfigReader, node: YamlNode | null | undefined, path: string): number | undefined {
  const d = r.duration(node, path);
  if (d === undefined) return undefined;
  if (d < OUTPUT_MIN_INTERVAL_MS || d > MAX_OUTPUT_INTERVAL_MS) {
    r.err(path, node, `must be from ${formatDuration(OUTPUT_MIN_INTERVAL_MS)} to 24h`);
    return undefined;
  }
  return d;
}
