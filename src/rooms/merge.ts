import type { Logger } from 'pino';
import type { PartContext } from '../parts/part.js';
import type { RoomStreamsResult, UserCountResult } from '../zego/outcome.js';
import type { RoomSet } from './room-set.js';

/** What merging a room API's answer touches: the state, discovery, the log. */
export type MergeContext = Pick<PartContext, 'store' | 'discover' | 'logger'>;

/**
 * One DescribeSimpleStreamList answer into the room and the state: each stream it lists is
 * discovered (source `room`, the room's stream labels) and observed active since its CreateTime;
 * each the room listed before and no longer does is observed closed, unless it moved to another
 * room. A failed or bad answer changes no stream: the last good list stays, so none looks closed.
 */
export function mergeList(rooms: RoomSet, r: RoomStreamsResult, ctx: MergeContext): void {
  const room = rooms.get(r.roomId);
  if (!room) return;
  const { store, logger } = ctx;
  if (r.outcome.kind === 'failed') {
    room.listOk = false;
    if (r.code === 'bad_response') {
      if (!room.badListLogged) logger.warn({ room_id: room.id, api: 'DescribeSimpleStreamList', error: r.outcome.message }, 'bad room API answer ignored');
      room.badListLogged = true;
    }
    return;
  }
  const current = new Map<string, number>();
  for (const s of r.outcome.streams) current.set(s.streamId, s.createTimeSec);
  // Each new stream gets its record first, so the list's observation below lands on it; O(1) per
  // stream. A known one's labels follow its current room; listed ids and the cap are discovery's.
  for (const id of current.keys()) ctx.discover(id, room.streamLabels, 'room');
  for (const [id, createTimeSec] of current) store.applyRoomList(id, { roomId: room.id, listed: true, createTimeSec, sentAtMs: r.sentAtMs });
  for (const id of room.streams?.keys() ?? []) {
    // A stream that moved to another room is not closed: only its current room's list says so.
    if (current.has(id) || store.get(id)?.roomId !== room.id) continue;
    store.applyRoomList(id, { roomId: room.id, listed: false, createTimeSec: null, sentAtMs: r.sentAtMs });
  }
  room.streams = current;
  room.streamCount = current.size;
  room.listOk = true;
  room.lastSuccessMs = r.sentAtMs + r.durationMs;
}

/** One DescribeUserNum answer (up to 10 rooms) into the rooms; a bad answer is logged once per room. */
export function mergeCounts(rooms: RoomSet, r: UserCountResult, logger: Logger): void {
  if (r.outcome.kind === 'failed') {
    for (const id of r.roomIds) {
      const room = rooms.get(id);
      if (!room) continue;
      room.countOk = false;
      if (r.code === 'bad_response' && !room.badCountLogged) {
        room.badCountLogged = true;
        logger.warn({ room_id: id, api: 'DescribeUserNum', error: r.outcome.message }, 'bad room API answer ignored');
      }
    }
    return;
  }
  for (const c of r.outcome.counts) {
    const room = rooms.get(c.roomId);
    if (!room) continue;
    room.users = c.userCount;
    room.adminUsers = c.adminUserCount;
    room.countOk = true;
  }
}

/**
 * After a reload: each stream discovered in a room follows the room it was last seen in (its new
 * labels), or is forgotten when that room is no longer watched.
 */
export function relabelRoomStreams(rooms: RoomSet, ctx: Pick<PartContext, 'store' | 'discover' | 'forget' | 'discovered'>): void {
  for (const id of [...ctx.discovered('room').ids()]) {
    const roomId = ctx.store.get(id)?.roomId;
    const room = roomId === null || roomId === undefined ? undefined : rooms.get(roomId);
    if (room) ctx.discover(id, room.streamLabels, 'room');
    else ctx.forget(id, 'room');
  }
}
