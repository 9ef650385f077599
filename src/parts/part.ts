import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { CallbackEventLabel, CallbackResultLabel } from '../callbacks/labels.js';
import type { LandingTable } from '../http/landing.js';
import type { WebSecurity } from '../http/web-security.js';
import type { Fleet } from '../fleet/fleet.js';
import type { Format } from '../metrics/exposition.js';
import type { ApiBudgetStatus, ApiCallResult, ExtraGauge } from '../metrics/self.js';
import type { RoomStreamsResult, UserCountResult } from '../zego/outcome.js';
import type { ApiAction } from '../zego/protocol.js';
import type { Gate } from '../scheduler/budget.js';
import type { SharedWork } from '../scheduler/scheduler.js';
import type { StateStore, WatchedStream } from '../state/store.js';

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
  /** Files besides the config file that its settings come from (secret files): a change on disk reloads. */
  files?(): readonly string[];
  /** Budgets of other APIs this part spends (rooms), read at scrape time for the `api`-labelled gauges. */
  apiBudgets?(): readonly ApiBudgetStatus[];
  /** One line for the landing page (plain text, escaped there; never a secret), or null for none. */
  landing?(): string | null;
  /** A table for the landing page (plain-text cells, escaped and cut there; at most LANDING_ROWS rows), or null for none. */
  landingTable?(): LandingTable | null;
  /** Families of its own on /metrics, rendered on every scrape: keep them few (rooms, not streams) or cached. */
  metrics?(format: Format): string;
}

export type PartGauge = ExtraGauge;

/** What a part may use of the running exporter: narrow on purpose, never the Exporter itself. */
export interface PartContext {
  logger: Logger;
  now: () => number;
  /** The per-stream state: parts feed it observations and read what is known. */
  store: StateStore;
  /** Counts a received callback in zego_exporter_callbacks_total. */
  recordCallback(event: CallbackEventLabel, result: CallbackResultLabel): void;
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
  /** The part's `rateLimit()` changed: the Exporter re-paces the budget. */
  rateChanged(): void;
  /** Fleet mode (`fleet:` set at start): the one Redis module every part shares (fleet/fleet.ts). */
  fleet?: Fleet | undefined;
  /** --web.config.file (TLS, basic auth, headers) for listeners a part opens; absent: plain HTTP. */
  web?: WebSecurity | undefined;
  /** The room APIs of the running config's client (swapped on reload like the probe client). */
  roomApi: RoomApi;
  /** Counts a call of a room API in zego_exporter_api_requests_total{api=…} and its duration. */
  recordApiCall(api: ApiAction, result: ApiCallResult): void;
}

/** DescribeSimpleStreamList and DescribeUserNum, signed and bounded (see zego/client.ts). */
export interface RoomApi {
  describeSimpleStreamList(roomId: string, signal?: AbortSignal): Promise<RoomStreamsResult>;
  describeUserNum(roomIds: readonly string[], signal?: AbortSignal): Promise<UserCountResult>;
}

/** Builds a part from the config at start, or null when the feature is off for this process. */
export type PartFactory = (config: Config, ctx: PartContext) => Part | null;
