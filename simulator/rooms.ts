import { isValidRoomId, isValidStreamId } from '../src/zego/protocol.js';
import type { StreamTable } from './streams.js';

/** A room as the control API sets it: who publishes in it and how many are in it. */
export interface RoomState {
  /** Stream ids exactly as the API knows them (test-environment ids carry their prefix). */
  streams: string[];
  userCount: number;
  /** Included in userCount, as the API counts. */
  adminUserCount: number;
}

/** One entry of a DescribeSimpleStreamList answer, as the API sends it. */
export interface ListedStreamEntry {
  StreamId: string;
  UserId: string;
  UserName: string;
  /** Unix milliseconds, as the docs' example has it. */
  CreateTime: number;
  StreamNumberId: number;
}

export class RoomStateError extends Error {
  override name = 'RoomStateError';
}

interface Room {
  /** Stream id → its StreamNumberId (unique in the room, never reused while the room lives). */
  members: Map<string, number>;
  nextNumber: number;
  userCount: number;
  adminUserCount: number;
}

function isCount(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * Rooms over the one stream model: a room only names its members; whether a member is published
 * is the stream table's state, so a stream published in a room is also active for
 * DescribeRTCStreamState, and a stream closed there drops out of the room's list.
 */
export class RoomTable {
  readonly #rooms = new Map<string, Room>();
  /** Stream id → the room it is a member of (a stream is in one room at a time). */
  readonly #memberOf = new Map<string, string>();
  readonly #streams: StreamTable;

  constructor(streams: StreamTable) {
    this.#streams = streams;
  }

  has(roomId: string): boolean {
    return this.#rooms.has(roomId);
  }

  /** Creates the room if needed; counts not given keep their value (0 for a new room). */
  setCounts(roomId: string, counts: { userCount?: number; adminUserCount?: number }): RoomState {
    if (!isValidRoomId(roomId)) throw new RoomStateError(`invalid room id: ${JSON.stringify(roomId)}`);
    // Checked before the room exists: a refused change must not leave an empty room behind.
    const existing = this.#rooms.get(roomId);
    const userCount = counts.userCount ?? existing?.userCount ?? 0;
    const adminUserCount = counts.adminUserCount ?? existing?.adminUserCount ?? 0;
    if (!isCount(userCount) || !isCount(adminUserCount)) throw new RoomStateError('userCount and adminUserCount must be non-negative integers');
    if (adminUserCount > userCount) throw new RoomStateError('adminUserCount is included in userCount, so it cannot exceed it');
    const room = this.#room(roomId);
    room.userCount = userCount;
    room.adminUserCount = adminUserCount;
    return this.#snapshotOf(room);
  }

  /**
   * The stream starts publishing in the room (created if needed): active in the stream table
   * since `nowSec` unless it already is. A stream is in one room at a time: it leaves any other.
   */
  publish(roomId: string, streamId: string, nowSec: number): RoomState {
    if (!isValidStreamId(streamId)) throw new RoomStateError(`invalid stream id: ${JSON.stringify(streamId)}`);
    const room = this.#room(roomId);
    const before = this.#memberOf.get(streamId);
    if (before !== undefined && before !== roomId) this.#rooms.get(before)?.members.delete(streamId);
    this.#memberOf.set(streamId, roomId);
    if (!room.members.has(streamId)) room.members.set(streamId, room.nextNumber++);
    this.#streams.transition(streamId, 'active', nowSec);
    return this.#snapshotOf(room);
  }

  /** The stream stops publishing: it leaves the room's list and reads closed for the stream API. */
  unpublish(roomId: string, streamId: string, nowSec: number): boolean {
    const room = this.#rooms.get(roomId);
    if (room === undefined || !room.members.has(streamId)) return false;
    // Closed while still a member, so whoever follows the stream table sees it close in this room.
    if (this.#streams.get(streamId) !== undefined) this.#streams.transition(streamId, 'closed', nowSec);
    room.members.delete(streamId);
    this.#memberOf.delete(streamId);
    return true;
  }

  /** The room closes: its streams stop, its audience is gone. */
  remove(roomId: string, nowSec: number): boolean {
    const room = this.#rooms.get(roomId);
    if (room === undefined) return false;
    for (const id of room.members.keys()) if (this.#streams.get(id) !== undefined) this.#streams.transition(id, 'closed', nowSec);
    for (const id of room.members.keys()) this.#memberOf.delete(id);
    this.#rooms.delete(roomId);
    return true;
  }

  /** What DescribeSimpleStreamList lists: the members active in the stream table (none for an unknown room). */
  list(roomId: string): ListedStreamEntry[] {
    const room = this.#rooms.get(roomId);
    if (room === undefined) return [];
    const out: ListedStreamEntry[] = [];
    for (const [id, number] of room.members) {
      const s = this.#streams.get(id);
      if (s?.state !== 'active') continue;
      out.push({ StreamId: id, UserId: `user-${number}`, UserName: `user ${number}`, CreateTime: s.createTime * 1000, StreamNumberId: number });
    }
    return out;
  }

  /** Users in the room (ZEGO keeps a room alive while anyone is in it). */
  hasUsers(roomId: string): boolean {
    return (this.#rooms.get(roomId)?.userCount ?? 0) > 0;
  }

  /** The room a stream is a member of, and its publisher's user id (as the list shows it). */
  roomOf(streamId: string): { roomId: string; userId: string } | undefined {
    const roomId = this.#memberOf.get(streamId);
    const number = roomId === undefined ? undefined : this.#rooms.get(roomId)?.members.get(streamId);
    return roomId === undefined || number === undefined ? undefined : { roomId, userId: `user-${number}` };
  }

  /** What DescribeUserNum says of one room: 0 and 0 for a room that does not exist. */
  counts(roomId: string): { userCount: number; adminUserCount: number } {
    const room = this.#rooms.get(roomId);
    return { userCount: room?.userCount ?? 0, adminUserCount: room?.adminUserCount ?? 0 };
  }

  snapshot(): Record<string, RoomState> {
    const out: Record<string, RoomState> = {};
    for (const [id, room] of this.#rooms) out[id] = this.#snapshotOf(room);
    return out;
  }

  #room(roomId: string): Room {
    if (!isValidRoomId(roomId)) throw new RoomStateError(`invalid room id: ${JSON.stringify(roomId)}`);
    let room = this.#rooms.get(roomId);
    if (room === undefined) {
      room = { members: new Map(), nextNumber: 1, userCount: 0, adminUserCount: 0 };
      this.#rooms.set(roomId, room);
    }
    return room;
  }

  #snapshotOf(room: Room): RoomState {
    return { streams: [...room.members.keys()], userCount: room.userCount, adminUserCount: room.adminUserCount };
  }
}

// ---- scripted demo room --------------------------------------------------------------------

/** The demo's room: the demo's exporter config names it under `rooms:`. */
export const DEMO_ROOM_ID = 'demo-room';

/** The demo room's streams: the host is always on, guests come and go. */
export const DEMO_ROOM_STREAMS = ['room-host', 'room-guest-1', 'room-guest-2', 'room-guest-3'] as const;

/**
 * The demo room `elapsedSec` seconds in, a pure function of time so two runs look the same:
 * guests join and leave on periods of 30..70 s, the audience swings between about 40 and 240
 * with two moderation bots among it.
 */
export function demoRoomAt(elapsedSec: number): { streams: string[]; userCount: number; adminUserCount: number } {
  const streams = DEMO_ROOM_STREAMS.filter((_, i) => i === 0 || Math.floor((elapsedSec + i * 17) / (30 + i * 10 + 10)) % 2 === 0);
  const userCount = Math.round(140 + 100 * Math.sin((2 * Math.PI * elapsedSec) / 120) + 20 * Math.sin((2 * Math.PI * elapsedSec) / 17));
  return { streams, userCount: Math.max(2, userCount), adminUserCount: 2 };
}

export interface RoomDemoTarget {
  setRoomCounts(roomId: string, counts: { userCount?: number; adminUserCount?: number }): unknown;
  publishInRoom(roomId: string, streamId: string): unknown;
  unpublishFromRoom(roomId: string, streamId: string): unknown;
}

export interface RoomDemoOptions {
  /** Maps a demo stream name to the id the API knows (adds the test prefix in the test env). */
  idFor?: (name: string) => string;
  tickMs?: number;
  timers?: { setInterval(fn: () => void, ms: number): unknown; clearInterval(handle: unknown): void };
}

/** Plays demoRoomAt on a simulator; stop() leaves the room as it is. */
export function startRoomDemoScript(sim: RoomDemoTarget, opts: RoomDemoOptions = {}): { stop(): void } {
  const idFor = opts.idFor ?? ((name: string) => name);
  const tickMs = opts.tickMs ?? 1000;
  const timers = opts.timers ?? {
    setInterval: (fn: () => void, ms: number) => setInterval(fn, ms),
    clearInterval: (h: unknown) => clearInterval(h as NodeJS.Timeout),
  };
  const up = new Set<string>();
  let ticks = 0;
  const apply = (): void => {
    const want = demoRoomAt(Math.floor((ticks * tickMs) / 1000));
    for (const name of DEMO_ROOM_STREAMS) {
      const on = want.streams.includes(name);
      if (on === up.has(name)) continue;
      if (on) {
        up.add(name);
        sim.publishInRoom(DEMO_ROOM_ID, idFor(name));
      } else {
        up.delete(name);
        sim.unpublishFromRoom(DEMO_ROOM_ID, idFor(name));
      }
    }
    sim.setRoomCounts(DEMO_ROOM_ID, { userCount: want.userCount, adminUserCount: want.adminUserCount });
  };
  apply();
  const handle = timers.setInterval(() => {
    ticks++;
    apply();
  }, tickMs);
  return { stop: () => timers.clearInterval(handle) };
}
