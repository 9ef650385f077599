import type { ExtraGauge } from '../metrics/self.js';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { FleetConfig, ZegoConfig } from '../config/types.js';
import type { Gate } from '../scheduler/budget.js';
import { FleetGate } from './gate.js';
import { budgetKeyBase, FleetLimiter } from './limiter.js';
import { FleetRedis } from './redis.js';
import { FleetRoomLock } from './room-lock.js';
import { ResultShare } from './share.js';

/** No budget runs below half a call a second while Redis is away, unless fallback_rate_limit itself is lower. */
const MIN_FALLBACK_RATE = 0.5;

/**
 * The fallback rule, for every API: while Redis is away a budget of `rate` runs at the same
 * fraction of it as fallback_rate_limit is of rate_limit (DescribeRTCStreamState's budget: exactly
 * fallback_rate_limit), so every API stays under its AppID limit for as many replicas as
 * fallback_rate_limit × replicas ≤ rate_limit allows. Never above `rate`.
 */
export function fallbackRate(rate: number, fallbackRateLimit: number, rateLimit: number): number {
  const share = Math.min(1, fallbackRateLimit / rateLimit);
  return Math.min(rate, Math.max(Math.min(MIN_FALLBACK_RATE, fallbackRateLimit), rate * share));
}

/** A gate that can follow a reload of its API's rate limit and be closed with its user. */
export interface FleetApiGate extends Gate {
  setRateLimit(rate: number): void;
  close(): void;
}

/** A room held fleet-wide (fleet/room-lock.ts), in the shape rooms/list-scheduler.ts asks for. */
export interface FleetRoomHold {
  /** True when this process may send the room's list call now. */
  hold(roomId: string): Promise<boolean>;
  /** The call's response has ended: the room stays held `holdMs` more. */
  release(roomId: string, holdMs: number): void;
}

/**
 * The shared connections for a user that speaks its own protocol over them (the callback fan-out
 * and nonces): it reports failed commands to `failed` and reads `connected`, so the process keeps
 * one state machine and one log line per transition.
 */
export interface FleetChannel {
  /** Short commands (150 ms): writes, claims. */
  readonly command: Redis;
  /** Reads that may take up to 1 s; nobody else uses this connection. */
  readonly read: Redis;
  readonly keyPrefix: string;
  readonly appId: number;
  /** Unique per process: `host:pid:random`. */
  readonly owner: string;
  connected(): boolean;
  failed(err: unknown): void;
}

export interface FleetOptions {
  fleet: FleetConfig;
  zego: Pick<ZegoConfig, 'appId' | 'rateLimit' | 'timeoutMs'>;
  logger: Logger;
  /** The last Sequence this process sent (0 before the first): every fleet Sequence is above it. */
  lastSequence?: () => number;
  now?: () => number;
}

/**
 * Fleet mode as one module: many exporters on one AppID share every API's budget, the per-room
 * rule, the Sequence, probe results and callbacks through one Redis, over one command and one
 * read connection per process with one connected/fallback state machine (redis.ts). The
 * connection, its keys and the AppID are fixed at start; rate_limit and fallback_rate_limit
 * follow reloads (`applyConfig`).
 */
export class Fleet {
  /** Probe results shared between replicas (share_results), or undefined. */
  readonly share: ResultShare | undefined;
  readonly #redis: FleetRedis;
  readonly #o: FleetOptions;
  readonly #owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  readonly #gates: FleetGate[] = [];
  #fleet: FleetConfig;
  #rateLimit: number;

