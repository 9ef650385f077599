import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ZegoApi, type AppConfig, type Envelope, type SimAction } from './api.js';
import type { CallbackEncoding, CallbackFields } from './callback-body.js';
import { CallbackSender, type OnDemandEvent } from './callbacks.js';
import { RoomSessions } from './sessions.js';
import { systemClock, type SimClock } from './clock.js';
import { handleControl } from './control.js';
import {
  DEFAULT_FAULTS,
  garbageBody,
  gatewayFailure,
  parseFaultsPatch,
  responseDelayMs,
  rollTransportFault,
  type Faults,
  type RandomSource,
} from './faults.js';
import { StatsCollector, type SimStats } from './stats.js';
import { RoomTable, type RoomState } from './rooms.js';
import { StreamTable, type StreamState } from './streams.js';
import { MixTable, type MixEnded, type MixTaskSpec, type MixTaskView } from './mix.js';
import { mixCallbackFields, type MixCallbackEvent } from './mix-callback-body.js';
import { SimCdn, type OutputPatch, type OutputView } from './cdn.js';

export type { AppConfig } from './api.js';
export type { Faults } from './faults.js';
export type { SimStats } from './stats.js';
export type { StreamState } from './streams.js';
export type { RoomState } from './rooms.js';
export type { MixTaskSpec, MixTaskView } from './mix.js';
export type { OutputFault, OutputPatch, OutputView } from './cdn.js';

export interface SimulatorOptions {
  host?: string;
  port?: number;
  apps: AppConfig[];
  /** Keyed by the full API stream id (test-environment ids include `zegotest-<AppId>-`). */
  streams?: Record<string, StreamState>;
  /** Rooms by id: members are API stream ids (published, so active, at start). */
  rooms?: Record<string, { streams?: string[]; userCount?: number; adminUserCount?: number }>;
  faults?: Partial<Faults>;
  clock?: SimClock;
  /** Uniform [0, 1) source for faults and jitter; inject for reproducible tests. */
  random?: RandomSource;
  /** Actions whose service is not enabled: answered 100000017 (changeable at runtime). */
  disabledActions?: SimAction[];
  /** Mix tasks running at start, by TaskId (started now, no mix_start sent for them). */
  mixTasks?: Record<string, MixTaskSpec>;
  /**
   * ZEGO's stream_create / stream_close for every change of a stream's state (control API,
   * setStream, rooms), and the default target of sendCallback.
   */
  callbacks?: SimulatorCallbacks;
  /** The CDN's HLS target duration (and segment length), whole seconds; default 2. */
  hlsTargetDurationS?: number;
  /** How long the `slow_first_byte` fault holds an answer back; default 3000. */
  slowFirstByteMs?: number;
}

export interface SimulatorCallbacks {
  url: string;
  /** The callback secret (not the ServerSecret). */
  secret: string;
  /** The `appid` the callbacks carry; default the first app's. */
  appId?: number;
  /** Default `json`. */
  encoding?: CallbackEncoding;
  /** Default ZEGO's 2, 4, 8, 16, 32 s. */
  retryGapsMs?: readonly number[];
  /** Between the AppID and the TaskId in a mix callback's task_id (default ':', as the docs' example; '' for none). */
  mixTaskIdSeparator?: string;
}

/** One mix_start / mix_stop on demand; what is not given follows the task if the simulator runs it. */
export interface MixCallbackRequest {
  event: MixCallbackEvent;
  taskId: string;
  url?: string;
  secret?: string;
  appId?: number;
  encoding?: CallbackEncoding;
  roomId?: string;
  seq?: number;
  userId?: string;
  outputs?: string[];
  separator?: string;
}

/** One callback on demand: where to (default: the configured callbacks) and what (default: the room's session). */
export interface CallbackRequest extends OnDemandEvent {
  url?: string;
  secret?: string;
  appId?: number;
  encoding?: CallbackEncoding;
}

export interface CallbackReceipt {
  /** The receiver's HTTP status, null when it could not be reached. */
  status: number | null;
  contentType: string;
  /** The signed fields as sent. */
  body: CallbackFields;
}

