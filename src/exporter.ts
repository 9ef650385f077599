import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { API_RATE_LIMIT, API_RATE_LIMIT_TEST, type Config } from './config/types.js';
import { Fleet } from './fleet/fleet.js';
import { landingRows, renderLanding } from './http/landing.js';
import type { WebSecurity } from './http/web-security.js';
import type { Format } from './metrics/exposition.js';
import { ScrapeRenderer } from './metrics/scrape.js';
import { SelfMetrics, type ApiCallResult, type BuildInfo, type ExporterStatus } from './metrics/self.js';
import { StreamFamilies } from './metrics/block-cache.js';
import { SourceInfoFamily } from './metrics/source-info.js';
import { Parts, type PartsContext } from './parts/index.js';
import type { PartFactory } from './parts/part.js';
import { ReloadStatus } from './reload.js';
import { StreamProbing } from './scheduler/probing.js';
import { ApiConfigErrors } from './state/api-config-errors.js';
import { ApiHealth } from './state/api-health.js';
import { StateStore, type WatchedStream } from './state/store.js';
import { outcomeLabel, type ProbeResult } from './zego/outcome.js';
import { CurrentClient } from './zego/current-client.js';
import type { ApiAction } from './zego/protocol.js';

export interface ExporterOptions {
  config: Config;
  logger: Logger;
  build: BuildInfo;
  now?: () => number;
  /** An undici dispatcher shared by every API client (tests answer through a MockAgent). */
  dispatcher?: Dispatcher;
  /** Written by the Reloader, read here for the self-metrics. */
  reloadStatus?: ReloadStatus;
  /** The optional features; parts/index.ts's PARTS unless a test brings its own. */
  parts?: readonly PartFactory[];
  /** --web.config.file, for the listeners parts open (the callback listener). */
  web?: WebSecurity;
}

/**
 * The core, wired one way: config → client → scheduler (budget) → state → metrics, with the
 * optional features plugged in as parts (parts/part.ts). applyConfig() changes everything in
 * place, so a reload keeps state, series and the budget's slots.
 */
export class Exporter {
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #build: BuildInfo;
  readonly #reload: ReloadStatus;
  readonly #client: CurrentClient;
  readonly #store: StateStore;
  readonly #health: ApiHealth;
  readonly #configErrors: ApiConfigErrors;
  readonly #parts: Parts;
  /** Fleet mode's Redis module, shared by every part through the context; closed after they stopped. */
  readonly #fleet: Fleet | undefined;
  /** The parts' routes on the main listener, for the HTTP server's `extra` hook. */
  readonly route: Parts['route'] = (req, res) => this.#parts.route(req, res);
  readonly #probing: StreamProbing;
  readonly #metrics: SelfMetrics;
  readonly #scrape: ScrapeRenderer;
  readonly #sourceInfo = new SourceInfoFamily();
  readonly #startedAt: Date;
  #config: Config;
  #started = false;
  #stopping = false;

