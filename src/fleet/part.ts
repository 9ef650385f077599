import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import type { Config, FleetConfig } from '../config/types.js';
import type { Part, PartContext, PartGauge } from '../parts/part.js';
import { FleetGate } from './gate.js';
import { FleetLimiter } from './limiter.js';
import { ResultShare } from './share.js';

/** Redis slower than this counts as down: a probe must not wait on the coordinator. */
const REDIS_COMMAND_TIMEOUT_MS = 150;

/**
 * Fleet mode: many exporters on one AppID share its budget (and optionally their results) through
 * Redis. The connection, its keys and the AppID they count under are fixed at start; rate_limit
 * and fallback_rate_limit follow reloads.
 */
export class FleetPart implements Part {
  readonly name = 'fleet';
  readonly gate: FleetGate;
  readonly share: ResultShare | undefined;
  readonly gauges: readonly PartGauge[];
  readonly #redis: Redis;
  #fleet: FleetConfig;
  #rateLimit: number;
  #connected = false;

  constructor(config: Config, fleet: FleetConfig, ctx: PartContext) {
    const { zego } = config;
    this.#fleet = fleet;
    this.#rateLimit = zego.rateLimit;
    this.#redis = newRedis(fleet.redisUrl.reveal());
    // ioredis reports every failed reconnect; the gate logs the switch once instead.
    this.#redis.on('error', () => undefined);
    // Redis may have come back empty before any command failed: the next grant checks for lost keys.
    this.#redis.on('close', () => this.gate.connectionLost());
    const owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
    const limiter = new FleetLimiter({ redis: this.#redis, keyPrefix: fleet.keyPrefix, appId: zego.appId, memberPrefix: owner, logger: ctx.logger });
    this.gate = new FleetGate({
      limiter,
      // A write, not a PING: a Redis that refuses writes (maxmemory) answers PING but grants nothing.
      ping: () => limiter.probe(),
      rateLimit: zego.rateLimit,
      fallbackRateLimit: Math.min(fleet.fallbackRateLimit, zego.rateLimit),
      callTimeoutMs: zego.timeoutMs,
      logger: ctx.logger,
      ...(ctx.lastSequence ? { lastSequence: ctx.lastSequence } : {}),
      onModeChange: (connected) => {
        this.#connected = connected;
        ctx.rateChanged();
      },
    });
    this.share = fleet.shareResults
      ? new ResultShare({ redis: this.#redis, keyPrefix: fleet.keyPrefix, appId: zego.appId, owner, callTimeoutMs: zego.timeoutMs, logger: ctx.logger })
      : undefined;
    this.gauges = [
      {
        name: 'zego_exporter_fleet_connected',
        help: 'Fleet mode: 1 while the AppID budget is shared through Redis, 0 while this process runs on fallback_rate_limit.',
        read: () => (this.#connected ? 1 : 0),
      },
    ];
  }

  /** The gate connects by itself from construction on (the Budget holds it from the first send). */
  async start(): Promise<void> {}

  applyConfig(config: Config): void {
    // Turning fleet mode off takes a restart: until then the last fleet settings stay.
    if (config.fleet) this.#fleet = config.fleet;
    if (config.zego.rateLimit !== this.#rateLimit) {
      this.#rateLimit = config.zego.rateLimit;
      this.gate.setRateLimit(config.zego.rateLimit);
    }
  }

  /** After the budget stopped, so calls still in flight could release their leases. */
  async stop(): Promise<void> {
    this.gate.close();
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }

  /**
   * The whole rate_limit while Redis keeps the fleet under it, the fallback alone otherwise.
   * Raising it back releases no backlog at once: the budget still paces 1/rate.
   */
  rateLimit(rate: number): number {
    return this.#connected ? rate : Math.min(this.#fleet.fallbackRateLimit, rate);
  }

  landing(): string {
    return this.#connected
      ? `Fleet: sharing the AppID budget through Redis (key prefix ${this.#fleet.keyPrefix}).`
      : `Fleet: Redis unreachable, on fallback_rate_limit ${this.#fleet.fallbackRateLimit}/s.`;
  }
}

export function fleetPart(config: Config, ctx: PartContext): Part | null {
  return config.fleet ? new FleetPart(config, config.fleet, ctx) : null;
}

export function newRedis(url: string): Redis {
  return new Redis(url, {
    // Fail at once while disconnected rather than queue: the gate falls back instead of waiting.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    connectTimeout: 1000,
    retryStrategy: (times) => Math.min(times * 100, 1000),
  });
}
