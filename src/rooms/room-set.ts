import type { RoomConfig } from '../config/types.js';
import { LANDING_ROWS, labelText, type LandingTable } from '../http/landing.js';
import { roomProbeSuccess, type RoomView } from './metrics.js';

/** What is known of one watched room: its config, and what its two APIs last said. */
export interface Room extends RoomView {
  id: string;
  labels: Readonly<Record<string, string>>;
  /** The labels of the streams found in it: the room's, with `severity` set to its streams_severity. */
  streamLabels: Readonly<Record<string, string>>;
  intervalMs: number;
  /** The last successful list: stream id → CreateTime (s). */
  streams: Map<string, number> | null;
  streamCount: number | null;
  users: number | null;
  adminUsers: number | null;
  listOk: boolean | null;
  countOk: boolean | null;
  lastSuccessMs: number | null;
  /** A bad answer is logged once per room and API; later ones only count. */
  badListLogged: boolean;
  badCountLogged: boolean;
}

/** The watched rooms, in config order, kept in place across reloads (what their APIs said stays). */
export class RoomSet {
  readonly #rooms = new Map<string, Room>();

  /** The config's rooms: new ones start unknown, kept ones take the new labels and interval, the rest go. */
  configure(rooms: readonly RoomConfig[]): void {
    const wanted = new Map(rooms.map((r) => [r.id, r]));
    for (const id of this.#rooms.keys()) if (!wanted.has(id)) this.#rooms.delete(id);
    for (const rc of rooms) {
      const room = this.#rooms.get(rc.id);
      if (room) {
        room.labels = rc.labels;
        room.streamLabels = streamLabels(rc);
        room.intervalMs = rc.intervalMs;
      } else this.#rooms.set(rc.id, newRoom(rc));
    }
  }

  get(id: string): Room | undefined {
    return this.#rooms.get(id);
  }

  values(): IterableIterator<Room> {
    return this.#rooms.values();
  }

  get size(): number {
    return this.#rooms.size;
  }

  /** The rooms as /metrics shows them, the first LANDING_ROWS of them; null without rooms. */
  landingTable(nowMs: number): LandingTable | null {
    if (this.#rooms.size === 0) return null;
    const rows: string[][] = [];
    for (const r of this.#rooms.values()) {
      if (rows.length >= LANDING_ROWS) break;
      const probe = roomProbeSuccess(r);
      rows.push([
        r.id,
        labelText(r.labels),
        r.streamCount === null ? '' : String(r.streamCount),
        r.users === null ? '' : String(r.users),
        r.adminUsers === null ? '' : String(r.adminUsers),
        r.lastSuccessMs === null ? 'never' : `${Math.max(0, Math.round((nowMs - r.lastSuccessMs) / 1000))}s ago`,
        probe === undefined ? 'pending' : probe === 1 ? 'ok' : 'failing',
      ]);
    }
    return { title: 'Rooms', columns: ['Room', 'Labels', 'Streams', 'Users', 'Admins', 'Last success', 'Probe'], rows, total: this.#rooms.size };
  }
}

/**
 * A stream found in a room is not the room: it takes the room's labels but never its `severity`
 * (a room's `critical` is about the room being empty, ZegoKeyRoomEmpty); it gets streams_severity,
 * `none` unless the operator opts in, so a guest who stops publishing raises no stream alert.
 */
function streamLabels(rc: RoomConfig): Readonly<Record<string, string>> {
  return Object.freeze({ ...rc.labels, severity: rc.streamsSeverity });
}

function newRoom(rc: RoomConfig): Room {
  return {
    id: rc.id,
    labels: rc.labels,
    streamLabels: streamLabels(rc),
    intervalMs: rc.intervalMs,
    streams: null,
    streamCount: null,
    users: null,
    adminUsers: null,
    listOk: null,
    countOk: null,
    lastSuccessMs: null,
    badListLogged: false,
    badCountLogged: false,
  };
}
