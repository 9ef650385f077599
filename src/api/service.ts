import type { ZegoConfig } from '../config/types.js';
import { Budget, type Gate, type RunOptions } from '../scheduler/budget.js';
import { feedback } from '../scheduler/feedback.js';
import type { ApiAction } from '../zego/protocol.js';
import { ACTION_ROWS, configuredRate, limitOf, type ActionRow, type CallResult, type InputOf, type ResultOf } from './actions.js';

/** Sends one call of an Action (the running config's client: zego/current-client.ts). */
export interface ApiTransport {
  call<I, R extends CallResult>(row: ActionRow<I, R>, input: I, signal?: AbortSignal, sequence?: number): Promise<R>;
}

/** One API's budget, in the one shape /metrics (the `api`-labelled gauges), the landing page and the start-up log read. */
export interface ApiBudgetStatus {
  api: string;
  /** Calls/s paced at now (configured less back-off, less a fleet's fallback). */
  rateLimit: number;
  /** The config's budget for this API (rate_limit for DescribeRTCStreamState). */
  rateLimitConfigured: number;
  /** Calls (or subjects) past their due time waiting for a slot. */
  queueLength: number;
  /** Calls in flight plus calls within 1 s of their response. */
  slotsHeld: number;
  /** rate_limit / (1 + L) at the measured latency L. */
  achievableCallsPerSec: number;
  /** Slowest refresh any subject of this API gets (s); 0 when unknown. */
  achievableRefreshSec: number;
  /** Calls/s the configured intervals ask for. */
  demandPerSec: number;
}

/** What the user of a budget adds to its status: its own queue and the budget math over its subjects. */
export interface Workload {
  queueLength: number;
  demandPerSec: number;
  achievableRefreshSec: number;
}

interface ApiCallerOptions<I, R extends CallResult> {
  action: string;
  budget: Budget;
  /** Carries the gate's Sequence to the call (the row's `sequence`). */
  sequenced?: boolean;
  send: (input: I, signal: AbortSignal, sequence?: number) => Promise<R>;
  /** Every call made, whatever its answer (the self-metrics and the config-error tracker). */
  record?: (result: R) => void;
}

/**
 * One Action as a part sees it: its budget's slots, and a `send` inside each slot. Every call
 * sent through it is recorded and fed back to its budget (AIMD, slow mode) here, once for every
 * API, so no scheduler does either.
 */
export class ApiCaller<I, R extends CallResult = CallResult> {
  readonly action: string;
  readonly budget: Budget;
  readonly #opts: ApiCallerOptions<I, R>;
  #workload: ((rate: number) => Workload) | undefined;

  constructor(opts: ApiCallerOptions<I, R>) {
    this.action = opts.action;
    this.budget = opts.budget;
    this.#opts = opts;
  }

  /** Calls waiting in the budget for their turn. */
  get queued(): number {
    return this.budget.queued;
  }

  /** The rate the budget is configured at now (before back-off), for the budget math. */
  get rateLimit(): number {
    return this.budget.rateLimit;
  }

  /** Called each time a waiting call starts, i.e. the budget's queue has room for another. */
  onStart(listener: () => void): void {
    this.budget.onStart(listener);
  }

  /**
   * One slot of the budget. `fn` decides when the slot comes what, if anything, to send: `send`
   * may be called once (one call per slot is the slot rule). Resolves with fn's result, or
   * undefined when the call was cancelled through `opts.signal` or the budget stopped.
   */
  run<T>(fn: (send: (input: I) => Promise<R>, signal: AbortSignal) => Promise<T>, opts: RunOptions = {}): Promise<T | undefined> {
    return this.budget.run(async (signal, sequence) => {
      let sent = false;
      const send = async (input: I): Promise<R> => {
        if (sent) throw new Error(`${this.action}: one call per budget slot`);
        sent = true;
        const result = await this.#opts.send(input, signal, this.#opts.sequenced ? sequence : undefined);
        this.#opts.record?.(result);
        feedback(this.budget, result.outcome);
        return result;
      };
      return fn(send, signal);
    }, opts);
  }

  /** One call of `input` in the next free slot. */
  call(input: I, opts: RunOptions = {}): Promise<R | undefined> {
    return this.run((send) => send(input), opts);
  }

  /** Tells the status what this API's user adds (its queue, demand and refresh at `rate`), read at scrape time. */
  describe(workload: (rate: number) => Workload): void {
    this.#workload = workload;
  }

  status(configured: number): ApiBudgetStatus {
    const b = this.budget;
    const w = this.#workload?.(b.effectiveRate) ?? { queueLength: b.queued, demandPerSec: 0, achievableRefreshSec: 0 };
    return {
      api: this.action,
      rateLimit: b.effectiveRate,
      rateLimitConfigured: configured,
      queueLength: w.queueLength,
      slotsHeld: b.slotsHeld,
      achievableCallsPerSec: b.achievableRate,
      achievableRefreshSec: Number.isFinite(w.achievableRefreshSec) ? w.achievableRefreshSec : 0,
      demandPerSec: w.demandPerSec,
    };
  }
}