  constructor(o: FleetOptions) {
    this.#o = o;
    this.#fleet = o.fleet;
    this.#rateLimit = o.zego.rateLimit;
    this.#redis = new FleetRedis({
      url: o.fleet.redisUrl.reveal(),
      owner: this.#owner,
      probeKey: `${budgetKeyBase(o.fleet.keyPrefix, o.zego.appId, 'DescribeRTCStreamState')}:leases:probe`,
      logger: o.logger,
      ...(o.now ? { now: o.now } : {}),
    });
    this.share = o.fleet.shareResults
      ? new ResultShare({
          redis: this.#redis.command,
          keyPrefix: o.fleet.keyPrefix,
          appId: o.zego.appId,
          owner: this.#owner,
          callTimeoutMs: o.zego.timeoutMs,
          logger: o.logger,
        })
      : undefined;
  }

  get connected(): boolean {
    return this.#redis.link.connected;
  }

  get fallbackRateLimit(): number {
    return this.#fleet.fallbackRateLimit;
  }

  get keyPrefix(): string {
    return this.#fleet.keyPrefix;
  }

  /** Told on every switch between the fleet and the fallback (once per transition, whoever noticed it). */
  onChange(listener: (connected: boolean) => void): void {
    this.#redis.link.onChange(listener);
  }

  /** A reload: fallback_rate_limit and rate_limit follow it; the connection and keys stay. */
  applyConfig(fleet: FleetConfig | undefined, rateLimit: number): void {
    // Turning fleet mode off takes a restart: until then the last fleet settings stay.
    if (fleet) this.#fleet = fleet;
    this.#rateLimit = rateLimit;
  }

  /** The fallback rule (fallbackRate below) for a budget of `rate`, on the running config. */
  fallbackRate(rate: number): number {
    return fallbackRate(rate, this.#fleet.fallbackRateLimit, this.#rateLimit);
  }

  /** The rate a budget of `rate` may spend now: all of it while the fleet shares it, its fallback share otherwise. */
  rate(rate: number): number {
    return this.connected ? rate : this.fallbackRate(rate);
  }

  /**
   * The gate for one API's budget, shared fleet-wide under its own key. `fallbackRateLimit`
   * defaults to the fallback rule for `rateLimit`.
   */
  gate(api: string, rateLimit: number, fallbackRateLimit = this.fallbackRate(rateLimit)): FleetApiGate {
    const limiter = new FleetLimiter({
      redis: this.#redis.command,
      keyPrefix: this.#fleet.keyPrefix,
      appId: this.#o.zego.appId,
      api,
      memberPrefix: `${this.#owner}:${api}:${this.#gates.length}`,
      logger: this.#o.logger,
    });
    const g = new FleetGate({
      limiter,
      link: this.#redis.link,
      rateLimit,
      fallbackRateLimit,
      callTimeoutMs: this.#o.zego.timeoutMs,
      ...(this.#o.lastSequence ? { lastSequence: this.#o.lastSequence } : {}),
      ...(this.#o.now ? { now: this.#o.now } : {}),
    });
    this.#gates.push(g);
    return g;
  }

  /**
   * The per-room rule fleet-wide: `leaseMs` must outlive a call plus its hold. While Redis is found
   * away the room goes ahead on this process's own rule; while the first connection is still being
   * made it waits its interval, since another process may hold it.
   */
  roomHold(leaseMs: number): FleetRoomHold {
    const link = this.#redis.link;
    const lock = new FleetRoomLock({
      redis: this.#redis.command,
      keyPrefix: this.#fleet.keyPrefix,
      appId: this.#o.zego.appId,
      memberPrefix: `${this.#owner}:room`,
      logger: this.#o.logger,
    });
    const away = (): boolean => !link.connected && !link.starting;
    return {
      hold: async (roomId) => {
        if (away()) return true;
        // A failed hold is not reported to the link: the budgets' grants decide the switch, as before one module.
        return (await lock.acquire(roomId, leaseMs).catch(() => ({ granted: away() }))).granted;
      },
      release: (roomId, holdMs) => void lock.release(roomId, holdMs).catch(() => undefined),
    };
  }

  /** The connections for the callback fan-out and nonces (callbacks/fleet.ts). */
  channel(): FleetChannel {
    const link = this.#redis.link;
    return {
      command: this.#redis.command,
      read: this.#redis.read,
      keyPrefix: this.#fleet.keyPrefix,
      appId: this.#o.zego.appId,
      owner: this.#owner,
      connected: () => link.connected,
      failed: (err) => link.failed(err),
    };
  }

  /** The one `zego_exporter_fleet_connected` gauge, for the self-metrics. */
  readonly gauges: readonly ExtraGauge[] = [
    {
      name: 'zego_exporter_fleet_connected',
      help: 'Fleet mode: 1 while the AppID budgets are shared through Redis, 0 while this process runs every API on its share of fallback_rate_limit.',
      read: () => (this.connected ? 1 : 0),
    },
  ];

  /** The landing page's line (never the Redis URL: it may carry a password). */
  landing(): string {
    return this.connected
      ? `Fleet: sharing the AppID budgets through Redis (key prefix ${this.keyPrefix}).`
      : `Fleet: Redis unreachable, on fallback_rate_limit ${this.fallbackRateLimit}/s.`;
  }

  /** After every user stopped (calls still in flight could release their leases). */
  async close(): Promise<void> {
    for (const g of this.#gates) g.close();
    await this.#redis.close();
  }
}
