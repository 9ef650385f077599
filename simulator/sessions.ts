import { createHash, randomBytes } from 'node:crypto';
import { MAX_ROOM_ID_BYTES } from '../src/zego/protocol.js';

/** What a callback carries of its room's lifecycle. */
export interface SessionStamp {
  roomSessionId: string;
  /** The room's stream-list changes so far in this session, this one included (the first is 1). */
  streamSeq: number;
}

interface Session {
  id: string;
  seq: number;
  streams: Set<string>;
}

/** An opaque id like ZEGO's (a 64-bit unsigned decimal). */
export function randomSessionId(): string {
  return BigInt(`0x${randomBytes(8).toString('hex')}`).toString();
}

/**
 * The room a stream publishes in when nothing says otherwise: a room of its own, `room-<stream id>`
 * (a stream id too long for the room id rule has its sha1 stand in for it).
 */
export function defaultRoomId(streamId: string): string {
  const id = `room-${streamId}`;
  return Buffer.byteLength(id, 'utf8') <= MAX_ROOM_ID_BYTES ? id : `room-${createHash('sha1').update(streamId).digest('hex')}`;
}

/**
 * Room lifecycles as ZEGO numbers them: a room exists while someone is in it (a publishing stream
 * or a user); while it exists it keeps one `room_session_id`, and every change of its stream list
 * takes the next `stream_seq`. When the last stream and user leave the room is destroyed: the next
 * stream to publish there opens a new session whose seq starts again at 1.
 */
export class RoomSessions {
  readonly #rooms = new Map<string, Session>();
  /** Stream → the room whose list it is in, so its close lands in that room whoever sends it. */
  readonly #listedIn = new Map<string, string>();
  readonly #newId: () => string;
  readonly #hasUsers: (roomId: string) => boolean;

  constructor(opts: { newId?: () => string; hasUsers?: (roomId: string) => boolean } = {}) {
    this.#newId = opts.newId ?? randomSessionId;
    this.#hasUsers = opts.hasUsers ?? (() => false);
  }

  /** The stream joins the room's list (a stream_create). */
  streamAdded(roomId: string, streamId: string): SessionStamp {
    const s = this.#open(roomId);
    s.streams.add(streamId);
    this.#listedIn.set(streamId, roomId);
    return { roomSessionId: s.id, streamSeq: ++s.seq };
  }

  /**
   * The stream leaves the room's list (a stream_close). A room that does not exist is opened for the
   * event (a close sent on demand for a stream nobody saw publish) and destroyed with it.
   */
  streamRemoved(roomId: string, streamId: string, opts: { publisherStays?: boolean } = {}): SessionStamp {
    const s = this.#open(roomId);
    s.streams.delete(streamId);
    if (this.#listedIn.get(streamId) === roomId) this.#listedIn.delete(streamId);
    const stamp = { roomSessionId: s.id, streamSeq: ++s.seq };
    // A publisher who stays logged in keeps the room (and its session) alive for the next publish.
    if (opts.publisherStays !== true) this.usersChanged(roomId);
    return stamp;
  }

  /** The room's audience changed: a room with no stream and no user left is destroyed. */
  usersChanged(roomId: string): void {
    const s = this.#rooms.get(roomId);
    if (s !== undefined && s.streams.size === 0 && !this.#hasUsers(roomId)) this.#rooms.delete(roomId);
  }

  /** The room whose list the stream is in now (undefined when none). */
  listedIn(streamId: string): string | undefined {
    return this.#listedIn.get(streamId);
  }

  /** The current session of a room, undefined while it does not exist. */
  session(roomId: string): string | undefined {
    return this.#rooms.get(roomId)?.id;
  }

  #open(roomId: string): Session {
    let s = this.#rooms.get(roomId);
    if (s === undefined) {
      s = { id: this.#newId(), seq: 0, streams: new Set() };
      this.#rooms.set(roomId, s);
    }
    return s;
  }
}
