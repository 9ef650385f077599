import type { Logger } from 'pino';
import type { FleetChannel } from '../fleet/fleet.js';
import { CallbackFanout, type FanoutRejectReason } from './fanout.js';
import { FleetNonces, type FleetClaim } from './fleet-nonces.js';
import type { StreamEvent } from '../zego/stream-event.js';
import type { MixEvent } from './parse-mix.js';
import type { FleetHook } from './receiver.js';
import type { SignedFields } from './verify.js';

export interface FleetCallbacksOptions {
  /** The process's fleet connections (fleet/fleet.ts): nonces and fan-out writes on the command one, reads on the other. */
  channel: FleetChannel;
  windowMs: number;
  apply: (e: StreamEvent, receivedAtMs: number) => void;
  /** A mix_start / mix_stop another replica received. */
  applyMix?: (e: MixEvent, atMs: number, receivedAtMs: number) => void;
  /** The fan-out keys of the running config (fanout-mac.ts). */
  keys: () => readonly Buffer[];
  acceptUnsigned: () => boolean;
  logger: Logger;
  now?: () => number;
}

/**
 * The callbacks part in fleet mode: the replay check and the fan-out, over the process's one pair
 * of fleet connections (no client of their own). Fixed at start, like the fleet's connection.
 */
export class FleetCallbacks implements FleetHook {
  readonly #nonces: FleetNonces;
  readonly #fanout: CallbackFanout;

  constructor(o: FleetCallbacksOptions) {
    const { channel } = o;
    this.#nonces = new FleetNonces({ redis: channel.command, keyPrefix: channel.keyPrefix, appId: channel.appId, windowMs: o.windowMs });
    this.#fanout = new CallbackFanout({
      channel,
      windowMs: o.windowMs,
      apply: o.apply,
      ...(o.applyMix ? { applyMix: o.applyMix } : {}),
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

  /** The connections stay: the Exporter closes them after every part stopped. */
  async stop(): Promise<void> {
    await this.#fanout.stop();
  }

  claim(f: SignedFields): Promise<FleetClaim | null> {
    return this.#nonces.claim(f);
  }

  publish(e: StreamEvent, receivedAtMs: number): void {
    this.#fanout.publish(e, receivedAtMs);
  }

  publishMix(e: MixEvent, atMs: number, receivedAtMs: number): void {
    this.#fanout.publishMix(e, atMs, receivedAtMs);
  }
}