export interface Simulator {
  /** `http://host:port`, no trailing slash. */
  readonly url: string;
  readonly port: number;
  setStream(id: string, state: StreamState): void;
  removeStream(id: string): boolean;
  streams(): Record<string, StreamState>;
  /** Creates the room if needed and sets its counts (throws RoomStateError on bad input). */
  setRoomCounts(roomId: string, counts: { userCount?: number; adminUserCount?: number }): RoomState;
  /** The stream publishes in the room: listed there and active for DescribeRTCStreamState. */
  publishInRoom(roomId: string, streamId: string): RoomState;
  /** The stream stops: gone from the room's list, closed for DescribeRTCStreamState. */
  unpublishFromRoom(roomId: string, streamId: string): boolean;
  /** The room closes: its streams stop, its counts read 0. */
  removeRoom(roomId: string): boolean;
  rooms(): Record<string, RoomState>;
  /** Rotates an app's secret (throws RangeError for an unknown app or an empty secret). */
  setAppSecret(appId: number, secret: string): void;
  /** Replaces the set of Actions answered 100000017 (service not enabled). */
  setDisabledActions(actions: SimAction[]): void;
  disabledActions(): SimAction[];
  /**
   * StartMix: a task not running starts (MixDuration 0, a mix_start is sent); a running one is
   * updated in place (keeps its age, no callback). Throws MixTaskError on bad input.
   */
  startMix(taskId: string, spec: MixTaskSpec): { started: boolean; view: MixTaskView };
  /** StopMix: the task ends and a mix_stop is sent. Undefined when it is not running. */
  stopMix(taskId: string): MixTaskView | undefined;
  /** The mixer dies: the task ends and no callback says so. Undefined when it is not running. */
  crashMix(taskId: string): MixTaskView | undefined;
  /** Forgets a task (no callback): a running one just stops existing, like a crash. */
  removeMix(taskId: string): boolean;
  /** Every task the simulator has run, tasks whose inputs have been gone 90 s ended first. */
  mixTasks(): Record<string, MixTaskView>;
  /** One signed mix_start / mix_stop now, once; changes no task. Throws RangeError without a URL or secret. */
  sendMixCallback(req: MixCallbackRequest): Promise<CallbackReceipt>;
  /**
   * Sends one signed stream_create / stream_close now, once (no retries), through the same builder
   * and signing as the automatic callbacks; room_session_id and stream_seq follow the simulator's
   * rooms unless given. Throws RangeError when there is no URL or secret to send with.
   */
  sendCallback(req: CallbackRequest): Promise<CallbackReceipt>;
  /**
   * An output's CDN fault and `direct` mark (fields not given keep their value; throws
   * OutputFaultError on bad input), as PUT /_sim/outputs/<id>.
   */
  setOutput(id: string, patch: OutputPatch): OutputView;
  /** Forgets an output's fault and `direct` mark; false when it had none. */
  clearOutput(id: string): boolean;
  /** Every output with a fault or a `direct` mark. */
  outputs(): Record<string, OutputView>;
  /** HTTP-FLV connections open now. */
  flvConnections(): number;
  /** Validates like the control endpoint (throws FaultsError); returns the resulting faults. */
  setFaults(patch: Partial<Faults>): Faults;
  faults(): Faults;
  stats(): SimStats;
  resetStats(): void;
  /** Stops listening and destroys every open socket, hung and delayed ones included. */
  close(): Promise<void>;
}

const MAX_CONTROL_BODY = 64 * 1024;