  constructor(opts: ExporterOptions) {
    this.#log = opts.logger;
    this.#now = opts.now ?? Date.now;
    this.#build = opts.build;
    this.#reload = opts.reloadStatus ?? new ReloadStatus(this.#now);
    this.#config = opts.config;
    this.#startedAt = new Date(this.#now());
    this.#client = new CurrentClient(opts.config.zego, { now: this.#now, logger: this.#log, dispatcher: opts.dispatcher });
    this.#store = new StateStore({ logger: this.#log, now: this.#now });
    this.#health = new ApiHealth({ logger: this.#log, now: this.#now });
    this.#configErrors = new ApiConfigErrors({ logger: this.#log, now: this.#now, appId: () => this.#config.zego.appId });
    const { fleet, zego } = opts.config;
    this.#fleet = fleet ? new Fleet({ fleet, zego, logger: this.#log, lastSequence: () => this.#client.lastSequence }) : undefined;
    // Called back only after construction, when every field below is set.
    const ctx: PartsContext = {
      ...{ logger: this.#log, now: this.#now, store: this.#store, roomApi: this.#client, web: opts.web, fleet: this.#fleet },
      recordCallback: (event, result) => this.#metrics.observeCallback(event, result),
      recordApiCall: (api, result) => this.#recordApiCall(api, result),
      watchStart: (w) => this.#watchStart(w),
      watchStop: (id) => this.#watchStop(id),
      watchedChanged: () => this.#setStreams(),
      rateChanged: () => this.#probing.setRateLimit(this.#rateLimit()),
    };
    this.#parts = new Parts(opts.config, ctx, opts.parts);
    this.#probing = new StreamProbing({
      rateLimit: this.#rateLimit(),
      hardLimit: opts.config.zego.isTest ? API_RATE_LIMIT_TEST : API_RATE_LIMIT,
      now: this.#now,
      probe: (id, signal, sequence) => this.#client.describeStreamState(id, signal, sequence),
      onResult: (id, result, shared) => this.#onResult(id, result, shared),
      gate: this.#parts.gate,
      share: this.#parts.share,
    });
    this.#metrics = new SelfMetrics({ status: () => this.status(), build: this.#build, gauges: this.#parts.gauges });
    this.#scrape = new ScrapeRenderer({
      self: this.#metrics,
      families: new StreamFamilies(),
      snapshot: () => this.#store.snapshot(),
      now: this.#now,
      parts: (format) => this.#parts.metrics(format),
      info: (format) => this.#sourceInfo.render(this.#store.snapshot(), this.#store.originsVersion, format),
    });
    this.#setStreams();
  }

  get config(): Config {
    return this.#config;
  }

  /** Starts the parts, then probing; when a part cannot start, rejects with the parts before it stopped again. */
  async start(): Promise<void> {
    try {
      await this.#parts.start();
    } catch (err) {
      // The parts stopped again: so do the fleet's connections, as when the fleet was a part.
      await this.#fleet?.close();
      throw err;
    }
    this.#started = true;
    this.#probing.start();
    this.#scrape.prerender(this.#log, this.#probing.size);
    const plan = this.#probing.summary(this.#config.zego.rateLimit);
    this.#log[plan.level](plan.fields, plan.message);
  }

  /** A validated new config, applied without dropping state, in-flight calls or budget slots. */
  applyConfig(config: Config): void {
    const rateChanged = config.zego.rateLimit !== this.#config.zego.rateLimit;
    this.#client.applyConfig(config.zego);
    this.#config = config;
    this.#fleet?.applyConfig(config.fleet, config.zego.rateLimit);
    this.#parts.applyConfig(config);
    if (rateChanged) this.#probing.setRateLimit(this.#rateLimit());
    this.#setStreams();
    if (this.#started) this.#scrape.prerender(this.#log, this.#probing.size);
  }

  ready(): { ready: true } | { ready: false; reason: string } {
    const reason = this.#stopping ? 'shutting down' : this.#started ? null : 'probing not started';
    return reason === null ? { ready: true } : { ready: false, reason };
  }

  status(): ExporterStatus {
    return {
      ...this.#probing.status(),
      rateLimitConfigured: this.#config.zego.rateLimit,
      clockOffsetSec: this.#client.clockOffsetMs / 1000,
      reloadSuccessful: this.#reload.successful,
      reloadSuccessTimestampSec: this.#reload.successAtSec,
      callbackDisagreements: this.#store.disagreementsTotal,
      apiBudgets: this.#parts.apiBudgets(),
      configErrors: this.#configErrors.all(),
    };
  }

  metrics(format: Format): Promise<Buffer[]> {
    return this.#scrape.render(format);
  }

  /** Files besides the config file that the running settings come from (secret files), for the watcher. */
  files(): string[] {
    return [this.#config.zego.serverSecretFile ?? [], this.#parts.files()].flat();
  }

  landingPage(): string {
    const { rateLimit, achievableRefreshSec } = this.status();
    const { endpoint, appId, isTest } = this.#config.zego;
    const view = { version: this.#build.version, startedAt: this.#startedAt, endpoint, appId, isTest, rateLimit, achievableRefreshSec };
    return renderLanding({
      ...view,
      rows: landingRows(this.#store.snapshot(), this.#now()),
      totalStreams: this.#store.size,
      notes: [...this.#configErrors.landing(), ...this.#parts.landing()],
      tables: this.#parts.landingTables(),
    });
  }

  /** Probing first, then the parts in reverse order (the fleet's gate outlives the calls in flight), then the client. */
  async stop(graceMs = 2000): Promise<void> {
    this.#stopping = true;
    await this.#probing.stop(graceMs);
    await this.#parts.stop(graceMs);
    await this.#fleet?.close();
    await this.#client.close();
  }

  /** The configured rate_limit, as the parts cap it (fleet mode without Redis: the fallback). */
  #rateLimit(): number {
    return this.#parts.rateLimit(this.#config.zego.rateLimit);
  }

  #onResult(id: string, result: ProbeResult, shared: boolean): void {
    // Another replica's call (shared): its answer time is the probe time, and it is not our API traffic.
    if (shared) return this.#store.applyProbe(id, result, result.sentAtMs + result.durationMs);
    this.#recordApiCall('DescribeRTCStreamState', result);
    this.#health.note(id, result);
    this.#store.applyProbe(id, result);
    this.#log.debug({ stream_id: id, code: result.code, outcome: outcomeLabel(result.outcome), duration_ms: Math.round(result.durationMs) }, 'probe');
  }

  /** Every call this process made to any API, whatever became of its answer. */
  #recordApiCall(api: ApiAction, result: ApiCallResult): void {
    this.#metrics.observe(result, api);
    this.#configErrors.note(api, result);
  }

  /** The configured streams, then what the parts add (discovered streams), each id once: O(streams), for a reload. */
  #setStreams(): void {
    if (this.#stopping) return;
    const watched = this.#parts.watched(this.#config.streams.map((s) => ({ id: s.id, intervalMs: s.intervalMs, labels: s.labels, origin: 'config' as const })));
    this.#store.setStreams(watched);
    this.#probing.setStreams(watched);
  }

  /** A stream a part found that nobody watched: O(1), however many are watched (a discovery burst is 10k of these). */
  #watchStart(w: WatchedStream): void {
    if (this.#stopping) return;
    this.#store.add(w);
    this.#probing.add(w);
  }

  #watchStop(id: string): void {
    if (this.#stopping) return;
    this.#store.remove(id);
    this.#probing.remove(id);
  }
}
