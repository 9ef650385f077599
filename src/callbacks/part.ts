import type { IncomingMessage, ServerResponse } from 'node:http';
import { bareStreamId, parseHostPort } from '../zego/protocol.js';
import { isValidMixTaskId, mixTaskIdCandidates } from '../zego/mix.js';
import { DEFAULT_STREAMS_SEVERITY } from '../config/sections/streams.js';
import type { Secret } from '../config/secret.js';
import type { Config } from '../config/types.js';
import { clientKey, parseTrustedProxies, type TrustedProxies } from '../http/client-key.js';
import type { RunningServer } from '../http/server.js';
import type { Format } from '../metrics/exposition.js';
import type { Part, PartContext, PartGauge } from '../parts/part.js';
import type { CallbackApply } from '../state/store.js';
import { DiscoverPatterns } from './discovery.js';
import { FANOUT_REJECT_REASONS } from './fanout.js';
import { fanoutKeys } from './fanout-mac.js';
import { callbackListenerSecurity, callbackTlsProblem } from './listener.js';
import { CallbackCounts, renderCounter } from './metrics.js';
import { MisdirectedCallbacks } from './misdirected.js';
import type { MixEvent } from './parse-mix.js';
import type { StreamEvent } from '../zego/stream-event.js';
import { CallbackReceiver, callbackRoute, startCallbackListener } from './receiver.js';
import { CallbackVerifier, DEFAULT_WINDOW_MS } from './verify.js';
import { FleetCallbacks } from './fleet.js';

/** Said at start when the config left listen_address to its default: the default moved off the main port. */
const MIGRATION_NOTE =
  "callbacks.listen_address is not set: callbacks are served on this listener (default :9793) and no longer on the main listener (--web.listen-address), which answers their path 410; point ZEGO's callback URL at this port (CHANGELOG.md, docs/callbacks.md)";

/**
 * ZEGO's stream_create / stream_close callbacks: receiver, verifier, the patterns that discover
 * unlisted streams (the core's discovery service holds them), and the listener of their own — the only one that serves
 * them. Built even while callbacks are off, so the main listener's answer on their path and the
 * metrics are there; the listener opens at start when callbacks are on then (a reload that turns
 * them on needs a restart, and says so).
 */
export class CallbacksPart implements Part {
  readonly name = 'callbacks';
  readonly gauges: readonly PartGauge[];
  readonly #ctx: PartContext;
  readonly #misdirected: MisdirectedCallbacks;
  /** zego_exporter_callbacks_total: kept across reloads, like the receiver. */
  readonly #counts = new CallbackCounts();
  #config: Config;
  #listener: RunningServer | null = null;
  /** callbacks.trusted_proxies: peers whose X-Forwarded-For names the client the body budget charges. */
  #proxies: TrustedProxies = null;
  #receiver: CallbackReceiver | null = null;
  #verifier: CallbackVerifier | null = null;
  /** callbacks.discover.patterns; null while discovery is off. */
  #patterns: DiscoverPatterns | null = null;
  /** callbacks.discover.mix_task_patterns; null while mix tasks are not discovered. */
  #mixPatterns: DiscoverPatterns | null = null;
  /** Fleet mode (fleet and callbacks both on at start): nonces and fan-out through Redis. */
  #fleet: FleetCallbacks | null = null;
  /** The fan-out keys of the running secrets (fanout-mac.ts). */
  #keysFor: { secret: Secret; previous: Secret | undefined; keys: readonly Buffer[] } | null = null;

