import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { Config, FleetConfig } from '../config/types.js';
import { FleetGate } from '../fleet/gate.js';
import { FleetLimiter } from '../fleet/limiter.js';
import { newRedis } from '../fleet/part.js';
import { FleetRoomLock } from '../fleet/room-lock.js';
import type { ApiAction } from '../zego/protocol.js';
import { ROOM_HOLD_MS, type RoomLock } from './list-scheduler.js';

/** A room taken before its budget slot waits a little in the queue: the hold's lease covers that too. */
const QUEUE_MARGIN_MS = 5000;

/**
 * Fleet mode for the room APIs: each API's budget shared through Redis under its own key
 * (fleet/limiter.ts's per-Action keys), and the per-room rule through fleet/room-lock.ts. A
 * connection of its own, so the stream prober's gate is untouched. While Redis is away each
 * budget runs on its share of fallback_rate_limit (the same fraction of the API's budget as
 * fallback_rate_limit is of rate_limit), and rooms are held by this process's own rule alone.
 */
export class RoomsFleet {
  readonly listGate: FleetGate;
  readonly countGate: FleetGate;
  readonly roomLock: RoomLock;
  readonly #redis: Redis;
  #connected = { list: false, count: false };
  /** Redis was found away (the list gate switched to its fallback), as opposed to not reached yet. */
  #listFallback = false;

  constructor(config: Config, fleet: FleetConfig, logger: Logger, onModeChange: () => void) {
    const { zego } = config;
    this.#redis = newRedis(fleet.redisUrl.reveal());
    this.#redis.on('error', () => undefined);
    const owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}:rooms`;
    const share = Math.min(1, fleet.fallbackRateLimit / zego.rateLimit);
    const gate = (api: ApiAction, rate: number, which: 'list' | 'count'): FleetGate => {
      const limiter = new FleetLimiter({ redis: this.#redis, keyPrefix: fleet.keyPrefix, appId: zego.appId, api, memberPrefix: `${owner}:${which}`, logger });
      const g = new FleetGate({
        limiter,
        // A write, not a PING: a Redis that refuses writes (maxmemory) answers PING but grants nothing.
        ping: () => limiter.probe(),
        rateLimit: rate,
        fallbackRateLimit: Math.max(0.5, rate * share),
        callTimeoutMs: zego.timeoutMs,
        logger,
        onModeChange: (connected) => {
          this.#connected[which] = connected;
          if (which === 'list') this.#listFallback = !connected;
          onModeChange();
        },
      });
      this.#redis.on('close', () => g.connectionLost());
      return g;
    };
    this.listGate = gate('DescribeSimpleStreamList', zego.streamListRateLimit, 'list');
    this.countGate = gate('DescribeUserNum', zego.userNumRateLimit, 'count');
    const lock = new FleetRoomLock({ redis: this.#redis, keyPrefix: fleet.keyPrefix, appId: zego.appId, memberPrefix: owner, logger });
    const leaseMs = zego.timeoutMs + ROOM_HOLD_MS + QUEUE_MARGIN_MS;
    this.roomLock = {
      // Redis found away: the call goes ahead on this process's own rule (like the gates' fallback).
      // Not reached yet (start-up): the room waits its interval, since another process may hold it.
      hold: async (roomId) => (await lock.acquire(roomId, leaseMs).catch(() => ({ granted: this.#listFallback }) as const)).granted,
      release: (roomId, holdMs) => void lock.release(roomId, holdMs).catch(() => undefined),
    };
    this.fallbackShare = share;
  }

  readonly fallbackShare: number;

  /** The rate each budget may spend now: its own while Redis shares it, its fallback share otherwise. */
  rate(which: 'list' | 'count', rate: number): number {
    return this.#connected[which] ? rate : Math.max(0.5, rate * this.fallbackShare);
  }

  setRateLimits(list: number, count: number): void {
    this.listGate.setRateLimit(list);
    this.countGate.setRateLimit(count);
  }

  async close(): Promise<void> {
    this.listGate.close();
    this.countGate.close();
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }
}
