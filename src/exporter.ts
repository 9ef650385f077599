import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { ACTION_ROWS, type ActionRow } from './api/actions.js';
import { ApiService, type ApiBudgetStatus } from './api/service.js';
import type { Config } from './config/types.js';
import { Fleet } from './fleet/fleet.js';
import { landingRows, renderLanding } from './http/landing.js';
import type { WebSecurity } from './http/web-security.js';
import type { Format } from './metrics/exposition.js';
import { ScrapeRenderer } from './metrics/scrape.js';
import { SelfMetrics, type BuildInfo, type ExporterStatus } from './metrics/self.js';
import { StreamFamilies } from './metrics/block-cache.js';
import { SourceInfoFamily } from './metrics/source-info.js';
import { DiscoveryService } from './discovery/service.js';
import type { StreamSource } from './discovery/sources.js';
import { Parts } from './parts/index.js';
import type { PartContext, PartFactory } from './parts/part.js';
import { ReloadStatus } from './reload.js';
import { StreamProbing } from './scheduler/probing.js';
import { ApiConfigErrors } from './state/api-config-errors.js';
import { ApiHealth } from './state/api-health.js';
import { StateStore, type WatchedStream } from './state/store.js';
import { MixEvents } from './state/mix-events.js';
import { outcomeLabel, type ProbeResult } from './zego/outcome.js';
import { CurrentClient } from './zego/current-client.js';

const STREAM_STATE = 'DescribeRTCStreamState';

