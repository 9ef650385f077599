import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { LandingTable } from '../http/landing.js';
import type { WebSecurity } from '../http/web-security.js';
import type { Format } from '../metrics/exposition.js';
import type { ExtraGauge } from '../metrics/self.js';
import type { ApiService } from '../api/service.js';
import type { Gate } from '../scheduler/budget.js';
import type { SharedWork } from '../scheduler/scheduler.js';
import type { StreamObservations, WatchedStream } from '../state/store.js';

/**
 * An optional feature (callbacks, fleet, …) as one object, after zigbee2mqtt's extensions: the
 * Exporter drives the lifecycle and reads the contributions, and never learns what is inside.
 * Every contribution but the lifecycle is optional.
 */
export interface Part {
  /** Short and unique, e.g. 'callbacks': the feature's folder name. */
  readonly name: string;
  /**
   * Opens what the part owns beyond plain objects (listeners, timers). Parts start in list order,
   * before probing; a rejection aborts start-up (exit 1), and the parts started before it are
   * stopped. Log why before rejecting: nothing above the part knows what went wrong.
   */
  start(): Promise<void>;
  /**
   * A validated new config, applied in place so state survives the reload. Settings the part
   * built once at start stay as they were (config/restart.ts names them in the reload warning).
   * Called before the Exporter recomputes the watched set (and the rate, when rate_limit changed).
   */
  applyConfig(config: Config): void;
  /** Closes what start() opened, in reverse list order, after the budget has stopped; waits at most `graceMs`. */
  stop(graceMs: number): Promise<void>;

  /** A request on the main listener, tried before the built-in routes: true when the part answered it. */
  route?(req: IncomingMessage, res: ServerResponse): boolean;
  /**
   * Streams to watch beyond `config.streams` (ids the config lists are left out), in full: read
   * at start, after every applyConfig() and after `ctx.watchedChanged()`. In between, the part
   * reports single changes with `ctx.watchAdded()` / `ctx.watchRemoved()`, and this must agree.
   */
  watched?(): Iterable<WatchedStream>;
  /** Caps the calls/s this process spends, given the rate so far; re-read after `ctx.rateChanged()`. */
  rateLimit?(rate: number): number;
  /** Asked before every send, read once at construction (the Budget is built with it). At most one part gives one. */
  readonly gate?: Gate;
  /** Probe results shared with others, read once at construction. At most one part gives one. */
  readonly share?: SharedWork;
  /** Gauges of its own on /metrics, registered once with the exporter's self-metrics. */
  readonly gauges?: readonly PartGauge[];
  /** Files besides the config file that its settings come from (secret files, its own files): a change on disk reloads, as SIGHUP does. */
  files?(): readonly string[];
  /**
   * Re-reads what the part reads from files of its own, not from the config (the web config): on
   * SIGHUP and when a watched file changes, beside the config's reload. Logs a bad file and keeps
   * what runs; rejects only on a bug.
   */
  reload?(trigger: string): Promise<unknown>;
  /** What it shows on the landing page: one line (a string), lines and/or a table, or null for nothing. */
  landing?(): string | PartLanding | null;
  /** Families of its own on /metrics, rendered on every scrape: keep them few (rooms, not streams) or cached. */
  metrics?(format: Format): string;
}

export type PartGauge = ExtraGauge;

/** A part's share of the landing page, all plain text (escaped there) and never a secret. */
export interface PartLanding {
  lines?: readonly string[];
  /** Cells are cut there; at most LANDING_ROWS rows. */
  table?: LandingTable;
}

/** What a part may use of the running exporter: narrow on purpose, never the Exporter itself. */
export interface PartContext {
  logger: Logger;
  now: () => number;
  /** The per-stream state: parts feed it observations and read what is known (never the whole store). */
  store: StreamObservations;
  /**
   * The part now watches one more stream (it found it: a callback, a room list), O(1) however many
   * are watched. Nothing happens when the config lists the id or another part watched it first
   * (their interval and labels stay); adding one the part already watches changes nothing either.
   */
  watchAdded(stream: WatchedStream): void;
  /** The part no longer watches `id`: probing and its series stop, unless the config or another part still watches it. O(1). */
  watchRemoved(id: string): void;
  /** The part's `watched()` changed wholesale: the Exporter re-reads every part's list (O(streams); for single changes use watchAdded/watchRemoved). */
  watchedChanged(): void;
  /** The part's `rateLimit()` (or a fleet's mode) changed: the API service re-paces every budget. */
  rateChanged(): void;
  /** The last Sequence this process sent to the API (0 before the first); a fleet's Sequence must stay above it. */
  lastSequence?(): number;
  /** --web.config.file (TLS, basic auth, headers) for listeners a part opens; absent: plain HTTP. */
  web?: WebSecurity | undefined;
  /**
   * The caller of one ZEGO Action (a row of api/actions.ts): its budget's slots, each call sent
   * through the running config's client, counted in the `api`-labelled self-metrics and fed back
   * to the budget. The same caller for every ask; its budget is in the exporter's status.
   */
  api: ApiService['api'];
}

/** Builds a part from the config at start, or null when the feature is off for this process. */
export type PartFactory = (config: Config, ctx: PartContext) => Part | null;
