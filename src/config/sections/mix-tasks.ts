import { isScalar, isSeq } from 'yaml';
import { isValidMixTaskId, MAX_MIX_TASK_ID_BYTES } from '../../zego/mix.js';
import { formatDuration } from '../duration.js';
import type { ConfigReader, YamlNode } from '../reader.js';
import { MIX_TASK_DEFAULT_INTERVAL_MS, MIX_TASK_MIN_INTERVAL_MS, type MixTaskConfig } from '../types.js';
import { checkLabelSeverity, readIdEntry, readLabels } from './streams.js';

const MAX_MIX_TASK_INTERVAL_MS = 86_400_000;
/** The task's series carry these itself (zego_mix_task_info, zego_mix_task_stops_total). */
const MIX_TASK_RESERVED_LABELS = ['task_id', 'room_id', 'output_stream_id'];

/** `mix_tasks:` (optional) — task ids, or `{ id, interval, labels }` (docs/mix-tasks.md). */
export function readMixTasks(r: ConfigReader, node: YamlNode | null | undefined): MixTaskConfig[] | undefined {
  if (node === undefined || node === null) return [];
  if (!isSeq(node)) {
    r.err('mix_tasks', node, 'must be a list');
    return undefined;
  }
  const seen = new Map<string, YamlNode>();
  const out: MixTaskConfig[] = [];
  node.items.forEach((item, i) => {
    const path = `mix_tasks[${i}]`;
    const e = readIdEntry(r, item as YamlNode | null, path);
    if (!e) return;
    const { idNode, idPath } = e;
    const intervalMs = e.interval === undefined ? MIX_TASK_DEFAULT_INTERVAL_MS : readMixInterval(r, e.interval, `${path}.interval`);
    const labels = e.labels === undefined ? {} : readLabels(r, e.labels, `${path}.labels`, MIX_TASK_RESERVED_LABELS);
    // A YAML number (a numeric task id such as the docs' 2213699902971205739) is read as written.
    const id = readIdText(r, idNode, idPath);
    if (intervalMs === undefined || id === undefined) return;
    if (!isValidMixTaskId(id)) {
      r.err(idPath, idNode, `invalid mix task id ${r.shown(idNode, id)}: 1 to ${MAX_MIX_TASK_ID_BYTES} printable ASCII characters without spaces`);
      return;
    }
    const first = seen.get(id);
    if (first) {
      r.err(idPath, idNode, `duplicate mix task id ${r.shown(idNode, id)} (first listed at line ${r.pos(first)?.line ?? '?'})`);
      return;
    }
    if (idNode) seen.set(id, idNode);
    if (labels['severity'] !== undefined && !checkLabelSeverity(r, e.labels ?? undefined, `${path}.labels.severity`, `mix task ${r.shown(idNode, id)}`)) return;
    out.push({ id, intervalMs, labels });
  });
  return out;
}

/** A task id is text; a plain number in YAML is taken by its source text so no digit is lost. */
function readIdText(r: ConfigReader, node: YamlNode | null, path: string): string | undefined {
  if (isScalar(node) && typeof node.value === 'number' && typeof node.source === 'string' && /^\d+$/.test(node.source)) return node.source;
  return r.string(node, path);
}

function readMixInterval(r: ConfigReader, node: YamlNode | null | undefined, path: string): number | undefined {
  const d = r.duration(node, path);
  if (d === undefined) return undefined;
  if (d < MIX_TASK_MIN_INTERVAL_MS || d > MAX_MIX_TASK_INTERVAL_MS) {
    r.err(path, node, `must be from ${formatDuration(MIX_TASK_MIN_INTERVAL_MS)} to 24h`);
    return undefined;
  }
  return d;
}