  constructor(config: Config, ctx: PartContext) {
    this.#ctx = ctx;
    this.#config = config;
    this.#misdirected = new MisdirectedCallbacks({
      logger: ctx.logger,
      path: () => this.#config.callbacks?.path ?? null,
      where: () => (this.#listener ? `port ${this.#listener.address.port}` : `${this.#config.callbacks?.listenAddress ?? ''}`),
    });
    this.gauges = [
      {
        name: 'zego_exporter_streams_discovered',
        help: 'Streams watched because a stream_create callback matched a discovery pattern.',
        read: () => ctx.discovered('callback').size,
      },
    ];
    if (ctx.fleet && config.callbacks) {
      this.#fleet = new FleetCallbacks({
        channel: ctx.fleet.channel(),
        windowMs: DEFAULT_WINDOW_MS,
        // Callbacks turned off by a reload: what others receive is not applied here either.
        apply: (e, at) => void (this.#config.callbacks ? this.#apply(e, at) : undefined),
        applyMix: (e, atMs, at) => void (this.#config.callbacks ? this.#applyMix(e, atMs, at) : undefined),
        // Read per entry: a reload's secret (or previous_secret, while rotating) applies at once.
        keys: () => this.#fanoutKeys(),
        acceptUnsigned: () => this.#config.callbacks?.fanoutAcceptUnsigned ?? false,
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
    const cb = this.#config.callbacks;
    if (cb) {
      // Exposed to ZEGO from outside: the callback path and nothing else, its TLS its own.
      try {
        const problem = callbackTlsProblem(cb.tls, this.#ctx.web?.config);
        if (problem !== null) throw new Error(problem);
        const a = parseHostPort(cb.listenAddress);
        if (!a.ok) throw new Error(a.message);
        this.#listener = await startCallbackListener(a.host, a.port, this.#ownRoute, callbackListenerSecurity(cb.tls, this.#ctx.web), this.#ctx.logger);
      } catch (err) {
        this.#ctx.logger.error({ err, address: cb.listenAddress, tls: cb.tls }, 'cannot listen for callbacks');
        throw err;
      }
      this.#ctx.logger.info(
        { address: this.#listener.url, path: cb.path, tls: cb.tls, ...(cb.listenAddressDefault ? { note: MIGRATION_NOTE } : {}) },
        'callbacks listening',
      );
    }
    this.#fleet?.start();
  }

  applyConfig(config: Config): void {
    this.#config = config;
    this.#configure(config);
    // The discovery service already let go of listed ids and applied the cap (discovery off: all
    // forgotten); what no longer matches a pattern goes, the rest takes the new severity.
    const patterns = this.#patterns;
    if (patterns)
      for (const id of [...this.#ctx.discovered('callback').ids()]) {
        if (patterns.matches(id)) this.#ctx.discover(id, this.#labels(), 'callback');
        else this.#ctx.forget(id, 'callback');
      }
    // A discovered task the config now lists under its own TaskId (without the prefix) is the config's.
    const listed = new Set((config.mixTasks ?? []).map((m) => m.id));
    for (const id of [...this.#ctx.discovered('mix_callback').ids()]) {
      const byConfig = mixTaskIdCandidates(id, config.zego.appId).some((c) => listed.has(c));
      if (byConfig || !this.#mixDiscoverable(id)) this.#ctx.forget(id, 'mix_callback');
    }
  }

  async stop(graceMs: number): Promise<void> {
    await this.#listener?.close(graceMs);
    this.#listener = null;
    await this.#fleet?.stop();
  }

  /** The main listener's share: the callback path answered 410 with where callbacks are served (misdirected.ts). */
  readonly route: (req: IncomingMessage, res: ServerResponse) => boolean = (req, res) => this.#misdirected.route(req, res);

  /** The callback listener's only route; reads the current config per request, so a reload that turns callbacks off or moves the path takes effect at once. */
  readonly #ownRoute = callbackRoute(
    () => this.#config.callbacks?.path ?? null,
    () => this.#receiver,
  );

  files(): string[] {
    const cb = this.#config.callbacks;
    return [cb?.secretFile, cb?.previousSecretFile].filter((f) => f !== undefined);
  }

  landing(): string | null {
    const cb = this.#config.callbacks;
    if (!cb) return null;
    const where = this.#listener
      ? `their own listener ${this.#listener.url} (TLS: ${cb.tls})`
      : 'their own listener, not open (turned on by a reload: needs a restart)';
    const found = cb.discover ? `; ${this.#ctx.discovered('callback').size} streams discovered` : '';
    return `Callbacks: ${cb.path} on ${where}, not on this one${found}.`;
  }

  metrics(format: Format): string {
    let out = this.#counts.render(format);
    out += renderCounter(
      'zego_exporter_callbacks_misdirected_total',
      "Requests to the callback path on the main listener, answered 410: callbacks are served only on the callback listener (callbacks.listen_address); a rise means ZEGO's callback URL points at the wrong port.",
      [[{}, this.#misdirected.count]],
      format,
    );
    const fleet = this.#fleet;
    if (fleet) {
      out += renderCounter(
        'zego_exporter_callbacks_fanout_rejected_total',
        'Fleet mode: entries of the callback fan-out stream not applied, by reason: unsigned (no MAC), bad_mac (no key of this replica verifies it), malformed (fields no exporter writes).',
        FANOUT_REJECT_REASONS.map((reason) => [{ reason }, fleet.rejected.get(reason) ?? 0] as const),
        format,
      );
      out += renderCounter(
        'zego_exporter_callbacks_fanout_unsigned_applied_total',
        'Fleet mode: fan-out entries without a MAC applied because callbacks.fanout_accept_unsigned is on (an upgrade from an unsigned fleet); 0 for long means it can be turned off.',
        [[{}, fleet.unsignedApplied]],
        format,
      );
    }
    return out;
  }

  #fanoutKeys(): readonly Buffer[] {
    const cb = this.#config.callbacks;
    if (!cb) return [];
    // Derived once per secret pair, not per entry.
    if (this.#keysFor?.secret !== cb.secret || this.#keysFor.previous !== cb.previousSecret) {
      this.#keysFor = { secret: cb.secret, previous: cb.previousSecret, keys: fanoutKeys(cb.secret, cb.previousSecret) };
    }
    return this.#keysFor.keys;
  }

  #configure(config: Config): void {
    const cb = config.callbacks;
    if (!cb) {
      this.#receiver = null;
      this.#verifier = null;
      this.#patterns = null;
      this.#mixPatterns = null;
      return;
    }
    // Validated by the config reader; a reload replaces the list.
    const proxies = parseTrustedProxies(cb.trustedProxies ?? []);
    this.#proxies = proxies.ok && (cb.trustedProxies ?? []).length > 0 ? proxies.value : null;
    // The verifier outlives reloads so remembered nonces stay remembered.
    if (this.#verifier) this.#verifier.setSecret(cb.secret, cb.previousSecret);
    else this.#verifier = new CallbackVerifier({ secret: cb.secret, previousSecret: cb.previousSecret, now: this.#ctx.now });
    this.#receiver ??= new CallbackReceiver({
      verifier: this.#verifier,
      appId: () => this.#config.zego.appId,
      apply: (e, at) => this.#apply(e, at),
      applyMix: (e, atMs, at) => this.#applyMix(e, atMs, at),
      record: (event, result) => this.#counts.inc(event, result),
      logger: this.#ctx.logger,
      now: this.#ctx.now,
      fleet: () => this.#fleet,
      clientKey: (req) => clientKey(req, this.#proxies),
    });
    const patterns = cb.discover?.patterns;
    if (!patterns) this.#patterns = null;
    else if (this.#patterns?.patterns !== patterns) this.#patterns = new DiscoverPatterns(patterns);
    const mixPatterns = cb.discover?.mixTaskPatterns ?? [];
    if (mixPatterns.length === 0) this.#mixPatterns = null;
    else if (this.#mixPatterns?.patterns !== mixPatterns) this.#mixPatterns = new DiscoverPatterns(mixPatterns);
  }

  /** Whether a mix_start's task_id may start watching its task: a pattern matches it as sent, or without ZEGO's AppID prefix. */
  #mixDiscoverable(rawTaskId: string): boolean {
    const p = this.#mixPatterns;
    return p !== null && isValidMixTaskId(rawTaskId) && mixTaskIdCandidates(rawTaskId, this.#config.zego.appId).some((id) => p.matches(id));
  }

  /** To the mix part through the core's hand-off; the output is mix_stream_alias, else stream_alias. */
  #applyMix(e: MixEvent, atMs: number, receivedAtMs: number): CallbackApply {
    const output = e.event === 'mix_start' ? { streamId: e.mixStreamAlias ?? e.streamAlias ?? null, playUrls: e.playUrls } : undefined;
    const callback = { event: e.event, seq: e.seq, atMs, ...(e.roomId !== undefined ? { roomId: e.roomId } : {}), ...(output ? { output } : {}) };
    const mix = this.#ctx.mix;
    if (!mix) return 'unwatched';
    const event = { rawTaskId: e.rawTaskId, callback };
    const applied = mix.apply(event, receivedAtMs);
    // An unlisted task a mix_start names: watched from now on, known by task_id as ZEGO sent it.
    if (applied !== 'unwatched' || e.event !== 'mix_start' || !this.#mixDiscoverable(e.rawTaskId)) return applied;
    if (this.#ctx.discover(e.rawTaskId, NO_LABELS, 'mix_callback') !== 'added') return applied;
    this.#ctx.logger.info({ task_id: e.rawTaskId, discovered: this.#ctx.discovered('mix_callback').size }, 'watching a discovered mix task');
    return mix.apply(event, receivedAtMs);
  }

  #apply(e: StreamEvent, receivedAtMs: number): CallbackApply {
    const z = this.#config.zego;
    const { store } = this.#ctx;
    // Test-environment callbacks carry the id as the API knows it; the config lists bare ids.
    const id = bareStreamId(e.streamId, z.appId, z.isTest);
    if (
      store.get(id) === undefined &&
      e.event === 'stream_create' &&
      this.#patterns?.matches(id) &&
      this.#ctx.discover(id, this.#labels(), 'callback') === 'added'
    ) {
      this.#ctx.logger.info({ stream_id: id, discovered: this.#ctx.discovered('callback').size }, 'watching a discovered stream');
    }
    return store.applyCallback(id, e, receivedAtMs);
  }

  /** A discovered stream's labels: its severity alone (see severityLabels). */
  #labels(): Readonly<Record<string, string>> {
    return severityLabels(this.#config.callbacks?.discover?.streamsSeverity ?? DEFAULT_STREAMS_SEVERITY);
  }
}

/** A discovered mix task has no labels of its own: not a key task (ZegoKeyMixTaskDown is for the listed ones). */
const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});

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