export interface ApiServiceOptions {
  zego: ZegoConfig;
  transport: ApiTransport;
  now?: () => number;
  /** The Actions table; default the product's (api/actions.ts). A test adds a made-up Action here. */
  actions?: readonly ActionRow<never>[];
  /**
   * Fleet mode: the shared budget of an Action at its configured rate, asked when its budget is
   * built; told each new configured rate after a reload.
   */
  gate?: (action: string, configured: number) => BackendGate | undefined;
  /** The rate an Action's budget may spend given its configured one (a fleet's fallback). */
  rate?: (action: string, configured: number) => number;
  /** Every call of any Action: the `api`-labelled self-metrics and the config-error tracker. */
  record?: (action: string, result: CallResult) => void;
}

/** A budget's admission beyond this process (the fleet's), which follows the configured rate. */
export interface BackendGate extends Gate {
  setRateLimit?(configured: number): void;
}

interface Entry {
  row: ActionRow<never>;
  caller: ApiCaller<never>;
  rate: (configured: number) => number;
  gate: BackendGate | undefined;
}

/**
 * The API service: one budget per Action in use (built on its first `api()`), at the row's limit
 * for the environment and the config's rate, each sending through the running client. Parts get
 * callers from it (`ctx.api(name)`); its status() is every budget in one shape.
 */
export class ApiService {
  readonly #opts: ApiServiceOptions;
  readonly #rows = new Map<string, ActionRow<never>>();
  readonly #entries = new Map<string, Entry>();
  #zego: ZegoConfig;

  constructor(opts: ApiServiceOptions) {
    this.#opts = opts;
    this.#zego = opts.zego;
    for (const row of opts.actions ?? ACTION_ROWS) {
      if (this.#rows.has(row.name)) throw new Error(`Action ${row.name} is in the table twice`);
      if (!(row.limit.production > 0 && row.limit.test > 0)) throw new Error(`Action ${row.name}: limits must be above 0`);
      this.#rows.set(row.name, row);
    }
  }

  /** The Action's row, or undefined when the table has none. */
  row(name: string): ActionRow<never> | undefined {
    return this.#rows.get(name);
  }

  /**
   * The caller of an Action, its budget built on first use (the same caller after). Its gate and
   * the rate it may spend come from the service's providers (the fleet's), never from the caller:
   * every part spending an Action shares one budget on the same terms.
   */
  api<A extends ApiAction>(name: A): ApiCaller<InputOf<A>, ResultOf<A>>;
  api<I = unknown, R extends CallResult = CallResult>(name: string): ApiCaller<I, R>;
  api(name: string): ApiCaller<never> {
    const known = this.#entries.get(name);
    if (known) return known.caller;
    const row = this.#rows.get(name);
    if (!row) throw new Error(`unknown Action ${name}: add a row to the Actions table (src/api/actions.ts)`);
    const own = this.#opts.rate;
    const rate = own ? (r: number) => own(name, r) : (r: number) => r;
    const gate: BackendGate | undefined = this.#opts.gate?.(name, configuredRate(row, this.#zego));
    const budget = new Budget({
      rateLimit: rate(configuredRate(row, this.#zego)),
      hardLimit: limitOf(row, this.#zego.isTest),
      ...(this.#opts.now ? { now: this.#opts.now } : {}),
      ...(gate ? { gate } : {}),
    });
    // The table holds rows of every input type; this caller sends only its own row's inputs.
    const typed = row as unknown as ActionRow<unknown>;
    const caller = new ApiCaller<unknown>({
      action: name,
      budget,
      sequenced: row.sequence,
      send: (input, signal, sequence) => this.#opts.transport.call(typed, input, signal, sequence),
      record: (result) => this.#opts.record?.(name, result),
    });
    this.#entries.set(name, { row, caller, rate, gate });
    return caller;
  }

  /** Every budget in use, in table order. */
  status(): ApiBudgetStatus[] {
    const out: ApiBudgetStatus[] = [];
    for (const name of this.#rows.keys()) {
      const e = this.#entries.get(name);
      if (e) out.push(e.caller.status(configuredRate(e.row, this.#zego)));
    }
    return out;
  }

  /** A reloaded config: each budget whose rate changed is re-paced (slots and back-off kept). */
  applyConfig(zego: ZegoConfig): void {
    this.#zego = zego;
    for (const e of this.#entries.values()) e.gate?.setRateLimit?.(configuredRate(e.row, zego));
    this.rateChanged();
  }

  /** A gate's mode or a configured rate changed: every budget takes the rate it may spend now. */
  rateChanged(): void {
    for (const e of this.#entries.values()) {
      const rate = e.rate(configuredRate(e.row, this.#zego));
      if (rate !== e.caller.budget.rateLimit) e.caller.budget.setRateLimit(rate);
    }
  }

  /** Stops every budget: waiting calls are dropped, calls in flight get `graceMs` to finish. */
  async stop(graceMs: number): Promise<void> {
    await Promise.all([...this.#entries.values()].map((e) => e.caller.budget.stop(graceMs)));
  }
}
