import type { Config, RoomConfig } from '../config/types.js';
import { API_STREAM_LIST_LIMIT, API_USER_NUM_LIMIT, API_USER_NUM_LIMIT_TEST } from '../config/types.js';
import { LANDING_ROWS, labelText, type LandingTable } from '../http/landing.js';
import type { Format } from '../metrics/exposition.js';
import type { ApiBudgetStatus } from '../metrics/self.js';
import { roomPlan, roomPlanLines } from './plan.js';
import type { Part, PartContext, PartGauge, RoomApi } from '../parts/part.js';
import { Budget, type Gate } from '../scheduler/budget.js';
import type { WatchedStream } from '../state/store.js';
import type { RoomStreamsResult, UserCountResult } from '../zego/outcome.js';
import { CountBatcher } from './count-batcher.js';
import { roomsFleet } from './fleet.js';
import { RoomDiscovery } from './discovery.js';
import { ListScheduler, type RoomLock } from './list-scheduler.js';
import { RoomInfoFamily, renderRooms, roomProbeSuccess, type RoomView } from './metrics.js';

/** The callbacks' default forget_after, used when callbacks.discover sets none. */
const DEFAULT_FORGET_AFTER_MS = 3_600_000;

/** Fleet mode: each API's budget and the per-room rule shared through Redis (see fleet.ts). */
export interface RoomsFleetLike {
  listGate: Gate;
  countGate: Gate;
  roomLock: RoomLock;
  /** The rate a budget may spend now (its fallback share while Redis is away). */
  rate(which: 'list' | 'count', rate: number): number;
  setRateLimits(list: number, count: number): void;
  close(): Promise<void>;
}

export interface RoomsPartOptions {
  api: RoomApi;
  /** Built with the part; told when the fleet's mode changes via `fleetModeChanged()`. */
  fleet?: (onModeChange: () => void) => RoomsFleetLike;
}

interface Room extends RoomView {
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

/**
 * Rooms: each watched room's streams (DescribeSimpleStreamList) and audience (DescribeUserNum),
 * each API on a budget of its own (never the stream prober's). Streams found in a room are
 * watched like callback-discovered ones (capped, forgotten once closed for forget_after); the
 * store merges the lists' observations with probes and callbacks by time.
 */
export class RoomsPart implements Part {
  readonly name = 'rooms';
  readonly gauges: readonly PartGauge[];
  readonly listBudget: Budget;
  readonly countBudget: Budget;
  readonly #ctx: PartContext;
  readonly #lists: ListScheduler;
  readonly #counts: CountBatcher;
  readonly #discovery: RoomDiscovery;
  readonly #roomInfo = new RoomInfoFamily();
  readonly #rooms = new Map<string, Room>();
  #config: Config;
  #listed = new Set<string>();
  #sweepTimer: NodeJS.Timeout | null = null;
  #fullLogged = false;
  readonly #fleet: RoomsFleetLike | undefined;

