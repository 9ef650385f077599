import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { ZegoConfig } from '../config/types.js';
import { ZegoClient } from './client.js';
import type { ActionRow, CallResult } from '../api/actions.js';
import { SequenceCounter } from './sequence.js';

/**
 * The API client of the running config. A reload that changes what the client was built from
 * swaps it; calls already sent finish on the old one.
 */
export class CurrentClient {
  readonly #sequence: SequenceCounter;
  readonly #now: () => number;
  readonly #dispatcher: Dispatcher | undefined;
  readonly #log: Logger;
  #zego: ZegoConfig;
  #client: ZegoClient;

  constructor(zego: ZegoConfig, opts: { now: () => number; logger: Logger; dispatcher?: Dispatcher | undefined }) {
    this.#now = opts.now;
    this.#sequence = new SequenceCounter(opts.now);
    this.#dispatcher = opts.dispatcher;
    this.#log = opts.logger;
    this.#zego = zego;
    this.#client = this.#newClient(zego, 0);
  }

  get clockOffsetMs(): number {
    return this.#client.clockOffsetMs;
  }

  /** One call of `row`'s Action (see ZegoClient.call); `sequence`: the fleet's Sequence for this call, when the fleet gave one. */
  call<I, R extends CallResult>(row: ActionRow<I, R>, input: I, signal?: AbortSignal, sequence?: number): Promise<R> {
    return this.#client.call(row, input, signal, sequence);
  }

  /** The last Sequence this process sent: the fleet's next one is above it. */
  get lastSequence(): number {
    return this.#sequence.last;
  }

  applyConfig(z: ZegoConfig): void {
    const old = this.#zego;
    this.#zego = z;
    const changed =
      old.appId !== z.appId ||
      old.endpoint !== z.endpoint ||
      old.isTest !== z.isTest ||
      old.timeoutMs !== z.timeoutMs ||
      !old.serverSecret.equals(z.serverSecret);
    if (!changed) return;
    const previous = this.#client;
    // Same server, same clock: a rotated secret must not cost a round of timestamp errors.
    this.#client = this.#newClient(z, old.endpoint === z.endpoint ? previous.clockOffsetMs : 0);
    // Closing waits for the calls still in flight on it.
    previous.close().catch((err: unknown) => this.#log.warn({ err }, 'closing the previous API client failed'));
  }

  close(): Promise<void> {
    return this.#client.close();
  }

  #newClient(z: ZegoConfig, clockOffsetMs: number): ZegoClient {
    return new ZegoClient({
      appId: z.appId,
      secret: z.serverSecret,
      endpoint: z.endpoint,
      isTest: z.isTest,
      timeoutMs: z.timeoutMs,
      // One counter for every client of the process, so Sequence never repeats across reloads.
      sequence: this.#sequence,
      clockOffsetMs,
      logger: this.#log,
      now: this.#now,
      ...(this.#dispatcher ? { dispatcher: this.#dispatcher } : {}),
    });
  }
}
