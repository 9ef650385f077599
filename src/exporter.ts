import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Discovery } from './callbacks/discovery.js';
import type { StreamEvent } from './callbacks/parse.js';
import { callbackRoute, CallbackReceiver } from './callbacks/receiver.js';
import { CallbackVerifier } from './callbacks/verify.js';
import type { Config } from './config/types.js';
import { API_RATE_LIMIT, API_RATE_LIMIT_TEST } from './config/types.js';
import { renderLanding, type LandingRow } from './http/landing.js';
import type { Format } from './metrics/exposition.js';
import { ScrapeRenderer } from './metrics/scrape.js';
import { SelfMetrics, type BuildInfo, type ExporterStatus } from './metrics/self.js';
import { StreamFamilies } from './metrics/streams.js';
import { Budget } from './scheduler/budget.js';
import { planBudget, type BudgetPlan } from './scheduler/plan.js';
import { Scheduler } from './scheduler/scheduler.js';
import { startFleet, type Fleet } from './fleet/index.js';
import { ApiHealth } from './state/api-health.js';
import { StateStore, type CallbackApply } from './state/store.js';
import { ZegoClient } from './zego/client.js';
import type { ProbeResult } from './zego/outcome.js';
import { bareStreamId } from './zego/protocol.js';
import { SequenceCounter } from './zego/sequence.js';

export interface ExporterOptions {
  config: Config;
  logger: Logger;
  build: BuildInfo;
  now?: () => number;
  /** For tests: an undici dispatcher shared by every client. */
  dispatcher?: Dispatcher;
}

const LANDING_ROWS = 1000;

/**
 * The running parts, wired one way: config → client → scheduler (budget) → state → metrics.
 * applyConfig() changes them in place, so a reload keeps state, series and the budget's slots.
 */
export class Exporter {
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #build: BuildInfo;
  readonly #dispatcher: Dispatcher | undefined;
  readonly #sequence = new SequenceCounter();
  readonly #store: StateStore;
  readonly #health: ApiHealth;
  readonly #budget: Budget;
  readonly #scheduler: Scheduler;
  readonly #metrics: SelfMetrics;
  readonly #scrape: ScrapeRenderer;
  readonly #startedAt: Date;
  readonly #fleet: Fleet | undefined;
  /** Whether callbacks got a listener of their own at start (main.ts starts it from this config). */
  readonly #ownCallbackListener: boolean;
  #fleetConnected = false;
  #config: Config;
  #client: ZegoClient;
  #started = false;
  #stopping = false;
  #reloadOk = true;
  #reloadOkAtSec: number;
  #receiver: CallbackReceiver | null = null;
  #verifier: CallbackVerifier | null = null;
  #discovery: Discovery | null = null;
  #sweepTimer: NodeJS.Timeout | null = null;
  #streamsGen = 0;
  #planCache: { rate: number; gen: number; plan: BudgetPlan } | undefined;

