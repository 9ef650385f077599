import type { ApiCaller } from '../api/service.js';
import type { Config } from '../config/types.js';
import type { Format } from '../metrics/exposition.js';
import { roomPlan, roomPlanLines } from './plan.js';
import type { Part, PartContext, PartGauge, PartLanding } from '../parts/part.js';
import type { RoomStreamsResult, UserCountResult } from '../zego/outcome.js';
import { CountBatcher } from './count-batcher.js';
import { roomHold } from './fleet.js';
import { ListScheduler, type RoomLock } from './list-scheduler.js';
import { mergeCounts, mergeList, relabelRoomStreams } from './merge.js';
import { RoomInfoFamily, renderRooms } from './metrics.js';
import { RoomSet } from './room-set.js';

export interface RoomsPartOptions {
  /** Fleet mode: the per-room rule held fleet-wide (fleet.ts); absent, this process's own rule. */
  lock?: RoomLock;
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
  readonly listApi: ApiCaller<string, RoomStreamsResult>;
  readonly countApi: ApiCaller<readonly string[], UserCountResult>;
  readonly #ctx: PartContext;
  readonly #lists: ListScheduler;
  readonly #counts: CountBatcher;
  readonly #roomInfo = new RoomInfoFamily();
  readonly #rooms = new RoomSet();
  #config: Config;

  constructor(config: Config, ctx: PartContext, opts: RoomsPartOptions = {}) {
    this.#ctx = ctx;
    this.#config = config;
    // Each room API's budget is the API service's (shared fleet-wide in fleet mode, like every Action's).
    this.listApi = ctx.api('DescribeSimpleStreamList');
    this.countApi = ctx.api('DescribeUserNum');
    this.#lists = new ListScheduler({
      api: this.listApi,
      now: ctx.now,
      onResult: (r) => mergeList(this.#rooms, r, ctx),
      ...(opts.lock ? { lock: opts.lock } : {}),
    });
    this.#counts = new CountBatcher({
      api: this.countApi,
      now: ctx.now,
      onResult: (r) => mergeCounts(this.#rooms, r, ctx.logger),
    });
    // The room APIs' budget status: the refresh is the list's (rooms ÷ budget) and the counts' (rooms ÷ 10 ÷ budget).
    const plan = (rate: number): ReturnType<typeof roomPlan> =>
      roomPlan(
        [...this.#rooms.values()].map((r) => r.intervalMs),
        rate,
        rate,
      );
    this.listApi.describe((rate) => {
      const { list } = plan(rate);
      return { queueLength: this.#lists.queueLength, demandPerSec: list.demandPerSec, achievableRefreshSec: list.worstRefreshSec };
    });
    this.countApi.describe((rate) => {
      const { count } = plan(rate);
      return { queueLength: this.#counts.queueLength, demandPerSec: count.demandPerSec, achievableRefreshSec: count.worstRefreshSec };
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

  /** The API service re-paces the room APIs' budgets itself, after every part applied the config. */
  applyConfig(config: Config): void {
    this.#config = config;
    this.#configure(config);
    relabelRoomStreams(this.#rooms, this.#ctx);
  }

  /** After the API service stopped the budgets (the fleet's leases are released with them). */
  async stop(): Promise<void> {
    this.#lists.stop();
    this.#counts.stop();
  }

  metrics(format: Format): string {
    const { store } = this.#ctx;
    return renderRooms(this.#rooms.values(), format) + this.#roomInfo.render(store.snapshot(), store.roomsVersion, format);
  }

  /** A line, and the watched rooms as /metrics shows them (the first LANDING_ROWS of them). */
  landing(): PartLanding | null {
    if (this.#rooms.size === 0) return null;
    const table = this.#rooms.landingTable(this.#ctx.now());
    return { lines: [`Rooms: ${this.#rooms.size} watched; ${this.#ctx.discovered('room').size} streams found in them.`], ...(table ? { table } : {}) };
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
  // The per-room rule fleet-wide is set up at start, when rooms are configured (adding it later takes a restart).
  const fleet = (config.rooms?.length ?? 0) > 0 ? ctx.fleet : undefined;
  return new RoomsPart(config, ctx, fleet ? { lock: roomHold(config, fleet) } : {});
}
