import type { Config } from '../config/types.js';
import { API_STREAM_LIST_LIMIT, API_USER_NUM_LIMIT, API_USER_NUM_LIMIT_TEST } from '../config/types.js';
import type { LandingTable } from '../http/landing.js';
import type { Format } from '../metrics/exposition.js';
import type { ApiBudgetStatus } from '../metrics/self.js';
import { roomPlan, roomPlanLines } from './plan.js';
import type { Part, PartContext, PartGauge, RoomApi } from '../parts/part.js';
import { Budget, type Gate } from '../scheduler/budget.js';
import { CountBatcher } from './count-batcher.js';
import { RoomsFleet } from './fleet.js';
import { ListScheduler, type RoomLock } from './list-scheduler.js';
import { mergeCounts, mergeList, relabelRoomStreams } from './merge.js';
import { RoomInfoFamily, renderRooms } from './metrics.js';
import { RoomSet } from './room-set.js';

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

/**
 * Rooms: each watched room's streams (DescribeSimpleStreamList) and audience (DescribeUserNum),
 * each API on a budget of its own (never the stream prober's). Streams found in a room are
 * discovered (source `room`: capped by probe.max_room_streams, forgotten once closed for
 * probe.room_streams_forget_after); the store merges the lists' observations with probes and
 * callbacks by time (merge.ts). This file is the lifecycle and the wiring.
 */
export class RoomsPart implements Part {
  readonly name = 'rooms';
  readonly gauges: readonly PartGauge[];
  readonly listBudget: Budget;
  readonly countBudget: Budget;
  readonly #ctx: PartContext;
  readonly #lists: ListScheduler;
  readonly #counts: CountBatcher;
  readonly #roomInfo = new RoomInfoFamily();
  readonly #rooms = new RoomSet();
  #config: Config;
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
      onResult: (r) => mergeList(this.#rooms, r, ctx),
      ...(fleet ? { lock: fleet.roomLock } : {}),
    });
    this.#counts = new CountBatcher({
      budget: this.countBudget,
      now: ctx.now,
      count: (ids, signal) => opts.api.describeUserNum(ids, signal),
      sent: (r) => ctx.recordApiCall('DescribeUserNum', r),
      onResult: (r) => mergeCounts(this.#rooms, r, ctx.logger),
    });
    this.gauges = [
      {
        name: 'zego_exporter_room_streams_discovered',
        help: 'Streams watched because a watched room listed them (capped by probe.max_room_streams).',
        read: () => ctx.discovered('room').size,
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
    relabelRoomStreams(this.#rooms, this.#ctx);
  }

  async stop(graceMs: number): Promise<void> {
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
    return `Rooms: ${this.#rooms.size} watched; ${this.#ctx.discovered('room').size} streams found in them.`;
  }

  /** The watched rooms as /metrics shows them, the first LANDING_ROWS of them. */
  landingTable(): LandingTable | null {
    return this.#rooms.landingTable(this.#ctx.now());
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
    this.#rooms.configure(rooms);
    const scheduled = rooms.map((r) => ({ id: r.id, intervalMs: r.intervalMs }));
    this.#lists.setRooms(scheduled);
    this.#counts.setRooms(scheduled);
  }
}

/** Always built (callbacks' room_id feeds zego_stream_room_info even without rooms); idle while no room is configured. */
export function roomsPart(config: Config, ctx: PartContext): Part {
  // Fleet mode for the room APIs is set up at start, when rooms are configured (adding it later takes a restart).
  const fleet = config.fleet && (config.rooms?.length ?? 0) > 0 ? config.fleet : undefined;
  return new RoomsPart(config, ctx, {
    api: ctx.roomApi,
    ...(fleet ? { fleet: (onModeChange: () => void) => new RoomsFleet(config, fleet, ctx.logger, onModeChange) } : {}),
  });
}