  constructor(opts: ExporterOptions) {
    this.#log = opts.logger;
    this.#now = opts.now ?? Date.now;
    this.#build = opts.build;
    this.#dispatcher = opts.dispatcher;
    this.#config = opts.config;
    this.#startedAt = new Date(this.#now());
    this.#reloadOkAtSec = this.#now() / 1000;
    const { zego } = opts.config;
    this.#client = this.#newClient(opts.config);
    this.#store = new StateStore({ logger: this.#log, now: this.#now });
    this.#health = new ApiHealth({ logger: this.#log, now: this.#now });
    this.#ownCallbackListener = opts.config.callbacks?.listenAddress !== undefined;
    const fleet = opts.config.fleet;
    this.#fleet = fleet
      ? startFleet({ fleet, appId: zego.appId, rateLimit: zego.rateLimit, callTimeoutMs: zego.timeoutMs, logger: this.#log, onModeChange: (c) => this.#onFleetMode(c) })
      : undefined;
    // Fleet mode starts on the fallback rate until Redis has answered.
    const rateLimit = fleet ? Math.min(fleet.fallbackRateLimit, zego.rateLimit) : zego.rateLimit;
    this.#budget = new Budget({ rateLimit, hardLimit: zego.isTest ? API_RATE_LIMIT_TEST : API_RATE_LIMIT, now: this.#now, ...(this.#fleet ? { gate: this.#fleet.gate } : {}) });
    this.#scheduler = new Scheduler({
      budget: this.#budget,
      now: this.#now,
      probe: (id, signal) => this.#client.describeStreamState(id, signal),
      onResult: (id, result, shared) => this.#onResult(id, result, shared),
      ...(this.#fleet?.share ? { share: this.#fleet.share } : {}),
    });
    this.#metrics = new SelfMetrics(() => this.status(), this.#build, { fleet: this.#fleet !== undefined });
    this.#scrape = new ScrapeRenderer({ self: this.#metrics, families: new StreamFamilies(), snapshot: () => this.#store.snapshot(), now: this.#now });
    this.#configureCallbacks(opts.config);
    this.#setStreams(opts.config);
  }

  /**
   * The callback receiver as a route: on the main listener unless callbacks have a listener of
   * their own (`onOwnListener`). Reads the current config per request, so a reload that turns
   * callbacks on or off or changes the secret or path takes effect at once. Which listener serves
   * them is fixed at start (the own listener exists or not until a restart), so a reload that adds
   * or drops `listen_address` cannot leave callbacks on a listener that does not exist.
   */
  callbackRoute(onOwnListener: boolean): (req: IncomingMessage, res: ServerResponse) => boolean {
    return callbackRoute(
      () => {
        const cb = this.#config.callbacks;
        return cb && this.#ownCallbackListener === onOwnListener ? cb.path : null;
      },
      () => this.#receiver,
    );
  }

  get config(): Config {
    return this.#config;
  }

  start(): void {
    this.#started = true;
    this.#scheduler.start();
    this.#prerender();
    const plan = planBudget(this.#scheduler.intervals(), this.#config.zego.rateLimit);
    const fields = { streams: plan.streams, demand_per_sec: round(plan.demandPerSec), rate_limit: plan.rate, slowest_refresh_sec: round(plan.worstRefreshSec) };
    if (plan.overloaded) {
      this.#log.warn(fields, `demand exceeds the budget: ${plan.streams} streams at ${plan.rate}/s are refreshed every ${round(plan.worstRefreshSec)} s at best (shorter intervals first)`);
    } else {
      this.#log.info(fields, 'probing started');
    }
  }

  /** A validated new config, applied without dropping state, in-flight calls or budget slots. */
  applyConfig(config: Config): void {
    const old = this.#config.zego;
    const z = config.zego;
    const clientChanged = old.appId !== z.appId || old.endpoint !== z.endpoint || old.isTest !== z.isTest || old.timeoutMs !== z.timeoutMs || !old.serverSecret.equals(z.serverSecret);
    if (clientChanged) {
      const previous = this.#client;
      // Same server, same clock: a rotated secret must not cost a round of timestamp errors.
      this.#client = this.#newClient(config, old.endpoint === z.endpoint ? previous.clockOffsetMs : 0);
      // Calls already sent finish on the old client; closing waits for them.
      previous.close().catch((err: unknown) => this.#log.warn({ err }, 'closing the previous API client failed'));
    }
    this.#config = config;
    if (old.rateLimit !== z.rateLimit) {
      this.#fleet?.gate.setRateLimit(z.rateLimit);
      this.#budget.setRateLimit(this.#localRateLimit());
    }
    this.#configureCallbacks(config);
    this.#setStreams(config);
    if (this.#started) this.#prerender();
  }

  /**
   * Builds the /metrics caches in the background (a render that yields every few milliseconds) as
   * soon as the stream list is known, so the first scrape after a start or reload costs what any
   * other scrape does instead of formatting every line of every stream while Prometheus waits.
   */
  #prerender(): void {
    const started = performance.now();
    this.#scrape.render('text').then(
      () => this.#log.debug({ streams: this.#scheduler.size, ms: Math.round(performance.now() - started) }, 'metrics caches built'),
      (err: unknown) => this.#log.warn({ err }, 'pre-rendering /metrics failed'),
    );
  }

  markReload(ok: boolean): void {
    this.#reloadOk = ok;
    if (ok) this.#reloadOkAtSec = this.#now() / 1000;
  }

  ready(): { ready: true } | { ready: false; reason: string } {
    if (this.#stopping) return { ready: false, reason: 'shutting down' };
    if (!this.#started) return { ready: false, reason: 'probing not started' };
    return { ready: true };
  }

  status(): ExporterStatus {
    const rate = this.#budget.effectiveRate;
    const plan = this.#plan(rate);
    return {
      rateLimit: rate,
      rateLimitConfigured: this.#config.zego.rateLimit,
      queueLength: this.#scheduler.queueLength,
      achievableRefreshSec: Number.isFinite(plan.worstRefreshSec) ? plan.worstRefreshSec : 0,
      demandPerSec: plan.demandPerSec,
      streamsWatched: this.#scheduler.size,
      slotsHeld: this.#budget.slotsHeld,
      clockOffsetSec: this.#client.clockOffsetMs / 1000,
      reloadSuccessful: this.#reloadOk,
      reloadSuccessTimestampSec: this.#reloadOkAtSec,
      streamsDiscovered: this.#discovery?.size ?? 0,
      callbackDisagreements: this.#store.disagreementsTotal,
      fleetConnected: this.#fleetConnected,
    };
  }

  metrics(format: Format): Promise<Buffer[]> {
    return this.#scrape.render(format);
  }

  landingPage(): string {
    const now = this.#now();
    const rows: LandingRow[] = [];
    for (const s of this.#store.snapshot()) {
      if (rows.length >= LANDING_ROWS) break;
      rows.push({
        id: s.id,
        state: s.active === null ? 'unknown' : s.active ? 'active' : s.notFound ? 'not found' : 'closed',
        uptimeSec: s.active && s.createTimeSec !== null ? Math.max(0, now / 1000 - s.createTimeSec) : null,
        probe: s.probeSuccess === null ? 'pending' : s.probeSuccess ? 'ok' : 'failing',
        lastProbeAgoSec: s.lastProbeMs === null ? null : (now - s.lastProbeMs) / 1000,
        labels: s.labels,
        lastError: s.lastError,
      });
    }
    const z = this.#config.zego;
    const st = this.status();
    return renderLanding({
      version: this.#build.version,
      startedAt: this.#startedAt,
      endpoint: z.endpoint,
      appId: z.appId,
      isTest: z.isTest,
      rateLimit: st.rateLimit,
      achievableRefreshSec: st.achievableRefreshSec,
      rows,
      totalStreams: this.#store.size,
    });
  }

  async stop(graceMs = 2000): Promise<void> {
    this.#stopping = true;
    if (this.#sweepTimer) clearInterval(this.#sweepTimer);
    this.#sweepTimer = null;
    this.#scheduler.stop();
    await this.#budget.stop(graceMs);
    await this.#fleet?.close();
    await this.#client.close();
  }

  /**
   * Fleet mode: the whole rate_limit while Redis keeps the fleet under it, the fallback alone
   * otherwise. Raising it back releases no backlog at once: the budget still paces 1/rate.
   */
  #localRateLimit(): number {
    const { fleet, zego } = this.#config;
    if (!fleet || this.#fleetConnected) return zego.rateLimit;
    return Math.min(fleet.fallbackRateLimit, zego.rateLimit);
  }

  #onFleetMode(connected: boolean): void {
    this.#fleetConnected = connected;
    this.#budget.setRateLimit(this.#localRateLimit());
  }

  #onResult(id: string, result: ProbeResult, shared: boolean): void {
    if (shared) {
      // Another replica's call: its answer time is the probe time, and it is not our API traffic.
      this.#store.applyProbe(id, result, result.sentAtMs + result.durationMs);
      return;
    }
    this.#metrics.observe(result);
    this.#health.note(id, result);
    this.#store.applyProbe(id, result);
    this.#log.debug({ stream_id: id, code: result.code, outcome: result.outcome.kind === 'failed' ? result.outcome.reason : result.outcome.kind, duration_ms: round(result.durationMs) }, 'probe');
  }

  #configureCallbacks(config: Config): void {
    const cb = config.callbacks;
    if (!cb) {
      this.#receiver = null;
      this.#verifier = null;
      this.#discovery = null;
    } else {
      // The verifier outlives reloads so remembered nonces stay remembered.
      if (this.#verifier) this.#verifier.setSecret(cb.secret);
      else this.#verifier = new CallbackVerifier({ secret: cb.secret, now: this.#now });
      this.#receiver ??= new CallbackReceiver({
        verifier: this.#verifier,
        appId: () => this.#config.zego.appId,
        apply: (e, at) => this.#applyCallback(e, at),
        record: (event, result) => this.#metrics.observeCallback(event, result),
        logger: this.#log,
        now: this.#now,
      });
      if (!cb.discover) this.#discovery = null;
      else if (this.#discovery) this.#discovery.setConfig(cb.discover);
      else this.#discovery = new Discovery(cb.discover);
    }
    if (this.#sweepTimer) clearInterval(this.#sweepTimer);
    this.#sweepTimer = null;
    if (this.#discovery) {
      const every = Math.min(60_000, Math.max(1000, this.#discovery.forgetAfterMs / 10));
      this.#sweepTimer = setInterval(() => this.#sweepDiscovered(), every);
      this.#sweepTimer.unref();
    }
  }

  #applyCallback(e: StreamEvent, receivedAtMs: number): CallbackApply {
    const z = this.#config.zego;
    // Test-environment callbacks carry the id as the API knows it; the config lists bare ids.
    const id = bareStreamId(e.streamId, z.appId, z.isTest);
    if (this.#store.get(id) === undefined && e.event === 'stream_create' && this.#discovery?.offer(id) === 'added') {
      this.#log.info({ stream_id: id, discovered: this.#discovery.size }, 'watching a discovered stream');
      this.#setStreams(this.#config);
    }
    return this.#store.applyCallback(id, e, receivedAtMs);
  }

  #sweepDiscovered(): void {
    if (!this.#discovery) return;
    const gone = this.#discovery.sweep(this.#now(), (id) => {
      const s = this.#store.get(id);
      return s && s.active === false ? (s.changedAtMs ?? null) : null;
    });
    if (gone.length === 0) return;
    for (const id of gone) this.#log.info({ stream_id: id }, 'forgetting a closed discovered stream');
    this.#setStreams(this.#config);
  }

  /** The budget math, redone only when the watched set or the effective rate changed. */
  #plan(rate: number): BudgetPlan {
    if (this.#planCache?.rate !== rate || this.#planCache.gen !== this.#streamsGen) {
      this.#planCache = { rate, gen: this.#streamsGen, plan: planBudget(this.#scheduler.intervals(), rate) };
    }
    return this.#planCache.plan;
  }

  #setStreams(config: Config): void {
    this.#streamsGen++;
    const watched = config.streams.map((s) => ({ id: s.id, intervalMs: s.intervalMs, labels: s.labels }));
    if (this.#discovery) {
      const listed = new Set(watched.map((w) => w.id));
      for (const id of [...this.#discovery.ids()]) {
        if (listed.has(id)) this.#discovery.drop(id);
        else watched.push({ id, intervalMs: config.probe.intervalMs, labels: {} });
      }
    }
    this.#store.setStreams(watched);
    this.#scheduler.setStreams(watched);
  }

  #newClient(config: Config, clockOffsetMs = 0): ZegoClient {
    const z = config.zego;
    return new ZegoClient({
      appId: z.appId,
      secret: z.serverSecret,
      endpoint: z.endpoint,
      isTest: z.isTest,
      timeoutMs: z.timeoutMs,
      sequence: this.#sequence,
      clockOffsetMs,
      now: this.#now,
      ...(this.#dispatcher ? { dispatcher: this.#dispatcher } : {}),
    });
  }
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
