import { isMap, isScalar, isSeq } from 'yaml';
import { hasAnyTestPrefix, hasStreamIdChars, MAX_STREAM_ID_BYTES, testPrefix } from '../../zego/protocol.js';
import type { ConfigReader, YamlNode } from '../reader.js';
import type { StreamConfig, ZegoConfig } from '../types.js';
import { readInterval } from './probe.js';

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
/**
 * The values of the stream label `severity` that the shipped alert rules (alerts/zego-alerts.yaml)
 * select on: `critical` pages (ZegoKeyStreamDown), `none` never alerts, `warning` is what every
 * other stream gets (ZegoStreamDown). test/unit/severity.test.ts reads the rules file and fails
 * when this list and the rules drift apart.
 */
export const KNOWN_SEVERITIES = ['critical', 'warning', 'none'] as const;

/**
 * Labels the shipped alert rules and dashboard treat as naming a replica and aggregate away
 * (`max without (instance, pod, node, container, endpoint, service)`): a stream label of that name
 * is silently missing from every stream alert and row. test/unit/replica-labels.test.ts reads the
 * rules file and fails when this list and the rules drift apart.
 */
export const REPLICA_LABELS = ['instance', 'pod', 'node', 'container', 'endpoint', 'service'] as const;

/** Labels the exporter or Prometheus already use on the same series. */
const RESERVED_LABELS = new Set(['stream_id', 'job', 'instance', 'code', 'outcome', 'reason', 'source', 'le', 'quantile']);

/** `streams:` (required) — bare ids, or `{ id, interval, labels }`. */
export function readStreams(
  r: ConfigReader,
  node: YamlNode | null | undefined,
  defaultIntervalMs: number,
  zego: ZegoConfig | undefined,
  haveRooms = false,
  listed?: ListItems,
): StreamConfig[] | undefined {
  // Watching rooms alone is enough: their streams are found in the rooms' lists.
  if ((node === undefined || node === null) && haveRooms) return [];
  if (node === undefined || node === null) {
    r.missing('streams', 'required: the list of stream ids to watch');
    return undefined;
  }
  if (!isSeq(node)) {
    r.err('streams', node, 'must be a list');
    return undefined;
  }
  const list = listed ?? { count: node.items.length, items: node.items as Iterable<YamlNode | null> };
  if (list.count === 0 && !haveRooms) {
    r.err('streams', node, 'must list at least one stream');
    return undefined;
  }
  const prefixBytes = zego?.isTest ? Buffer.byteLength(testPrefix(zego.appId)) : 0;
  // Each id's line, not its node: the nodes of a list read a slice at a time must not outlive their slice.
  const seen = new Map<string, number | undefined>();
  const out: StreamConfig[] = [];
  let i = 0;
  for (const item of list.items) readItem(item, i++);
  return out;

  function readItem(item: YamlNode | null, i: number): void {
    const path = `streams[${i}]`;
    const e = readIdEntry(r, item, path);
    if (!e) return;
    const { idNode, idPath } = e;
    const intervalMs = e.interval === undefined ? defaultIntervalMs : (readInterval(r, e.interval, `${path}.interval`, defaultIntervalMs) ?? defaultIntervalMs);
    const labels = e.labels === undefined ? {} : readLabels(r, e.labels, `${path}.labels`);
    const severityNode = labelNode(e.labels ?? undefined, 'severity');
    const id = r.string(idNode, idPath);
    if (id === undefined) return;
    if (!hasStreamIdChars(id)) {
      r.err(idPath, idNode, `invalid stream id ${r.shown(idNode, id)}: only letters, digits, "-" and "_" are allowed`);
      return;
    }
    if (zego?.isTest && hasAnyTestPrefix(id)) {
      r.err(idPath, idNode, `list the bare id: the exporter adds the "${testPrefix(zego.appId)}" prefix itself in the test environment`);
      return;
    }
    if (Buffer.byteLength(id) + prefixBytes > MAX_STREAM_ID_BYTES) {
      r.err(idPath, idNode, `stream id is longer than ${MAX_STREAM_ID_BYTES} bytes${prefixBytes > 0 ? ' with the test-environment prefix' : ''}`);
      return;
    }
    if (seen.has(id)) {
      r.err(idPath, idNode, `duplicate stream id ${r.shown(idNode, id)} (first listed at line ${seen.get(id) ?? '?'})`);
      return;
    }
    seen.set(id, r.pos(idNode)?.line);
    if (labels['severity'] !== undefined) checkSeverity(r, severityNode, `${path}.labels.severity`, `stream ${r.shown(idNode, id)}`, labels['severity']);
    out.push({ id, intervalMs, labels });
  }
}

/** A list's items handed over one at a time (the loader parses a long `streams:` list a slice at a time), and how many there are. */
export interface ListItems {
  count: number;
  items: Iterable<YamlNode | null>;
}

/** One entry of `streams:` or `rooms:` once read: its id node, and the optional interval and labels nodes (undefined: not given). */
export interface IdEntry {
  idNode: YamlNode | null;
  idPath: string;
  interval?: YamlNode | null;
  labels?: YamlNode | null;
  /** The nodes of the `extra` keys the caller allowed, by key (absent: not given). */
  extra: ReadonlyMap<string, YamlNode | null>;
}

