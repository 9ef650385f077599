import { isSeq } from 'yaml';
import { isValidRoomId, MAX_ROOM_ID_BYTES } from '../../zego/protocol.js';
import { formatDuration } from '../duration.js';
import type { ConfigReader, YamlNode } from '../reader.js';
import { ROOM_LIST_HOLD_MS } from '../../api/actions.js';
import type { RoomConfig } from '../types.js';
import { DEFAULT_STREAMS_SEVERITY, readIdEntry, readLabels, readStreamsSeverity } from './streams.js';

const DEFAULT_ROOM_INTERVAL_MS = 30_000;
const MAX_ROOM_INTERVAL_MS = 86_400_000;
/** The room's series carry room_id; the streams found in it get its labels next to stream_id. */
const ROOM_RESERVED_LABELS = ['room_id'];

/** `rooms:` (optional) — room ids, or `{ id, interval, labels, streams_severity }`. */
export function readRooms(r: ConfigReader, node: YamlNode | null | undefined): RoomConfig[] | undefined {
  if (node === undefined || node === null) return [];
  if (!isSeq(node)) {
    r.err('rooms', node, 'must be a list');
    return undefined;
  }
  const seen = new Map<string, YamlNode>();
  const out: RoomConfig[] = [];
  node.items.forEach((item, i) => {
    const path = `rooms[${i}]`;
    const e = readIdEntry(r, item as YamlNode | null, path, ['streams_severity']);
    if (!e) return;
    const { idNode, idPath } = e;
    const intervalMs = e.interval === undefined ? DEFAULT_ROOM_INTERVAL_MS : readRoomInterval(r, e.interval, `${path}.interval`);
    if (intervalMs === undefined) return;
    const labels = e.labels === undefined ? {} : readLabels(r, e.labels, `${path}.labels`, ROOM_RESERVED_LABELS);
    const id = r.string(idNode, idPath);
    if (id === undefined) return;
    const sevNode = e.extra.get('streams_severity');
    const streamsSeverity =
      sevNode === undefined
        ? DEFAULT_STREAMS_SEVERITY
        : readStreamsSeverity(r, sevNode, `${path}.streams_severity`, `streams found in room ${r.shown(idNode, id)}`);
    if (streamsSeverity === undefined) return;
    if (!isValidRoomId(id)) {
      r.err(idPath, idNode, `invalid room id "${id}": 1 to ${MAX_ROOM_ID_BYTES} bytes of letters, digits and ~!@#$%^&*()_+=-\`;',.<>\\ (no / or space)`);
      return;
    }
    const first = seen.get(id);
    if (first) {
      r.err(idPath, idNode, `duplicate room id "${id}" (first listed at line ${r.pos(first)?.line ?? '?'})`);
      return;
    }
    if (idNode) seen.set(id, idNode);
    out.push({ id, intervalMs, labels, streamsSeverity });
  });
  return out;
}

/** ZEGO answers one DescribeSimpleStreamList per room per 10 s: a shorter interval could never be kept. */
function readRoomInterval(r: ConfigReader, node: YamlNode | null | undefined, path: string): number | undefined {
  const d = r.duration(node, path);
  if (d === undefined) return undefined;
  if (d < ROOM_LIST_HOLD_MS || d > MAX_ROOM_INTERVAL_MS) {
    r.err(path, node, `must be from ${formatDuration(ROOM_LIST_HOLD_MS)} to 24h (ZEGO answers one stream-list call per room per 10 s)`);
    return undefined;
  }
  return d;
}
