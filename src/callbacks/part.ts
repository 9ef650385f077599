import type { IncomingMessage, ServerResponse } from 'node:http';
import { bareStreamId, parseHostPort } from '../zego/protocol.js';
import { DEFAULT_STREAMS_SEVERITY } from '../config/sections/streams.js';
import type { Config } from '../config/types.js';
import type { RunningServer } from '../http/server.js';
import type { Part, PartContext, PartGauge } from '../parts/part.js';
import type { CallbackApply, WatchedStream } from '../state/store.js';
import { Discovery } from './discovery.js';
import type { StreamEvent } from './parse.js';
import { CallbackReceiver, callbackRoute, startCallbackListener } from './receiver.js';
import { CallbackVerifier, DEFAULT_WINDOW_MS } from './verify.js';
import { FleetCallbacks } from './fleet.js';

/**
 * ZEGO's stream_create / stream_close callbacks: receiver, verifier, discovery of unlisted streams
 * and the sweep that forgets them, and the listener of their own. Built even while callbacks are
 * off, because a reload may turn them on (on the main listener: an own listener needs a restart).
 */
export class CallbacksPart implements Part {
  readonly name = 'callbacks';
  readonly gauges: readonly PartGauge[];
  readonly #ctx: PartContext;
  /** Which listener serves callbacks is fixed at start, so a reload cannot point them at one that does not exist. */
  readonly #ownListener: boolean;
  #config: Config;
  #listener: RunningServer | null = null;
  #receiver: CallbackReceiver | null = null;
  #verifier: CallbackVerifier | null = null;
  #discovery: Discovery | null = null;
  #sweepTimer: NodeJS.Timeout | null = null;
  #running = false;
  /** Fleet mode (fleet and callbacks both on at start): nonces and fan-out through Redis. */
  #fleet: FleetCallbacks | null = null;

