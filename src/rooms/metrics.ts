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
  /** The last list call and the last user-count call each succeeded (or has not been made yet). */
  readonly success: boolean;
  /** Unix ms of the last successful list call's answer; null = never. */
  readonly lastSuccessMs: number | null;
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
    value: (r) => r.users ?? undefined,
  },
  {
    name: 'zego_room_admin_users',
    help: `Admin users in the room, e.g. recording or moderation bots (DescribeUserNum AdminUserCount); absent until first read. ${FROM_ROOMS}`,
    value: (r) => r.adminUsers ?? undefined,
  },
  {
    name: 'zego_room_probe_success',
    help: "Whether the room's last stream-list call and last user-count call succeeded (1) or one failed (0); a failed call keeps the last known values.",
    value: (r) => (r.success ? 1 : 0),
  },
  {
    name: 'zego_room_last_success_timestamp_seconds',
    help: 'Unix time of the last successful stream-list call of the room (0 = never).',
    value: (r) => (r.lastSuccessMs === null ? 0 : r.lastSuccessMs / 1000),
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
