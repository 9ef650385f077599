import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import type { FleetConfig } from '../config/types.js';
import { CallbackFanout, type FanoutRejectReason } from './fanout.js';
import { FleetNonces, type FleetClaim } from './fleet-nonces.js';
import type { StreamEvent } from '../zego/stream-event.js';
import type { FleetHook } from './receiver.js';
import type { SignedFields } from './verify.js';

/** A callback must not wait on Redis longer than this for its nonce verdict: then the local memory decides. */
const CLAIM_TIMEOUT_MS = 150;
/** A fan-out poll not answered within this means Redis is not there (paused, overloaded): the gauge drops to 0. */
const POLL_TIMEOUT_MS = 1000;

export interface FleetCallbacksOptions {
  fleet: FleetConfig;
  appId: number;
  windowMs: number;
  apply: (e: StreamEvent, receivedAtMs: number) => void;
  /** The fan-out keys of the running config (fanout-mac.ts). */
  keys: () => readonly Buffer[];
  acceptUnsigned: () => boolean;
  logger: Logger;
  now?: () => number;
}

/**
 * The callbacks part in fleet mode: the replay check and the fan-out on connections of their own
 * (the fleet part's connection serves the budget with a shorter command timeout than a poll's). Fixed at start, like the fleet part's connection.
 */
export class FleetCallbacks implements FleetHook {
  readonly #writer: Redis;
  readonly #reader: Redis;
  readonly #nonces: FleetNonces;
  readonly #fanout: CallbackFanout;

  constructor(o: FleetCallbacksOptions) {
    const url = o.fleet.redisUrl.reveal();
    this.#writer = new Redis(url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: CLAIM_TIMEOUT_MS,
      connectTimeout: 1000,
      retryStrategy: (times) => Math.min(times * 100, 1000),
    });
    this.#reader = new Redis(url, {
      // Offline, a poll fails at once and the fan-out retries; a Redis that does not answer times out.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: POLL_TIMEOUT_MS,
      connectTimeout: 1000,
      retryStrategy: (times) => Math.min(times * 100, 1000),
    });
    // ioredis reports every failed reconnect; the fan-out logs the switch once instead.
    this.#writer.on('error', () => undefined);
    this.#reader.on('error', () => undefined);
    this.#nonces = new FleetNonces({ redis: this.#writer, keyPrefix: o.fleet.keyPrefix, appId: o.appId, windowMs: o.windowMs });
    this.#fanout = new CallbackFanout({
      writer: this.#writer,
      reader: this.#reader,
      keyPrefix: o.fleet.keyPrefix,
      appId: o.appId,
      windowMs: o.windowMs,
      origin: `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`,
      apply: o.apply,
      keys: o.keys,
      acceptUnsigned: o.acceptUnsigned,
      logger: o.logger,
      ...(o.now ? { now: o.now } : {}),
    });
  }

  get connected(): boolean {
    return this.#fanout.connected;
  }

  get rejected(): ReadonlyMap<FanoutRejectReason, number> {
    return this.#fanout.rejected;
  }

  get unsignedApplied(): number {
    return this.#fanout.unsignedApplied;
  }

  start(): void {
    this.#fanout.start();
  }

  async stop(): Promise<void> {
    await this.#fanout.stop();
    await this.#writer.quit().catch(() => this.#writer.disconnect());
  }

  claim(f: SignedFields): Promise<FleetClaim | null> {
    return this.#nonces.claim(f);
  }

  publish(e: StreamEvent, receivedAtMs: number): void {
    this.#fanout.publish(e, receivedAtMs);
  }
}
