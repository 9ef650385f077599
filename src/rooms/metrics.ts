import { familyHeader, formatLabels, formatValue, type Format } from '../metrics/exposition.js';
import type { StreamRecord } from '../state/store.js';

/** What is known of one watched room, read by the renderer. */
export interface RoomView {
  readonly id: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Streams in the last successful list; null until one succeeded. */
  readonly streamCount: number | null;
  readonly users: number | null;
  readonly adminUsers: number | null;
  /** Whether the last list call succeeded; null until one answered. */
  readonly listOk: boolean | null;
  /** Whether the last user-count call succeeded; null until one answered. */
  readonly countOk: boolean | null;
  /** Unix ms of the last successful list call's answer; null = never. */
  readonly lastSuccessMs: number | null;
}

/**
 * zego_room_probe_success: absent until the room's first list call answered, then 1 while its last
 * list call succeeded and its last user-count call did not fail. A count that answers first says
 * nothing about the list: in fleet mode another replica may hold the room for a whole interval,
 * and a 1 then sat next to last_success 0 and no zego_room_streams.
 */
export function roomProbeSuccess(r: RoomView): 0 | 1 | undefined {
  if (r.listOk === null) return undefined;
  return r.listOk && r.countOk !== false ? 1 : 0;
}

/** Every series of a room waits for its first list answer, so the first scrape that shows the room shows it whole. */
function listed(r: RoomView): boolean {
  return r.listOk !== null;
}

const FROM_ROOMS = 'From background calls of ZEGOCLOUD room APIs; scrapes never call the API.';

interface RoomFamily {
  name: string;
  help: string;
  value: (r: RoomView) => number | undefined;
}

/** The per-room families, in exposition order (rooms are few: rendered on every scrape, no cache). */
export const ROOM_FAMILIES: readonly RoomFamily[] = [
  {
    name: 'zego_room_streams',
    help: `Streams published in the room (DescribeSimpleStreamList); absent until its list was first read. ${FROM_ROOMS}`,
    value: (r) => r.streamCount ?? undefined,
  },
  {
    name: 'zego_room_users',
    help: `Users in the room, admins included (DescribeUserNum UserCount); absent until first read. ${FROM_ROOMS}`,
    value: (r) => (listed(r) ? (r.users ?? undefined) : undefined),
  },
  {
    name: 'zego_room_admin_users',
    help: `Admin users in the room, e.g. recording or moderation bots (DescribeUserNum AdminUserCount); absent until first read. ${FROM_ROOMS}`,
    value: (r) => (listed(r) ? (r.adminUsers ?? undefined) : undefined),
  },
  {
    name: 'zego_room_probe_success',
    help: "Whether the room's last stream-list call and last user-count call succeeded (1) or one failed (0); absent until its first list call answered; a failed call keeps the last known values.",
    value: roomProbeSuccess,
  },
  {
    name: 'zego_room_last_success_timestamp_seconds',
    help: 'Unix time of the last successful stream-list call of the room (0 = never); absent until its first list call answered.',
    value: (r) => (listed(r) ? (r.lastSuccessMs === null ? 0 : r.lastSuccessMs / 1000) : undefined),
  },
];

export function renderRooms(rooms: Iterable<RoomView>, format: Format): string {
  const list = [...rooms];
  if (list.length === 0) return '';
  let out = '';
  const labels = list.map((r) => formatLabels({ room_id: r.id, ...withoutRoomId(r.labels) }));
  for (const f of ROOM_FAMILIES) {
    out += familyHeader(f.name, f.help, 'gauge', format);
    list.forEach((r, i) => {
      const v = f.value(r);
      if (v !== undefined) out += `${f.name}${labels[i]!} ${formatValue(v)}\n`;
    });
  }
  return out;
}

const ROOM_INFO = 'zego_stream_room_info';
const ROOM_INFO_HELP = "The room a stream was last seen in, from a watched room's stream list or a callback's room_id; always 1, absent while unknown.";

/**
 * zego_stream_room_info for every stream whose room is known, kept encoded until the watched set
 * or a stream's room changes (the store's roomsVersion): a scrape of 10k streams costs a lookup.
 */
export class RoomInfoFamily {
  #key: { list: readonly Readonly<StreamRecord>[]; version: number } | null = null;
  #body = '';

  render(list: readonly Readonly<StreamRecord>[], roomsVersion: number, format: Format): string {
    if (this.#key?.list !== list || this.#key.version !== roomsVersion) {
      let body = '';
      for (const s of list) if (s.roomId !== null) body += `${ROOM_INFO}${formatLabels({ stream_id: s.id, room_id: s.roomId })} 1\n`;
      this.#body = body;
      this.#key = { list, version: roomsVersion };
    }
    return this.#body === '' ? '' : familyHeader(ROOM_INFO, ROOM_INFO_HELP, 'gauge', format) + this.#body;
  }
}

/** Config validation refuses a room label named room_id; this keeps the series well-formed regardless. */
function withoutRoomId(labels: Readonly<Record<string, string>>): Record<string, string> {
  const { room_id: _ignored, ...rest } = labels;
  return rest;
}