  constructor(config: Config, ctx: PartContext, opts: RoomsPartOptions) {
    this.#ctx = ctx;
    this.#config = config;
    const z = config.zego;
    const fleet = opts.fleet?.(() => this.#applyRates());
    this.#fleet = fleet;
    this.listBudget = new Budget({
      rateLimit: fleet ? fleet.rate('list', z.streamListRateLimit) : z.streamListRateLimit,
      hardLimit: API_STREAM_LIST_LIMIT,
      now: ctx.now,
      ...(fleet ? { gate: fleet.listGate } : {}),
    });
    this.countBudget = new Budget({
      rateLimit: fleet ? fleet.rate('count', z.userNumRateLimit) : z.userNumRateLimit,
      hardLimit: z.isTest ? API_USER_NUM_LIMIT_TEST : API_USER_NUM_LIMIT,
      now: ctx.now,
      ...(fleet ? { gate: fleet.countGate } : {}),
    });
    this.#lists = new ListScheduler({
      budget: this.listBudget,
      now: ctx.now,
      list: (id, signal) => opts.api.describeSimpleStreamList(id, signal),
      sent: (r) => ctx.recordApiCall('DescribeSimpleStreamList', r),
      onResult: (r) => this.#onList(r),
      ...(fleet ? { lock: fleet.roomLock } : {}),
    });
    this.#counts = new CountBatcher({
      budget: this.countBudget,
      now: ctx.now,
      count: (ids, signal) => opts.api.describeUserNum(ids, signal),
      sent: (r) => ctx.recordApiCall('DescribeUserNum', r),
      onResult: (r) => this.#onCount(r),
    });
    this.#discovery = new RoomDiscovery(config.probe.maxRoomStreams);
    this.gauges = [
      {
        name: 'zego_exporter_room_streams_discovered',
        help: 'Streams watched because a watched room listed them (capped by probe.max_room_streams).',
        read: () => this.#discovery.size,
      },
      {
        name: 'zego_exporter_rooms_watched',
        help: 'Rooms whose streams and users the exporter watches.',
        read: () => this.#rooms.size,
      },
    ];
    this.#configure(config);
  }

  async start(): Promise<void> {
    const z = this.#config.zego;
    const rooms = [...this.#rooms.values()];
    if (rooms.length > 0) {
      const plan = roomPlan(
        rooms.map((r) => r.intervalMs),
        z.streamListRateLimit,
        z.userNumRateLimit,
      );
      const limited = plan.list.demandPerSec > plan.list.budgetPerSec || plan.count.demandPerSec > plan.count.budgetPerSec;
      this.#ctx.logger[limited ? 'warn' : 'info'](
        {
          rooms: plan.rooms,
          list_demand_per_sec: plan.list.demandPerSec,
          list_budget_per_sec: plan.list.budgetPerSec,
          list_refresh_sec: plan.list.worstRefreshSec,
          count_demand_per_sec: plan.count.demandPerSec,
          count_budget_per_sec: plan.count.budgetPerSec,
          count_refresh_sec: plan.count.worstRefreshSec,
        },
        roomPlanLines(plan).join('; '),
      );
    }
    this.#lists.start();
    this.#counts.start();
    this.#resetSweep(true);
  }

  applyConfig(config: Config): void {
    const z = config.zego;
    const changed = z.streamListRateLimit !== this.#config.zego.streamListRateLimit || z.userNumRateLimit !== this.#config.zego.userNumRateLimit;
    this.#config = config;
    if (changed) {
      this.#fleet?.setRateLimits(z.streamListRateLimit, z.userNumRateLimit);
      this.#applyRates();
    }
    this.#configure(config);
    this.#resetSweep(this.#sweepTimer !== null);
  }

  async stop(graceMs: number): Promise<void> {
    this.#resetSweep(false);
    this.#lists.stop();
    this.#counts.stop();
    await Promise.all([this.listBudget.stop(graceMs), this.countBudget.stop(graceMs)]);
    await this.#fleet?.close();
  }

  /** Each budget at its configured rate, or its fallback share while the fleet's Redis is away. */
  #applyRates(): void {
    const z = this.#config.zego;
    const f = this.#fleet;
    this.listBudget.setRateLimit(f ? f.rate('list', z.streamListRateLimit) : z.streamListRateLimit);
    this.countBudget.setRateLimit(f ? f.rate('count', z.userNumRateLimit) : z.userNumRateLimit);
  }

  /** Streams found in rooms (not listed), each with its room's labels, probed at the default interval. */
  *watched(): Iterable<WatchedStream> {
    const intervalMs = this.#config.probe.intervalMs;
    for (const [id, roomId] of this.#discovery.entries()) yield { id, intervalMs, labels: this.#rooms.get(roomId)?.streamLabels ?? {}, origin: 'room' };
  }

  metrics(format: Format): string {
    const { store } = this.#ctx;
    return renderRooms(this.#rooms.values(), format) + this.#roomInfo.render(store.snapshot(), store.roomsVersion, format);
  }

  /** Each room API's budget for the `api`-labelled gauges: the refresh is the list's (rooms ÷ budget) and the counts' (rooms ÷ 10 ÷ budget). */
  apiBudgets(): ApiBudgetStatus[] {
    const rooms = [...this.#rooms.values()];
    const plan = roomPlan(
      rooms.map((r) => r.intervalMs),
      this.listBudget.effectiveRate,
      this.countBudget.effectiveRate,
    );
    return [
      {
        api: 'DescribeSimpleStreamList',
        rateLimit: this.listBudget.effectiveRate,
        rateLimitConfigured: this.#config.zego.streamListRateLimit,
        queueLength: this.#lists.queueLength,
        slotsHeld: this.listBudget.slotsHeld,
        achievableCallsPerSec: this.listBudget.achievableRate,
        achievableRefreshSec: plan.list.worstRefreshSec,
        demandPerSec: plan.list.demandPerSec,
      },
      {
        api: 'DescribeUserNum',
        rateLimit: this.countBudget.effectiveRate,
        rateLimitConfigured: this.#config.zego.userNumRateLimit,
        queueLength: this.#counts.queueLength,
        slotsHeld: this.countBudget.slotsHeld,
        achievableCallsPerSec: this.countBudget.achievableRate,
        achievableRefreshSec: plan.count.worstRefreshSec,
        demandPerSec: plan.count.demandPerSec,
      },
    ];
  }

  landing(): string | null {
    if (this.#rooms.size === 0) return null;
    return `Rooms: ${this.#rooms.size} watched; ${this.#discovery.size} streams found in them.`;
  }

  /** The watched rooms as /metrics shows them, the first LANDING_ROWS of them. */
  landingTable(): LandingTable | null {
    if (this.#rooms.size === 0) return null;
    const now = this.#ctx.now();
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
        r.lastSuccessMs === null ? 'never' : `${Math.max(0, Math.round((now - r.lastSuccessMs) / 1000))}s ago`,
        probe === undefined ? 'pending' : probe === 1 ? 'ok' : 'failing',
      ]);
    }
    return { title: 'Rooms', columns: ['Room', 'Labels', 'Streams', 'Users', 'Admins', 'Last success', 'Probe'], rows, total: this.#rooms.size };
  }

  /** Status for the self-metrics and tests: queue lengths and the batching's fill. */
  get stats(): { listQueue: number; countQueue: number; countCalls: number; roomsPerCountCall: number; heldElsewhere: number } {
    const c = this.#counts;
    return {
      listQueue: this.#lists.queueLength,
      countQueue: c.queueLength,
      countCalls: c.calls,
      roomsPerCountCall: c.calls === 0 ? 0 : c.roomsCarried / c.calls,
      heldElsewhere: this.#lists.heldElsewhere,
    };
  }

  #configure(config: Config): void {
    const rooms = config.rooms ?? [];
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
    this.#listed = new Set(config.streams.map((s) => s.id));
    // A stream the config now lists (or whose room is no longer watched) stops being discovered;
    // the Exporter recomputes the watched set right after applyConfig.
    for (const [id, roomId] of [...this.#discovery.entries()]) {
      if (this.#listed.has(id) || !this.#rooms.has(roomId)) this.#discovery.drop(id);
    }
    this.#discovery.setMax(config.probe.maxRoomStreams);
    const scheduled = rooms.map((r) => ({ id: r.id, intervalMs: r.intervalMs }));
    this.#lists.setRooms(scheduled);
    this.#counts.setRooms(scheduled);
  }

  #onList(r: RoomStreamsResult): void {
    const room = this.#rooms.get(r.roomId);
    if (!room) return;
    const { store, logger } = this.#ctx;
    if (r.outcome.kind === 'failed') {
      room.listOk = false;
      if (r.code === 'bad_response') {
        // Bad input changes nothing: the last good list stays, so no stream looks closed.
        if (!room.badListLogged) logger.warn({ room_id: room.id, api: 'DescribeSimpleStreamList', error: r.outcome.message }, 'bad room API answer ignored');
        room.badListLogged = true;
      }
      return;
    }
    const current = new Map<string, number>();
    for (const s of r.outcome.streams) current.set(s.streamId, s.createTimeSec);
    for (const id of current.keys()) {
      if (this.#listed.has(id)) continue;
      const offer = this.#discovery.offer(id, room.id);
      // Each new stream gets its record first, so the list's observation below lands on it; O(1) per stream.
      if (offer === 'added') this.#ctx.watchAdded({ id, intervalMs: this.#config.probe.intervalMs, labels: room.streamLabels, origin: 'room' });
      else if (offer === 'full' && !this.#fullLogged) {
        this.#fullLogged = true;
        logger.warn(
          { room_id: room.id, stream_id: id, max_room_streams: this.#config.probe.maxRoomStreams },
          'probe.max_room_streams reached: not watching more streams found in rooms',
        );
      }
    }
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

  #onCount(r: UserCountResult): void {
    if (r.outcome.kind === 'failed') {
      for (const id of r.roomIds) {
        const room = this.#rooms.get(id);
        if (!room) continue;
        room.countOk = false;
        if (r.code === 'bad_response' && !room.badCountLogged) {
          room.badCountLogged = true;
          this.#ctx.logger.warn({ room_id: id, api: 'DescribeUserNum', error: r.outcome.message }, 'bad room API answer ignored');
        }
      }
      return;
    }
    for (const c of r.outcome.counts) {
      const room = this.#rooms.get(c.roomId);
      if (!room) continue;
      room.users = c.userCount;
      room.adminUsers = c.adminUserCount;
      room.countOk = true;
    }
  }

  /** Room-discovered streams closed for forget_after are forgotten (the callbacks' rule). */
  #resetSweep(on: boolean): void {
    if (this.#sweepTimer) clearInterval(this.#sweepTimer);
    this.#sweepTimer = null;
    if (!on) return;
    const every = Math.min(60_000, Math.max(1000, this.#forgetAfterMs() / 10));
    this.#sweepTimer = setInterval(() => this.sweep(), every);
    this.#sweepTimer.unref();
  }

  #forgetAfterMs(): number {
    return this.#config.callbacks?.discover?.forgetAfterMs ?? DEFAULT_FORGET_AFTER_MS;
  }

  /** Exposed for tests (a fake clock): forgets what has been closed long enough. */
  sweep(): void {
    const { store, logger } = this.#ctx;
    const gone = this.#discovery.sweep(this.#ctx.now(), this.#forgetAfterMs(), (id) => {
      const s = store.get(id);
      return s && s.active === false ? (s.changedAtMs ?? null) : null;
    });
    if (gone.length === 0) return;
    for (const id of gone) {
      logger.info({ stream_id: id }, 'forgetting a closed stream found in a room');
      this.#ctx.watchRemoved(id);
    }
    this.#fullLogged = false;
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

/** Always built (callbacks' room_id feeds zego_stream_room_info even without rooms); idle while no room is configured. */
export function roomsPart(config: Config, ctx: PartContext): Part {
  // Fleet mode for the room APIs is set up at start, when rooms are configured (adding it later takes a restart).
  const fleet = (config.rooms?.length ?? 0) > 0 ? ctx.fleet : undefined;
  return new RoomsPart(config, ctx, {
    api: ctx.roomApi,
    ...(fleet ? { fleet: (onModeChange: () => void) => roomsFleet(config, fleet, onModeChange) } : {}),
  });
}
