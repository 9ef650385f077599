import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { FleetConfig } from '../config/types.js';
import { FleetGate } from './gate.js';
import { FleetLimiter } from './limiter.js';
import { ResultShare } from './share.js';

export { FleetGate } from './gate.js';
export { FleetLimiter } from './limiter.js';
export { ResultShare, decodeResult } from './share.js';

/** Redis slower than this counts as down: a probe must not wait on the coordinator. */
export const REDIS_COMMAND_TIMEOUT_MS = 150;

export interface FleetOptions {
  fleet: FleetConfig;
  appId: number;
  rateLimit: number;
  callTimeoutMs: number;
  logger: Logger;
  onModeChange: (connected: boolean) => void;
}

export interface Fleet {
  gate: FleetGate;
  share: ResultShare | undefined;
  close(): Promise<void>;
}

/** Connects to Redis and builds the gate (and the result share when asked for). */
export function startFleet(opts: FleetOptions): Fleet {
  const redis = newRedis(opts.fleet.redisUrl.reveal());
  // ioredis reports every failed reconnect; the gate logs the switch once instead.
  redis.on('error', () => undefined);
  const owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const limiter = new FleetLimiter({ redis, keyPrefix: opts.fleet.keyPrefix, appId: opts.appId, memberPrefix: owner, logger: opts.logger });
  const gate = new FleetGate({
    limiter,
    ping: () => redis.ping(),
    rateLimit: opts.rateLimit,
    fallbackRateLimit: Math.min(opts.fleet.fallbackRateLimit, opts.rateLimit),
    callTimeoutMs: opts.callTimeoutMs,
    logger: opts.logger,
    onModeChange: opts.onModeChange,
  });
  const share = opts.fleet.shareResults
    ? new ResultShare({ redis, keyPrefix: opts.fleet.keyPrefix, appId: opts.appId, owner, callTimeoutMs: opts.callTimeoutMs, logger: opts.logger })
    : undefined;
  return {
    gate,
    share,
    close: async () => {
      gate.close();
      await redis.quit().catch(() => redis.disconnect());
    },
  };
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