/** An API's budget on the landing page, from the one status shape. */
function budgetLine(b: ApiBudgetStatus): string {
  const refresh = b.achievableRefreshSec > 0 ? `; slowest refresh ${Math.round(b.achievableRefreshSec * 10) / 10} s` : '';
  return `${b.api}: budget ${b.rateLimit} calls/s (configured ${b.rateLimitConfigured}), ${b.slotsHeld} slots held, ${b.queueLength} waiting${refresh}.`;
}

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
  /** Actions beside the product's table (api/actions.ts): a test's made-up Action for its own part. */
  actions?: readonly ActionRow<never>[];
  /** --web.config.file, for the listeners parts open (the callback listener). */
  web?: WebSecurity;
  /** Tests only (test-clock.ts): a mix task's stop window shorter than ZEGO's retry window plus margin. */
  mixStopWindowMs?: number;
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
  readonly #api: ApiService;
  readonly #parts: Parts;
  readonly #discovery: DiscoveryService;
  /** Fleet mode: the API service's backend (one Redis module), and the fan-out and room holds parts use; closed last. */
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
    this.#store = new StateStore({ logger: this.#log, now: this.#now, onChange: (s) => this.#discovery.observe('stream', s.id) });
    this.#health = new ApiHealth({ logger: this.#log, now: this.#now });
    this.#configErrors = new ApiConfigErrors({ logger: this.#log, now: this.#now, appId: () => this.#config.zego.appId });
    // A discovered mix task's end re-times it in the discovery service, as a stream's does.
    const mix = new MixEvents({
      changed: (id) => this.#discovery.observe('mix_task', id),
      ...(opts.mixStopWindowMs !== undefined ? { stopWindowMs: opts.mixStopWindowMs } : {}),
    });
    this.#discovery = new DiscoveryService({
      config: opts.config,
      logger: this.#log,
      now: this.#now,
      hooks: {
        mix_task: mix.hooks,
        stream: {
          watch: (id, labels, source) => this.#watchStart(id, labels, source),
          unwatch: (id) => this.#watchStop(id),
          endedAt: (id) => {
            const s = this.#store.get(id);
            return s?.active === false ? s.changedAtMs : null;
          },
        },
      },
    });
    const { fleet, zego } = opts.config;
    const f = fleet ? new Fleet({ fleet, zego, logger: this.#log, lastSequence: () => this.#client.lastSequence }) : undefined;
    this.#fleet = f;
    // Called back only after construction, when every field below is set. With fleet mode every
    // Action's budget is shared through Redis, and runs on its fallback share while Redis is away.
    this.#api = new ApiService({
      zego,
      transport: this.#client,
      now: this.#now,
      ...(opts.actions ? { actions: [...ACTION_ROWS, ...opts.actions] } : {}),
      ...(f
        ? { gate: (action: string, configured: number) => f.gate(action, configured), rate: (_action: string, configured: number) => f.rate(configured) }
        : {}),
      record: (action, result) => {
        this.#metrics.observe(result, action);
        this.#configErrors.note(action, result);
      },
    });
    f?.onChange(() => this.#api.rateChanged());
    const ctx: PartContext = {
      ...{ logger: this.#log, now: this.#now, store: this.#store, web: opts.web, fleet: f },
      api: this.#api.api.bind(this.#api),
      mix,
      discover: (id, labels, source) => this.#discovery.discover(id, labels, source),
      forget: (id, source) => this.#discovery.forget(id, source),
      discovered: (source) => this.#discovery.discovered(source),
    };
    this.#parts = new Parts(opts.config, ctx, opts.parts);
    this.#probing = new StreamProbing({
      api: this.#api.api(STREAM_STATE),
      now: this.#now,
      onResult: (id, result, shared) => this.#onResult(id, result, shared),
      ...(this.#fleet?.share ? { share: this.#fleet.share } : {}),
    });
    this.#metrics = new SelfMetrics({ status: () => this.status(), build: this.#build, gauges: [...(this.#fleet?.gauges ?? []), ...this.#parts.gauges] });
    this.#scrape = new ScrapeRenderer({
      self: this.#metrics,
      families: new StreamFamilies(),
      snapshot: () => this.#store.snapshot(),
      now: this.#now,
      parts: (format) => this.#parts.metrics(format) + this.#discovery.metrics(format),
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
      // The parts stopped again: so do the fleet's connections.
      await this.#fleet?.close();
      throw err;
    }
    this.#discovery.start();
    this.#started = true;
    this.#probing.start();
    this.#scrape.prerender(this.#log, this.#probing.size);
    const plan = this.#probing.summary(this.#config.zego.rateLimit);
    this.#log[plan.level](plan.fields, plan.message);
    // Every API's budget in the status shape /metrics and the landing page show.
    const apis = Object.fromEntries(this.#api.status().map(({ api, ...b }) => [api, { rate_limit: b.rateLimit, demand_per_sec: b.demandPerSec }]));
    this.#log.info({ apis }, 'API budgets');
  }

  /** A validated new config, applied without dropping state, in-flight calls or budget slots. */
  applyConfig(config: Config): void {
    this.#client.applyConfig(config.zego);
    this.#config = config;
    this.#discovery.applyConfig(config);
    this.#fleet?.applyConfig(config.fleet, config.zego.rateLimit);
    this.#parts.applyConfig(config);
    // After the parts: a fleet's gates hold the new rates by now.
    this.#api.applyConfig(config.zego);
    this.#setStreams();
    if (this.#started) this.#scrape.prerender(this.#log, this.#probing.size);
  }

  ready(): { ready: true } | { ready: false; reason: string } {
    const reason = this.#stopping ? 'shutting down' : this.#started ? null : 'probing not started';
    return reason === null ? { ready: true } : { ready: false, reason };
  }

  status(): ExporterStatus {
    return {
      apis: this.#api.status(),
      streamsWatched: this.#probing.size,
      clockOffsetSec: this.#client.clockOffsetMs / 1000,
      reloadSuccessful: this.#reload.successful,
      reloadSuccessTimestampSec: this.#reload.successAtSec,
      callbackDisagreements: this.#store.disagreementsTotal,
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

  /** SIGHUP or a watched file changed: the parts re-read their own files (the config's reload is the Reloader's). */
  reload(trigger: string): Promise<void> {
    return this.#parts.reload(trigger);
  }

  landingPage(): string {
    const [probes, ...others] = this.#api.status();
    const { endpoint, appId, isTest } = this.#config.zego;
    const budget = { rateLimit: probes?.rateLimit ?? 0, achievableRefreshSec: probes?.achievableRefreshSec ?? 0 };
    const view = { version: this.#build.version, startedAt: this.#startedAt, endpoint, appId, isTest, ...budget };
    const parts = this.#parts.landing();
    return renderLanding({
      ...view,
      rows: landingRows(this.#store.snapshot(), this.#now()),
      totalStreams: this.#store.size,
      // DescribeRTCStreamState's budget is the page's header; every other API in use gets a line.
      notes: [...this.#configErrors.landing(), ...others.map(budgetLine), ...(this.#fleet ? [this.#fleet.landing()] : []), ...parts.lines],
      tables: parts.tables,
    });
  }

  /** Probing first, then every API budget, then the parts in reverse order (the fleet's gate outlives the calls in flight), then the client. */
  async stop(graceMs = 2000): Promise<void> {
    this.#stopping = true;
    this.#discovery.stop();
    this.#probing.stop();
    await this.#api.stop(graceMs);
    await this.#parts.stop(graceMs);
    await this.#fleet?.close();
    await this.#client.close();
  }

  #onResult(id: string, result: ProbeResult, shared: boolean): void {
    // Another replica's call (shared): its answer time is the probe time, and it is not our API traffic.
    if (shared) return this.#store.applyProbe(id, result, result.sentAtMs + result.durationMs);
    this.#health.note(id, result);
    this.#store.applyProbe(id, result);
    this.#log.debug({ stream_id: id, code: result.code, outcome: outcomeLabel(result.outcome), duration_ms: Math.round(result.durationMs) }, 'probe');
  }

  /** The configured streams, then what was discovered (never an id the config lists): O(streams), for a reload. */
  #setStreams(): void {
    if (this.#stopping) return;
    const intervalMs = this.#config.probe.intervalMs;
    const watched: WatchedStream[] = this.#config.streams.map((s) => ({ id: s.id, intervalMs: s.intervalMs, labels: s.labels, origin: 'config' as const }));
    for (const d of this.#discovery.watched('stream')) watched.push({ id: d.id, intervalMs, labels: d.labels, origin: d.source });
    this.#store.setStreams(watched);
    this.#probing.setStreams(watched);
  }

  /** A discovered stream nobody watched, or new labels or origin for one: O(1), however many are watched (a discovery burst is 10k of these). */
  #watchStart(id: string, labels: Readonly<Record<string, string>>, source: StreamSource): void {
    if (this.#stopping) return;
    const w: WatchedStream = { id, intervalMs: this.#config.probe.intervalMs, labels, origin: source };
    this.#store.add(w);
    this.#probing.add(w);
  }

  #watchStop(id: string): void {
    if (this.#stopping) return;
    this.#store.remove(id);
    this.#probing.remove(id);
  }
}
