import { FaultsError, parseFaultsPatch, type Faults } from './faults.js';
import type { SimStats } from './stats.js';
import { isValidRoomId, isValidStreamId } from '../src/zego/protocol.js';
import { isValidMixTaskId } from '../src/zego/mix.js';
import { ACTIONS, type SimAction } from './api.js';
import { isMixCallbackEvent } from './mix-callback-body.js';
import { MAX_MIX_OUTPUTS, MixTaskError, type MixTaskSpec, type MixTaskView } from './mix.js';
import { isCallbackEncoding, STREAM_CALLBACK_EVENTS, type StreamCallbackEvent } from './callback-body.js';
import type { CallbackReceipt, CallbackRequest, MixCallbackRequest } from './server.js';
import { RoomStateError, type RoomState } from './rooms.js';
import { StreamStateError, type StreamState } from './streams.js';
import { OutputFaultError, parseOutputPatch, type OutputPatch, type OutputView } from './cdn.js';

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
  setDisabledActions(actions: SimAction[]): void;
  disabledActions(): SimAction[];
  sendCallback(req: CallbackRequest): Promise<CallbackReceipt>;
  mixTasks(): Record<string, MixTaskView>;
  startMix(taskId: string, spec: MixTaskSpec): { started: boolean; view: MixTaskView };
  stopMix(taskId: string): MixTaskView | undefined;
  crashMix(taskId: string): MixTaskView | undefined;
  removeMix(taskId: string): boolean;
  sendMixCallback(req: MixCallbackRequest): Promise<CallbackReceipt>;
  outputs(): Record<string, OutputView>;
  setOutput(id: string, patch: OutputPatch): OutputView;
  clearOutput(id: string): boolean;
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
export function handleControl(method: string, path: string, rawBody: string, sim: ControlTarget): ControlResponse | Promise<ControlResponse> {
  const route = path.slice('/_sim/'.length);

  if (route === 'services') return handleServices(method, rawBody, sim);
  if (route === 'callbacks') return method === 'POST' ? handleCallback(rawBody, sim) : bad('method not allowed', 405);

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
  if (route === 'mix') return method === 'GET' ? { status: 200, body: sim.mixTasks() } : bad('method not allowed', 405);
  if (route.startsWith('mix/')) return handleMix(method, route.slice('mix/'.length), rawBody, sim);
  if (route === 'outputs') return method === 'GET' ? { status: 200, body: sim.outputs() } : bad('method not allowed', 405);
  if (route.startsWith('outputs/')) return handleOutput(method, route.slice('outputs/'.length), rawBody, sim);
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

const MIX_KEYS = ['inputs', 'roomId', 'outputs', 'userId', 'inputsGoneCallback'] as const;

/**
 * `mix/<task>`: PUT `{inputs, roomId?, outputs?, userId?, inputsGoneCallback?}` is StartMix (starts
 * the task, or updates a running one), DELETE is StopMix (a mix_stop follows); `mix/<task>/crash`:
 * POST kills the mixer (no callback). The TaskId is a URL-encoded path segment.
 */
function handleMix(method: string, rest: string, rawBody: string, sim: ControlTarget): ControlResponse {
  const parts = rest.split('/');
  const taskId = decode(parts[0] ?? '');
  if (taskId === null || !isValidMixTaskId(taskId)) return bad('task id must be 1..256 bytes of printable ASCII without spaces');
  if (parts.length === 2 && parts[1] === 'crash') {
    if (method !== 'POST') return bad('method not allowed', 405);
    const v = sim.crashMix(taskId);
    return v === undefined ? bad('no such running task', 404) : { status: 200, body: { id: taskId, ...v } };
  }
  if (parts.length !== 1) return bad('not found', 404);
  if (method === 'DELETE') {
    const v = sim.stopMix(taskId);
    return v === undefined ? bad('no such running task', 404) : { status: 200, body: { id: taskId, ...v } };
  }
  if (method !== 'PUT') return bad('method not allowed', 405);
  const parsed = parseJson(rawBody);
  const v = parsed.ok ? parsed.value : undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return bad('body must be {"inputs": [stream ids], "roomId"?, "outputs"?, "userId"?, "inputsGoneCallback"?}');
  const unknown = Object.keys(v).find((k) => !(MIX_KEYS as readonly string[]).includes(k));
  if (unknown !== undefined) return bad(`unknown field: ${unknown.slice(0, 64)}`);
  try {
    const r = sim.startMix(taskId, v as MixTaskSpec);
    return { status: 200, body: { id: taskId, started: r.started, ...r.view } };
  } catch (err) {
    if (err instanceof MixTaskError) return bad(err.message);
    throw err;
  }
}

/**
 * `outputs/<id>`: PUT `{fault?, direct?, slowFirstByteMs?}` sets the CDN's fault for the output
 * (or marks it published straight to the CDN), DELETE clears both. The id is a stream id.
 */
function handleOutput(method: string, rest: string, rawBody: string, sim: ControlTarget): ControlResponse {
  const id = decode(rest);
  if (id === null || !isValidStreamId(id)) return bad('output id must be 1..256 bytes of [A-Za-z0-9_-]');
  if (method === 'DELETE') return sim.clearOutput(id) ? { status: 200, body: { deleted: id } } : bad('no fault or direct mark on that output', 404);
  if (method !== 'PUT') return bad('method not allowed', 405);
  const parsed = parseJson(rawBody);
  if (!parsed.ok) return bad('body must be JSON');
  try {
    return { status: 200, body: { id, ...sim.setOutput(id, parseOutputPatch(parsed.value)) } };
  } catch (err) {
    if (err instanceof OutputFaultError) return bad(err.message);
    throw err;
  }
}

/** `services`: GET `{Action: enabled}` for every Action; PUT a partial of it (false = "service not enabled", 100000017). */
function handleServices(method: string, rawBody: string, sim: ControlTarget): ControlResponse {
  const view = (): Record<string, boolean> => Object.fromEntries(ACTIONS.map((a) => [a, !sim.disabledActions().includes(a)]));
  if (method === 'GET') return { status: 200, body: view() };
  if (method !== 'PUT') return bad('method not allowed', 405);
  const parsed = parseJson(rawBody);
  const v = parsed.ok ? parsed.value : undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return bad(`body must be {"<Action>": true|false}, Actions: ${ACTIONS.join(', ')}`);
  const disabled = new Set(sim.disabledActions());
  for (const [k, on] of Object.entries(v)) {
    if (!(ACTIONS as readonly string[]).includes(k)) return bad(`unknown Action: ${k.slice(0, 64)}`);
    if (typeof on !== 'boolean') return bad(`${k} must be true (enabled) or false (not enabled)`);
  }
  for (const [k, on] of Object.entries(v as Record<string, boolean>)) {
    if (on) disabled.delete(k as SimAction);
    else disabled.add(k as SimAction);
  }
  sim.setDisabledActions([...disabled]);
  return { status: 200, body: view() };
}

const CALLBACK_KEYS = [
  'event',
  'streamId',
  'url',
  'secret',
  'appId',
  'encoding',
  'roomId',
  'roomSessionId',
  'streamSeq',
  'userId',
  'createTimeMs',
  'destroyTimeMs',
  'type',
] as const;

function isUint(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
}

/**
 * `callbacks`: POST `{event, streamId, url?, secret?, …}` sends one signed callback now and answers
 * with the receiver's status and the body sent. The secret is never echoed (only its signature).
 */
async function handleCallback(rawBody: string, sim: ControlTarget): Promise<ControlResponse> {
  const parsed = parseJson(rawBody);
  const v = parsed.ok ? parsed.value : undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    return bad('body must be a JSON object: {"event": "stream_create"|"stream_close", "streamId": …}');
  const b = v as Record<string, unknown>;
  if (isMixCallbackEvent(b['event'])) return handleMixCallback(b, sim);
  const unknown = Object.keys(b).find((k) => !(CALLBACK_KEYS as readonly string[]).includes(k));
  if (unknown !== undefined) return bad(`unknown field: ${unknown.slice(0, 64)}`);
  if (!(STREAM_CALLBACK_EVENTS as readonly unknown[]).includes(b['event']))
    return bad('event must be "stream_create", "stream_close", "mix_start" or "mix_stop"');
  if (typeof b['streamId'] !== 'string' || !isValidStreamId(b['streamId'])) return bad('streamId must be 1..256 bytes of [A-Za-z0-9_-]');
  const req: CallbackRequest = { event: b['event'] as StreamCallbackEvent, streamId: b['streamId'] };
  for (const k of ['url', 'secret', 'roomSessionId', 'userId'] as const) {
    const s = b[k];
    if (s === undefined) continue;
    if (typeof s !== 'string' || s === '') return bad(`${k} must be a non-empty string`);
    req[k] = s;
  }
  if (req.url !== undefined) {
    let u: URL;
    try {
      u = new URL(req.url);
    } catch {
      return bad('url must be an http(s) URL');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return bad('url must be an http(s) URL');
  }
  if (b['roomId'] !== undefined) {
    if (typeof b['roomId'] !== 'string' || !isValidRoomId(b['roomId'])) return bad('roomId breaks the room id rule');
    req.roomId = b['roomId'];
  }
  if (b['encoding'] !== undefined) {
    if (!isCallbackEncoding(b['encoding'])) return bad('encoding must be "json", "form" or "json-as-form"');
    req.encoding = b['encoding'];
  }
  for (const k of ['appId', 'streamSeq', 'createTimeMs', 'destroyTimeMs', 'type'] as const) {
    const n = b[k];
    if (n === undefined) continue;
    if (!isUint(n)) return bad(`${k} must be a non-negative integer`);
    req[k] = n;
  }
  try {
    return { status: 200, body: await sim.sendCallback(req) };
  } catch (err) {
    if (err instanceof RangeError) return bad(err.message);
    throw err;
  }
}

const MIX_CALLBACK_KEYS = ['event', 'taskId', 'url', 'secret', 'appId', 'encoding', 'roomId', 'seq', 'userId', 'outputs', 'separator'] as const;

/** Checks what the stream and mix callbacks share: where to, with what secret, how encoded. */
function deliveryFields(b: Record<string, unknown>): ControlResponse | Pick<CallbackRequest, 'url' | 'secret' | 'encoding' | 'appId'> {
  const out: Pick<CallbackRequest, 'url' | 'secret' | 'encoding' | 'appId'> = {};
  for (const k of ['url', 'secret'] as const) {
    const s = b[k];
    if (s === undefined) continue;
    if (typeof s !== 'string' || s === '') return bad(`${k} must be a non-empty string`);
    out[k] = s;
  }
  if (out.url !== undefined) {
    let u: URL;
    try {
      u = new URL(out.url);
    } catch {
      return bad('url must be an http(s) URL');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return bad('url must be an http(s) URL');
  }
  if (b['encoding'] !== undefined) {
    if (!isCallbackEncoding(b['encoding'])) return bad('encoding must be "json", "form" or "json-as-form"');
    out.encoding = b['encoding'];
  }
  if (b['appId'] !== undefined) {
    if (!isUint(b['appId']) || b['appId'] > 0xffff_ffff) return bad('appId must be a uint32');
    out.appId = b['appId'];
  }
  return out;
}

/**
 * `callbacks` with a mix event: POST `{event: "mix_start"|"mix_stop", taskId, url?, secret?, roomId?,
 * seq?, userId?, outputs?, separator?, appId?, encoding?}`; what is not given follows the task when
 * the simulator runs it. Changes no task.
 */
async function handleMixCallback(b: Record<string, unknown>, sim: ControlTarget): Promise<ControlResponse> {
  const unknown = Object.keys(b).find((k) => !(MIX_CALLBACK_KEYS as readonly string[]).includes(k));
  if (unknown !== undefined) return bad(`unknown field: ${unknown.slice(0, 64)}`);
  if (typeof b['taskId'] !== 'string' || !isValidMixTaskId(b['taskId'])) return bad('taskId must be 1..256 bytes of printable ASCII without spaces');
  const delivery = deliveryFields(b);
  if ('status' in delivery) return delivery;
  const req: MixCallbackRequest = { event: b['event'] as MixCallbackRequest['event'], taskId: b['taskId'], ...delivery };
  if (b['roomId'] !== undefined) {
    if (typeof b['roomId'] !== 'string' || !isValidRoomId(b['roomId'])) return bad('roomId breaks the room id rule');
    req.roomId = b['roomId'];
  }
  if (b['seq'] !== undefined) {
    if (!isUint(b['seq'])) return bad('seq must be a non-negative integer');
    req.seq = b['seq'];
  }
  if (b['userId'] !== undefined) {
    if (typeof b['userId'] !== 'string' || !/^[\x21-\x7e]{1,64}$/.test(b['userId'])) return bad('userId must be 1..64 printable ASCII characters');
    req.userId = b['userId'];
  }
  if (b['outputs'] !== undefined) {
    const o = b['outputs'];
    if (!Array.isArray(o) || o.length < 1 || o.length > MAX_MIX_OUTPUTS || !o.every((s): s is string => typeof s === 'string' && isValidStreamId(s)))
      return bad(`outputs must list 1 to ${MAX_MIX_OUTPUTS} stream ids`);
    req.outputs = o;
  }
  if (b['separator'] !== undefined) {
    if (typeof b['separator'] !== 'string' || !/^[\x21-\x7e]?$/.test(b['separator'])) return bad('separator must be one printable character, or empty');
    req.separator = b['separator'];
  }
  try {
    return { status: 200, body: await sim.sendMixCallback(req) };
  } catch (err) {
    if (err instanceof RangeError) return bad(err.message);
    throw err;
  }
}