  constructor(config: Config, ctx: PartContext) {
    this.#ctx = ctx;
    this.#config = config;
    this.#ownListener = config.callbacks?.listenAddress !== undefined;
    this.gauges = [
      {
        name: 'zego_exporter_streams_discovered',
        help: 'Streams watched because a stream_create callback matched a discovery pattern.',
        read: () => this.#discovery?.size ?? 0,
      },
    ];
    if (config.fleet && config.callbacks) {
      this.#fleet = new FleetCallbacks({
        fleet: config.fleet,
        appId: config.zego.appId,
        windowMs: DEFAULT_WINDOW_MS,
        // Callbacks turned off by a reload: what others receive is not applied here either.
        apply: (e, at) => void (this.#config.callbacks ? this.#apply(e, at) : undefined),
        logger: ctx.logger,
        now: ctx.now,
      });
      const fleet = this.#fleet;
      this.gauges = [
        ...this.gauges,
        {
          name: 'zego_exporter_callbacks_fanout_connected',
          help: 'Fleet mode: 1 while callbacks received by any replica reach this one through Redis, 0 while it applies only its own.',
          read: () => (fleet.connected ? 1 : 0),
        },
      ];
    }
    this.#configure(config);
  }

  async start(): Promise<void> {
    const address = this.#config.callbacks?.listenAddress;
    if (address !== undefined) {
      // Exposed to ZEGO from outside, without /metrics next to it.
      const a = parseHostPort(address);
      try {
        if (!a.ok) throw new Error(a.message);
        // Basic auth covers the rest of this listener; the callback path is authenticated by its signature (ZEGO sends no credentials).
        this.#listener = await startCallbackListener(a.host, a.port, this.#route(true), {
          web: this.#ctx.web,
          authExempt: (path) => path === this.#config.callbacks?.path,
        });
      } catch (err) {
        this.#ctx.logger.error({ err, address }, 'cannot listen for callbacks');
        throw err;
      }
      this.#ctx.logger.info({ address: this.#listener.url }, 'callbacks listening');
    }
    this.#running = true;
    this.#fleet?.start();
    this.#resetSweep();
  }

  applyConfig(config: Config): void {
    this.#config = config;
    this.#configure(config);
    if (this.#discovery) {
      // A stream the config now lists stops being "discovered" (and so can never be forgotten).
      for (const s of config.streams) this.#discovery.drop(s.id);
    }
    this.#resetSweep();
  }

  async stop(graceMs: number): Promise<void> {
    this.#running = false;
    this.#resetSweep();
    await this.#listener?.close(graceMs);
    this.#listener = null;
    await this.#fleet?.stop();
  }

  /** The main listener's share: reads the current config per request, so a reload that turns callbacks on or off or moves the path takes effect at once. */
  readonly route: (req: IncomingMessage, res: ServerResponse) => boolean = this.#route(false);

  *watched(): Iterable<WatchedStream> {
    if (!this.#discovery) return;
    for (const id of this.#discovery.ids()) yield this.#watchedStream(id);
  }

  files(): string[] {
    const file = this.#config.callbacks?.secretFile;
    return file === undefined ? [] : [file];
  }

  landing(): string | null {
    const cb = this.#config.callbacks;
    if (!cb) return null;
    const where = this.#listener ? `their own listener ${this.#listener.url}` : this.#ownListener ? 'their own listener' : 'this listener';
    const d = this.#discovery;
    return `Callbacks: ${cb.path} on ${where}${d ? `; ${d.size} streams discovered` : ''}.`;
  }

  #route(onOwnListener: boolean): (req: IncomingMessage, res: ServerResponse) => boolean {
    return callbackRoute(
      () => {
        const cb = this.#config.callbacks;
        return cb && this.#ownListener === onOwnListener ? cb.path : null;
      },
      () => this.#receiver,
    );
  }

  #configure(config: Config): void {
    const cb = config.callbacks;
    if (!cb) {
      this.#receiver = null;
      this.#verifier = null;
      this.#discovery = null;
      return;
    }
    // The verifier outlives reloads so remembered nonces stay remembered.
    if (this.#verifier) this.#verifier.setSecret(cb.secret);
    else this.#verifier = new CallbackVerifier({ secret: cb.secret, now: this.#ctx.now });
    this.#receiver ??= new CallbackReceiver({
      verifier: this.#verifier,
      appId: () => this.#config.zego.appId,
      apply: (e, at) => this.#apply(e, at),
      record: (event, result) => this.#ctx.recordCallback(event, result),
      logger: this.#ctx.logger,
      now: this.#ctx.now,
      fleet: () => this.#fleet,
    });
    if (!cb.discover) this.#discovery = null;
    else if (this.#discovery) this.#discovery.setConfig(cb.discover);
    else this.#discovery = new Discovery(cb.discover);
  }

  #resetSweep(): void {
    if (this.#sweepTimer) clearInterval(this.#sweepTimer);
    this.#sweepTimer = null;
    if (!this.#running || !this.#discovery) return;
    const every = Math.min(60_000, Math.max(1000, this.#discovery.forgetAfterMs / 10));
    this.#sweepTimer = setInterval(() => this.#sweep(), every);
    this.#sweepTimer.unref();
  }

  #apply(e: StreamEvent, receivedAtMs: number): CallbackApply {
    const z = this.#config.zego;
    const { store } = this.#ctx;
    // Test-environment callbacks carry the id as the API knows it; the config lists bare ids.
    const id = bareStreamId(e.streamId, z.appId, z.isTest);
    if (store.get(id) === undefined && e.event === 'stream_create' && this.#discovery?.offer(id) === 'added') {
      this.#ctx.logger.info({ stream_id: id, discovered: this.#discovery.size }, 'watching a discovered stream');
      this.#ctx.watchAdded(this.#watchedStream(id));
    }
    return store.applyCallback(id, e, receivedAtMs);
  }

  #sweep(): void {
    if (!this.#discovery) return;
    const { store } = this.#ctx;
    const gone = this.#discovery.sweep(this.#ctx.now(), (id) => {
      const s = store.get(id);
      return s && s.active === false ? (s.changedAtMs ?? null) : null;
    });
    if (gone.length === 0) return;
    for (const id of gone) {
      this.#ctx.logger.info({ stream_id: id }, 'forgetting a closed discovered stream');
      this.#ctx.watchRemoved(id);
    }
  }

  #watchedStream(id: string): WatchedStream {
    const severity = this.#config.callbacks?.discover?.streamsSeverity ?? DEFAULT_STREAMS_SEVERITY;
    return { id, intervalMs: this.#config.probe.intervalMs, labels: severityLabels(severity), origin: 'callback' };
  }
}

const SEVERITY_LABELS = new Map<string, Readonly<Record<string, string>>>();

/**
 * A discovered stream's only label is its severity (streams_severity, `none` unless set, so one
 * that ends raises no stream alert); one shared object per value, so the store sees the labels
 * unchanged across reloads.
 */
function severityLabels(severity: string): Readonly<Record<string, string>> {
  let labels = SEVERITY_LABELS.get(severity);
  if (!labels) {
    labels = Object.freeze({ severity });
    SEVERITY_LABELS.set(severity, labels);
  }
  return labels;
}

export function callbacksPart(config: Config, ctx: PartContext): Part {
  return new CallbacksPart(config, ctx);
}