export async function startSimulator(opts: SimulatorOptions): Promise<Simulator> {
  const clock = opts.clock ?? systemClock;
  const random = opts.random ?? Math.random;
  let faults: Faults = { ...DEFAULT_FAULTS, ...parseFaultsPatch(opts.faults ?? {}) };
  const table = new StreamTable();
  for (const [id, s] of Object.entries(opts.streams ?? {})) table.set(id, s);
  const stats = new StatsCollector();
  const rooms = new RoomTable(table);
  const mix = new MixTable({ monoMs: () => clock.monoMs(), wallMs: () => clock.wallMs() + faults.clockOffsetMs }, (id) => table.get(id)?.state === 'active');
  // GetMixTaskInfo sees the tasks settled first: a task whose inputs have been gone 90 s has ended.
  const mixService = {
    info: (taskId: string): { mixDuration: number } | undefined => {
      settleMix();
      return mix.info(taskId);
    },
  };
  const api = new ZegoApi(opts.apps, table, stats, clock, () => faults, rooms, random, mixService);
  api.setDisabledActions(opts.disabledActions ?? []);
  // One numbering of room sessions for the automatic callbacks and the ones sent on demand.
  const sessions = new RoomSessions({ hasUsers: (roomId) => rooms.hasUsers(roomId) });
  const roomOf = (streamId: string): { roomId: string; userId: string } | undefined => rooms.roomOf(streamId);
  const wallMs = (): number => api.wallMs();
  const firstAppId = opts.apps[0]?.appId ?? 0;
  const cb = opts.callbacks;
  // Known once the server listens; callbacks are only sent after that.
  const listening: { url?: string } = {};
  const mediaBaseUrl = (): string | undefined => listening.url;
  const auto =
    cb === undefined
      ? null
      : new CallbackSender({
          url: cb.url,
          secret: cb.secret,
          appId: cb.appId ?? firstAppId,
          ...(cb.encoding === undefined ? {} : { encoding: cb.encoding }),
          ...(cb.retryGapsMs === undefined ? {} : { retryGapsMs: cb.retryGapsMs }),
          nowMs: wallMs,
          roomOf,
          sessions,
          mediaBaseUrl,
        });

  const startSec = Math.floor(api.wallMs() / 1000);
  for (const [roomId, r] of Object.entries(opts.rooms ?? {})) {
    rooms.setCounts(roomId, { userCount: r.userCount ?? 0, adminUserCount: r.adminUserCount ?? 0 });
    for (const streamId of r.streams ?? []) rooms.publish(roomId, streamId, startSec);
  }
  if (auto !== null) for (const [id, st] of Object.entries(table.snapshot())) auto.prime(id, st);
  for (const [taskId, spec] of Object.entries(opts.mixTasks ?? {})) mix.start(taskId, spec);

  const mixSeparator = cb?.mixTaskIdSeparator;
  const mixCallback = (event: MixCallbackEvent, taskId: string, view: MixTaskView): void => {
    if (auto === null) return;
    const fields = mixCallbackFields({
      event,
      appId: cb?.appId ?? firstAppId,
      taskId,
      seq: view.seq,
      roomId: view.roomId,
      userId: view.userId,
      outputs: view.outputs,
      ...(mixSeparator === undefined ? {} : { separator: mixSeparator }),
      ...(listening.url === undefined ? {} : { mediaBaseUrl: listening.url }),
    });
    void auto.send(fields);
  };
  /** Tasks ZEGO ended by itself (inputs gone 90 s) send their mix_stop unless set not to. */
  const settleMix = (): void => {
    for (const e of mix.settle()) if (e.view.inputsGoneCallback) mixCallback('mix_stop', e.taskId, e.view);
  };
  const endMix = (taskId: string, reason: 'stop' | 'crash'): MixTaskView | undefined => {
    settleMix();
    const e: MixEnded | undefined = mix.end(taskId, reason);
    if (e !== undefined && reason === 'stop') mixCallback('mix_stop', e.taskId, e.view);
    return e?.view;
  };
  table.onChange = (id, st) => {
    mix.streamChanged(id);
    if (auto !== null) void auto.onStream(id, st);
  };
  const cdn = new SimCdn({
    wallMs: () => clock.wallMs(),
    monoMs: () => clock.monoMs(),
    zegoFeed: (id) => {
      if (table.get(id)?.state === 'active') return true;
      settleMix();
      return mix.outputsStream(id);
    },
    ...(opts.hlsTargetDurationS === undefined ? {} : { targetDurationS: opts.hlsTargetDurationS }),
    ...(opts.slowFirstByteMs === undefined ? {} : { slowFirstByteMs: opts.slowFirstByteMs }),
  });
  // Tasks end by themselves on time even when nobody asks.
  const mixSweep = setInterval(settleMix, 1000);
  mixSweep.unref();

  const inFlight = new Set<ServerResponse>();
  const oneOff = new Set<CallbackSender>();
  const timers = new Set<NodeJS.Timeout>();
  let closing = false;

  const nowSec = (): number => Math.floor(api.wallMs() / 1000);

  const sim: Simulator = {
    url: '',
    port: 0,
    setStream: (id, state) => table.set(id, state),
    setRoomCounts: (roomId, counts) => {
      const r = rooms.setCounts(roomId, counts);
      sessions.usersChanged(roomId);
      return r;
    },
    publishInRoom: (roomId, streamId) => rooms.publish(roomId, streamId, nowSec()),
    unpublishFromRoom: (roomId, streamId) => rooms.unpublish(roomId, streamId, nowSec()),
    removeRoom: (roomId) => {
      const removed = rooms.remove(roomId, nowSec());
      sessions.usersChanged(roomId);
      return removed;
    },
    rooms: () => rooms.snapshot(),
    removeStream: (id) => table.delete(id),
    setAppSecret: (appId, secret) => api.setAppSecret(appId, secret),
    streams: () => table.snapshot(),
    setDisabledActions: (actions) => api.setDisabledActions(actions),
    disabledActions: () => api.disabledActions(),
    startMix: (taskId, spec) => {
      settleMix();
      const r = mix.start(taskId, spec);
      if (r.started) mixCallback('mix_start', taskId, r.view);
      return r;
    },
    stopMix: (taskId) => endMix(taskId, 'stop'),
    crashMix: (taskId) => endMix(taskId, 'crash'),
    removeMix: (taskId) => mix.remove(taskId),
    mixTasks: () => {
      settleMix();
      return mix.snapshot();
    },
    sendMixCallback: async (req) => {
      const url = req.url ?? cb?.url;
      const secret = req.secret ?? cb?.secret;
      if (url === undefined || secret === undefined || secret === '')
        throw new RangeError('no callback url or secret: give them, or start the simulator with callbacks');
      const known = mix.view(req.taskId);
      const sender = new CallbackSender({
        url,
        secret,
        appId: req.appId ?? cb?.appId ?? firstAppId,
        encoding: req.encoding ?? cb?.encoding ?? 'json',
        retryGapsMs: [],
        nowMs: wallMs,
      });
      oneOff.add(sender);
      try {
        const separator = req.separator ?? mixSeparator;
        const userId = req.userId ?? known?.userId;
        const fields = mixCallbackFields({
          event: req.event,
          appId: req.appId ?? cb?.appId ?? firstAppId,
          taskId: req.taskId,
          seq: req.seq ?? known?.seq ?? 1,
          roomId: req.roomId ?? known?.roomId ?? null,
          outputs: req.outputs ?? known?.outputs ?? [],
          ...(userId === undefined ? {} : { userId }),
          ...(separator === undefined ? {} : { separator }),
          ...(listening.url === undefined ? {} : { mediaBaseUrl: listening.url }),
        });
        return await sender.sendFields(fields);
      } finally {
        oneOff.delete(sender);
        sender.close();
      }
    },
    sendCallback: async (req) => {
      const url = req.url ?? cb?.url;
      const secret = req.secret ?? cb?.secret;
      if (url === undefined || secret === undefined || secret === '')
        throw new RangeError('no callback url or secret: give them, or start the simulator with callbacks');
      const sender = new CallbackSender({
        url,
        secret,
        appId: req.appId ?? cb?.appId ?? firstAppId,
        encoding: req.encoding ?? cb?.encoding ?? 'json',
        retryGapsMs: [],
        nowMs: wallMs,
        roomOf,
        sessions,
        mediaBaseUrl,
      });
      oneOff.add(sender);
      try {
        const known = table.get(req.streamId);
        const createTimeMs = req.createTimeMs ?? (known === undefined ? undefined : known.createTime * 1000);
        return await sender.sendEvent({ ...req, ...(createTimeMs === undefined ? {} : { createTimeMs }) });
      } finally {
        oneOff.delete(sender);
        sender.close();
      }
    },
    setOutput: (id, patch) => cdn.set(id, patch),
    clearOutput: (id) => cdn.clear(id),
    outputs: () => cdn.list(),
    flvConnections: () => cdn.flvConnections(),
    setFaults: (patch) => {
      faults = { ...faults, ...parseFaultsPatch(patch) };
      return { ...faults };
    },
    faults: () => ({ ...faults }),
    stats: () => stats.snapshot(),
    resetStats: () => {
      stats.reset();
      api.resetStatsWindows();
    },
    close: async () => {
      closing = true;
      table.onChange = null;
      clearInterval(mixSweep);
      auto?.close();
      cdn.close();
      for (const s of oneOff) s.close();
      for (const t of timers) clearTimeout(t);
      timers.clear();
      for (const res of inFlight) res.socket?.destroy();
      inFlight.clear();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };

  /** Every response carries the simulator's clock, so clients can measure skew from `Date`. */
  const send = (res: ServerResponse, status: number, contentType: string, body: string): void => {
    if (res.writableEnded || res.destroyed) return;
    res.writeHead(status, {
      Date: new Date(api.wallMs()).toUTCString(),
      'Content-Type': contentType,
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(body);
  };

  const sendJson = (res: ServerResponse, status: number, value: unknown): void => send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));

  const later = (delayMs: number, fn: () => void): void => {
    if (delayMs <= 0) return fn();
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, delayMs);
    timers.add(t);
  };

  const handleApi = (res: ServerResponse, q: URLSearchParams): void => {
    // Counted before any fault: the request reached the service even if its answer never leaves.
    const admission = api.admit(q);
    const f = faults;
    const fault = rollTransportFault(f, random);
    const delay = responseDelayMs(f, random);
    inFlight.add(res);
    res.on('close', () => inFlight.delete(res));

    if (fault === 'http500') {
      // A gateway failure: the backend never saw it, so no Sequence is consumed and no Code counted.
      stats.fault('http500');
      const { status, body } = gatewayFailure(random);
      return later(delay, () => send(res, status, 'text/html', body));
    }

    // reset/hang/badJson lose the answer after the backend processed the request (its Sequence
    // is consumed): the nastiest case for a client that retries with the same Sequence.
    const envelope: Envelope = api.respond(q, admission);
    const json = JSON.stringify(envelope);
    if (fault === 'hang') {
      stats.fault('hang');
      return;
    }
    if (fault === 'reset') {
      stats.fault('reset');
      return later(delay, () => res.socket?.destroy());
    }
    if (fault === 'badJson') {
      stats.fault('badJson');
      const body = garbageBody(random, json);
      return later(delay, () => send(res, 200, 'application/json; charset=utf-8', body));
    }
    later(delay, () => send(res, 200, 'application/json; charset=utf-8', json));
  };

  const readBody = (req: IncomingMessage): Promise<string | null> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > MAX_CONTROL_BODY) {
          resolve(null);
          req.resume();
          return;
        }
        chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if (closing) {
      res.socket?.destroy();
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://simulator.invalid');
    } catch {
      return sendJson(res, 400, { error: 'malformed request target' });
    }
    const method = req.method ?? 'GET';
    if (url.pathname.startsWith('/_sim/')) {
      const body = method === 'PUT' || method === 'POST' ? await readBody(req) : '';
      if (body === null) return sendJson(res, 413, { error: 'body too large' });
      const out = await handleControl(method, url.pathname, body, {
        stats: sim.stats,
        resetStats: sim.resetStats,
        streams: sim.streams,
        transitionStream: (id, target) => table.transition(id, target, nowSec()),
        removeStream: sim.removeStream,
        setFaults: sim.setFaults,
        faults: sim.faults,
        rooms: sim.rooms,
        setRoomCounts: sim.setRoomCounts,
        publishInRoom: sim.publishInRoom,
        unpublishFromRoom: sim.unpublishFromRoom,
        removeRoom: sim.removeRoom,
        setDisabledActions: sim.setDisabledActions,
        disabledActions: sim.disabledActions,
        sendCallback: sim.sendCallback,
        mixTasks: sim.mixTasks,
        startMix: sim.startMix,
        stopMix: sim.stopMix,
        crashMix: sim.crashMix,
        removeMix: sim.removeMix,
        sendMixCallback: sim.sendMixCallback,
        outputs: sim.outputs,
        setOutput: sim.setOutput,
        clearOutput: sim.clearOutput,
      });
      return sendJson(res, out.status, out.body);
    }
    if (cdn.handle(req, res, url.pathname)) return;
    req.resume();
    if (url.pathname !== '/') return sendJson(res, 404, { error: 'not found' });
    if (method !== 'GET') return sendJson(res, 405, { error: 'method not allowed' });
    handleApi(res, url.searchParams);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      // Last resort: a bug must surface as a 500 to the caller, not as a crashed test process.
      if (!res.headersSent) sendJson(res, 500, { error: err instanceof Error ? err.message : String(err) });
      else res.destroy();
    });
  });
  // Clients (undici) keep connections alive; don't let an idle one hold close() open.
  server.keepAliveTimeout = 5_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  listening.url = `http://${host}:${addr.port}`;
  return Object.assign(sim, { url: listening.url, port: addr.port });
}