/** A plain id, or `{ id, interval, labels, …extra }`; null (the error recorded) when the mapping cannot be read. */
export function readIdEntry(r: ConfigReader, item: YamlNode | null, path: string, extra: readonly string[] = []): IdEntry | null {
  if (!isMap(item)) return { idNode: item, idPath: path, extra: new Map() };
  const f = r.fields(item, path, ['id', 'interval', 'labels', ...extra]);
  if (!f) return null;
  if (!f.has('id')) {
    r.err(`${path}.id`, item, 'required');
    return null;
  }
  return {
    idNode: f.get('id') ?? null,
    idPath: `${path}.id`,
    ...(f.has('interval') ? { interval: f.get('interval') ?? null } : {}),
    ...(f.has('labels') ? { labels: f.get('labels') ?? null } : {}),
    extra: new Map(extra.filter((k) => f.has(k)).map((k) => [k, f.get(k) ?? null])),
  };
}

/**
 * `streams_severity` (rooms and callback discovery): the `severity` label a discovered stream gets.
 * `none` unless set: a stream nobody listed is one that may end, and an ended guest is not a
 * stream that is down. Checked like a stream's own severity label.
 */
export function readStreamsSeverity(r: ConfigReader, node: YamlNode | null | undefined, path: string, subject: string): string | undefined {
  const value = r.string(node, path);
  if (value === undefined) return undefined;
  if (value === '') {
    r.err(path, node, `must be one of ${KNOWN_SEVERITIES.join(', ')}`);
    return undefined;
  }
  return checkSeverity(r, node ?? undefined, path, subject, value, 'those streams alert') ? value : undefined;
}

/** What a discovered stream's severity is when streams_severity is not set. */
export const DEFAULT_STREAMS_SEVERITY = 'none';

/** A mapping of label names to values; `reserved` adds names the caller's own series already carry. */
export function readLabels(r: ConfigReader, node: YamlNode | null | undefined, path: string, reserved: readonly string[] = []): Record<string, string> {
  const labels: Record<string, string> = {};
  if (!isMap(node)) {
    r.err(path, node, 'must be a mapping of label name to value');
    return labels;
  }
  for (const pair of node.items) {
    const keyNode = pair.key as YamlNode;
    const name = isScalar(keyNode) ? String(keyNode.value) : '';
    const p = `${path}.${name}`;
    if (!LABEL_NAME.test(name) || name.startsWith('__')) {
      r.err(p, keyNode, `invalid label name "${name}" (letters, digits and _, not starting with a digit or __)`);
      continue;
    }
    if (RESERVED_LABELS.has(name) || reserved.includes(name)) {
      r.err(p, keyNode, `label "${name}" clashes with a label the exporter or Prometheus sets`);
      continue;
    }
    if ((REPLICA_LABELS as readonly string[]).includes(name)) {
      r.warn(
        p,
        keyNode,
        `label "${name}" is one the shipped alert rules and dashboard aggregate away as naming a replica: stream alerts and rows will not carry it (rename it, e.g. "app_${name}")`,
      );
    }
    const value = r.string(pair.value as YamlNode | null, p);
    if (value !== undefined) labels[name] = value;
  }
  return labels;
}

/** A `labels.severity` checked as a stream's is (for other lists with labels: mix tasks); false when it is an error. */
export function checkLabelSeverity(r: ConfigReader, labels: YamlNode | null | undefined, path: string, subject: string): boolean {
  const node = labelNode(labels ?? undefined, 'severity');
  const value = r.string(node, path);
  return value !== undefined && checkSeverity(r, node, path, subject, value, 'this task alerts');
}

function labelNode(labels: YamlNode | null | undefined, name: string): YamlNode | undefined {
  if (!isMap(labels)) return undefined;
  const pair = labels.items.find((p) => isScalar(p.key) && String(p.key.value) === name);
  return (pair?.value as YamlNode | null | undefined) ?? undefined;
}

/**
 * The rules match `severity` exactly: `Critical` would never page, so another spelling of a known
 * value is an error (false). A value the rules do not know is allowed (the stream alerts like `warning`)
 * but probably a typo or a scheme of one's own, so it is a warning naming the stream.
 */
function checkSeverity(r: ConfigReader, node: YamlNode | undefined, path: string, subject: string, value: string, who = 'this stream alerts'): boolean {
  const known: readonly string[] = KNOWN_SEVERITIES;
  if (known.includes(value)) return true;
  const meant = known.find((k) => k === value.toLowerCase());
  if (meant) {
    r.err(path, node, `${subject}: severity ${r.shown(node, value)} must be written "${meant}": the alert rules match it exactly, case included`);
    return false;
  }
  r.warn(
    path,
    node,
    `${subject}: severity ${r.shown(node, value)} is not one the shipped alert rules know (${known.join(', ')}); ${who} like "warning" (docs/configuration.md#streams)`,
  );
  return true;
}
