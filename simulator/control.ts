import { FaultsError, parseFaultsPatch, type Faults } from './faults.js';
import type { SimStats } from './stats.js';
import { isValidRoomId, isValidStreamId } from '../src/zego/protocol.js';
import { RoomStateError, type RoomState } from './rooms.js';
import { StreamStateError, type StreamState } from './streams.js';

/** What the control endpoints may do to a running simulator. */
interface ControlTarget {
  stats(): SimStats;
  resetStats(): void;
  streams(): Record<string, StreamState>;
  transitionStream(id: string, target: 'active' | 'closed'): StreamState;
  removeStream(id: string): boolean;
  setFaults(patch: Partial<Faults>): Faults;
  faults(): Faults;
  rooms(): Record<string, RoomState>;
  setRoomCounts(roomId: string, counts: { userCount?: number; adminUserCount?: number }): RoomState;
  publishInRoom(roomId: string, streamId: string): RoomState;
  unpublishFromRoom(roomId: string, streamId: string): boolean;
  removeRoom(roomId: string): boolean;
}

export interface ControlResponse {
  status: number;
  body: unknown;
}

const bad = (message: string, status = 400): ControlResponse => ({ status, body: { error: message } });

function parseJson(raw: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(raw) as unknown };
  } catch {
    return { ok: false };
  }
}

/**
 * `/_sim/*`: JSON in, JSON out. Every bad input is a 4xx with `{error}`; nothing here may throw
 * into the HTTP server, because a test poking the control surface must never take down the
 * simulator the rest of the suite is using.
 */
export function handleControl(method: string, path: string, rawBody: string, sim: ControlTarget): ControlResponse {
  const route = path.slice('/_sim/'.length);

  if (route === 'stats') return method === 'GET' ? { status: 200, body: sim.stats() } : bad('method not allowed', 405);
  if (route === 'stats/reset') {
    if (method !== 'POST') return bad('method not allowed', 405);
    sim.resetStats();
    return { status: 200, body: { ok: true } };
  }
  if (route === 'streams') return method === 'GET' ? { status: 200, body: sim.streams() } : bad('method not allowed', 405);
  if (route === 'faults') {
    if (method === 'GET') return { status: 200, body: sim.faults() };
    if (method !== 'PUT') return bad('method not allowed', 405);
    const parsed = parseJson(rawBody);
    if (!parsed.ok) return bad('body must be JSON');
    try {
      return { status: 200, body: sim.setFaults(parseFaultsPatch(parsed.value)) };
    } catch (err) {
      if (err instanceof FaultsError) return bad(err.message);
      throw err;
    }
  }
  if (route === 'rooms') return method === 'GET' ? { status: 200, body: sim.rooms() } : bad('method not allowed', 405);
  if (route.startsWith('rooms/')) return handleRoom(method, route.slice('rooms/'.length), rawBody, sim);
  if (route.startsWith('streams/')) {
    let id: string;
    try {
      id = decodeURIComponent(route.slice('streams/'.length));
    } catch {
      return bad('malformed stream id');
    }
    if (!isValidStreamId(id)) return bad('stream id must be 1..256 bytes of [A-Za-z0-9_-]');
    if (method === 'DELETE') {
      return sim.removeStream(id) ? { status: 200, body: { deleted: id } } : bad('no such stream', 404);
    }
    if (method !== 'PUT') return bad('method not allowed', 405);
    const parsed = parseJson(rawBody);
    if (!parsed.ok) return bad('body must be JSON');
    const v = parsed.value;
    const state = typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>).state : undefined;
    if (state !== 'active' && state !== 'closed') return bad('body must be {"state":"active"|"closed"}');
    try {
      return { status: 200, body: { id, ...sim.transitionStream(id, state) } };
    } catch (err) {
      if (err instanceof StreamStateError) return bad(err.message);
      throw err;
    }
  }
  return bad('not found', 404);
}

function decode(part: string): string | null {
  try {
    return decodeURIComponent(part);
  } catch {
    return null;
  }
}

/**
 * `rooms/<room>`: PUT `{userCount?, adminUserCount?}` creates or updates the room, DELETE closes
 * it. `rooms/<room>/streams/<stream>`: PUT publishes the stream in the room, DELETE stops it. Ids
 * are URL-encoded path segments (room ids may hold `/`, `?`, `#`).
 */
function handleRoom(method: string, rest: string, rawBody: string, sim: ControlTarget): ControlResponse {
  const parts = rest.split('/');
  const roomId = decode(parts[0] ?? '');
  if (roomId === null || !isValidRoomId(roomId)) return bad("room id must be 1..127 bytes of letters, digits and ~!@#$%^&*()_+=-`;',.<>\\");
  try {
    if (parts.length === 1) {
      if (method === 'DELETE') return sim.removeRoom(roomId) ? { status: 200, body: { deleted: roomId } } : bad('no such room', 404);
      if (method !== 'PUT') return bad('method not allowed', 405);
      const parsed = parseJson(rawBody === '' ? '{}' : rawBody);
      const v = parsed.ok ? parsed.value : undefined;
      if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad('body must be {"userCount"?: n, "adminUserCount"?: n}');
      const body = v as Record<string, unknown>;
      const unknown = Object.keys(body).filter((k) => k !== 'userCount' && k !== 'adminUserCount');
      if (unknown.length > 0) return bad(`unknown field: ${unknown[0]}`);
      const counts: { userCount?: number; adminUserCount?: number } = {};
      for (const k of ['userCount', 'adminUserCount'] as const) {
        const n = body[k];
        if (n === undefined) continue;
        if (typeof n !== 'number') return bad(`${k} must be a non-negative integer`);
        counts[k] = n;
      }
      return { status: 200, body: { id: roomId, ...sim.setRoomCounts(roomId, counts) } };
    }
    if (parts.length !== 3 || parts[1] !== 'streams') return bad('not found', 404);
    const streamId = decode(parts[2] ?? '');
    if (streamId === null || !isValidStreamId(streamId)) return bad('stream id must be 1..256 bytes of [A-Za-z0-9_-]');
    if (method === 'PUT') return { status: 200, body: { id: roomId, ...sim.publishInRoom(roomId, streamId) } };
    if (method === 'DELETE') {
      return sim.unpublishFromRoom(roomId, streamId) ? { status: 200, body: { id: roomId, stopped: streamId } } : bad('no such stream in the room', 404);
    }
    return bad('method not allowed', 405);
  } catch (err) {
    if (err instanceof RoomStateError) return bad(err.message);
    throw err;
  }
}
