import { isMap, isSeq } from 'yaml';
import { formatDuration } from '../duration.js';
import type { ConfigReader, YamlNode } from '../reader.js';
import { ROOM_MIN_INTERVAL_MS, type RoomConfig } from '../types.js';
import { readLabels } from './streams.js';

const DEFAULT_ROOM_INTERVAL_MS = 30_000;
const MAX_ROOM_INTERVAL_MS = 86_400_000;
/** The room's series carry room_id; the streams found in it get its labels next to stream_id. */
const ROOM_RESERVED_LABELS = ['room_id'];

/**
 * ZEGO's RoomID rule: up to 128 bytes of letters, digits and ~!@#$%^&*()_+=-`;',.<>/\ ; null when
 * `id` keeps it, else what is wrong.
 */
export function roomIdProblem(id: string): string | null {
  if (id.length === 0) return 'must not be empty';
  if (Buffer.byteLength(id, 'utf8') > 128) return 'longer than 128 bytes';
  if (!/^[A-Za-z0-9~!@#$%^&*()_+=\-`;',.<>/\\]+$/.test(id)) return "only letters, digits and ~!@#$%^&*()_+=-`;',.<>/\\ are allowed";
  return null;
}

/** `rooms:` (optional) — room ids, or `{ id, interval, labels }`. */
export function readRooms(r: ConfigReader, node: YamlNode | null | undefined, isValidRoomId: (id: string) => string | null): RoomConfig[] | undefined {
  if (node === undefined || node === null) return [];
  if (!isSeq(node)) {
    r.err('rooms', node, 'must be a list');
    return undefined;
  }
  const seen = new Map<string, YamlNode>();
  const out: RoomConfig[] = [];
  node.items.forEach((item, i) => {
    const path = `rooms[${i}]`;
    let idNode: YamlNode | null = item as YamlNode | null;
    let intervalMs = DEFAULT_ROOM_INTERVAL_MS;
    let labels: Record<string, string> = {};
    if (isMap(item)) {
      const f = r.fields(item, path, ['id', 'interval', 'labels']);
      if (!f) return;
      if (!f.has('id')) {
        r.err(`${path}.id`, item, 'required');
        return;
      }
      idNode = f.get('id') ?? null;
      if (f.has('interval')) {
        const d = readRoomInterval(r, f.get('interval'), `${path}.interval`);
        if (d === undefined) return;
        intervalMs = d;
      }
      if (f.has('labels')) labels = readLabels(r, f.get('labels'), `${path}.labels`, ROOM_RESERVED_LABELS);
    }
    const idPath = isMap(item) ? `${path}.id` : path;
    const id = r.string(idNode, idPath);
    if (id === undefined) return;
    const problem = isValidRoomId(id);
    if (problem !== null) {
      r.err(idPath, idNode, `invalid room id "${id}": ${problem}`);
      return;
    }
    const first = seen.get(id);
    if (first) {
      r.err(idPath, idNode, `duplicate room id "${id}" (first listed at line ${r.pos(first)?.line ?? '?'})`);
      return;
    }
    if (idNode) seen.set(id, idNode);
    out.push({ id, intervalMs, labels });
  });
  return out;
}

/** ZEGO answers one DescribeSimpleStreamList per room per 10 s: a shorter interval could never be kept. */
function readRoomInterval(r: ConfigReader, node: YamlNode | null | undefined, path: string): number | undefined {
  const d = r.duration(node, path);
  if (d === undefined) return undefined;
  if (d < ROOM_MIN_INTERVAL_MS || d > MAX_ROOM_INTERVAL_MS) {
    r.err(path, node, `must be from ${formatDuration(ROOM_MIN_INTERVAL_MS)} to 24h (ZEGO answers one stream-list call per room per 10 s)`);
    return undefined;
  }
  return d;
}
