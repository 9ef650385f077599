import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../config/types.js';
import type { LandingTable } from '../http/landing.js';
import type { WebSecurity } from '../http/web-security.js';
import type { Fleet } from '../fleet/fleet.js';
import type { Format } from '../metrics/exposition.js';
import type { ExtraGauge } from '../metrics/self.js';
import type { ApiService } from '../api/service.js';
import type { DiscoverResult } from '../discovery/discovered.js';
import type { DiscoveredView } from '../discovery/service.js';
import type { DiscoverySource } from '../discovery/sources.js';
import type { MixEvents } from '../state/mix-events.js';
import type { StreamObservations } from '../state/store.js';

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
   * Called after discovery took the new config (caps, listed ids) and before the Exporter
   * recomputes the watched set (and the rate, when rate_limit changed).
   */
  applyConfig(config: Config): void;
  /** Closes what start() opened, in reverse list order, after the budget has stopped; waits at most `graceMs`. */
  stop(graceMs: number): Promise<void>;

  /** A request on the main listener, tried before the built-in routes: true when the part answered it. */
  route?(req: IncomingMessage, res: ServerResponse): boolean;
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
   * `source` found `id` (a callback, a room list): it is watched, under the source's cap, until the
   * source forgets it or it has ended for the source's forget_after (discovery/: one rule for every
   * source). Again for one the source holds: its labels follow. Ids the config lists are left alone.
   * O(1) (O(log n) at a full cap), however many are watched.
   */
  discover(id: string, labels: Readonly<Record<string, string>>, source: DiscoverySource): DiscoverResult;
  /** `source` no longer holds `id`: watching stops unless the config or another source holds it. */
  forget(id: string, source: DiscoverySource): void;
  /** What `source` holds now. */
  discovered(source: DiscoverySource): DiscoveredView;
  /** Fleet mode (`fleet:` set at start): the one Redis module every part shares (fleet/fleet.ts). */
  fleet?: Fleet | undefined;
  /** --web.config.file (TLS, basic auth, headers) for listeners a part opens; absent: plain HTTP. */
  web?: WebSecurity | undefined;
  /**
   * The caller of one ZEGO Action (a row of api/actions.ts): its budget's slots, each call sent
   * through the running config's client, counted in the `api`-labelled self-metrics and fed back
   * to the budget. The same caller for every ask; its budget is in the exporter's status.
   */
  api: ApiService['api'];
  /** mix_start / mix_stop callbacks from the part that receives them to the part that keeps mix tasks (absent in tests that need neither). */
  mix?: MixEvents | undefined;
}

/** Builds a part from the config at start, or null when the feature is off for this process. */
export type PartFactory = (config: Config, ctx: PartContext) => Part | null;
