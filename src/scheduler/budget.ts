import PQueue from 'p-queue';

export interface BudgetOptions {
  /** Calls per second this process may spend. */
  rateLimit: number;
  /** The API's own ceiling (40, or 10 in the test environment): never two sends closer than 1/this. */
  hardLimit: number;
  /** How long after the last throttling answer the rate starts climbing again. */
  recoverAfterMs?: number;
  /** Seconds to climb from 0 back to `rateLimit`. */
  climbSeconds?: number;
  now?: () => number;
  /** Fleet mode: a budget shared with other processes, asked before every send (see src/fleet/). */
  gate?: Gate;
}

/**
 * Admission beyond this process: acquire() resolves once the call may be sent (or null when
 * `signal` aborts), and the ticket is released when the response has ended.
 */
export interface Gate {
  acquire(signal: AbortSignal): Promise<GateTicket | null>;
}

export interface GateTicket {
  release(): void;
  /** The call's Sequence when the gate hands them out (fleet mode); absent: the client's own counter. */
  sequence?: number;
}

export interface RunOptions {
  /** Aborting removes a waiting call from the queue: a stream removed meanwhile costs nothing. */
  signal?: AbortSignal;
}

/** Slow pace while the AppID's credentials or config are rejected: keep trying, but quietly. */
const SLOW_MODE_RATE = 1;
/** A slot stays held this long after its call's response ends (see Budget). */
export const HOLD_MS = 1000;
/** The back-off never goes below this rate (calls/s). */
const MIN_RATE = 0.5;
/**
 * A throttling answer keeps this share of the rate. 0.8 rather than TCP's 0.5 or the 0.7 used
 * before: the saw-tooth under another caller's load then averages ≥ 80% of what that caller leaves
 * (0.7 gave 77–79% in `npm run bench -- --only adaptive`), while one cut still takes the rate under
 * what is left within a second or two, and throttled calls stay under 1%.
 */
const BACKOFF_FACTOR = 0.8;

/**
 * Weight of each new response time in the latency average: about the last 40 calls count, so one
 * slow call barely moves it and the average settles within seconds at any useful rate.
 */
const LATENCY_WEIGHT = 0.05;

/**
 * The API counts calls when they arrive, and we only know a call arrived somewhere between sending
 * it and the end of its response. So a call holds one of `rate` slots from the moment it is sent
 * until `HOLD_MS` (1 s) after its response ends: every call that arrives in a server second (t-1, t]
 * still holds its slot at t, hence no server second ever counts more than `rate` calls, whatever
 * the network does. p-queue's `concurrency` is that slot count. On top, calls start evenly spaced
 * (1/rate apart, with p-queue's strict interval as a hard floor), never in a batch.
 *
 * Throttling answers (the AppID's budget is shared with other callers) cut the rate
 * multiplicatively; after a quiet spell it climbs back linearly (AIMD), so the exporter settles
 * just under what the others leave.
 */
export class Budget {
  readonly #queue: PQueue;
  readonly #recoverAfterMs: number;
  readonly #climbSeconds: number;
  readonly #now: () => number;
  /**
   * One controller per call in flight, aborted by stop(). Not one shared signal: every call (the
   * client, undici) listens on its signal, and more than 10 listeners on one signal trip Node's
   * MaxListenersExceededWarning at saturation.
   */
  readonly #inFlight = new Set<AbortController>();
  /** Aborts at once on stop(), unlike calls in flight: only waits for the gate listen to it. */
  readonly #stopping = new AbortController();
  readonly #gate: Gate | undefined;
  readonly #holds = new Set<() => void>();
  /** Calls not started yet: stop() settles them, since p-queue's clear() just drops them. */
  readonly #waiting = new Set<() => void>();
  #rateLimit: number;
  #rate: number;
  #slowMode = false;
  #nextStartAt = 0;
  #lastCutAt = Number.NEGATIVE_INFINITY;
  #lastClimbAt = Number.NEGATIVE_INFINITY;
  #stopped = false;
  /** Moving average of send → end of response, ms; null until the first call has settled. */
  #latencyMs: number | null = null;

  constructor(opts: BudgetOptions) {
    this.#recoverAfterMs = opts.recoverAfterMs ?? 5000;
    this.#climbSeconds = opts.climbSeconds ?? 60;
    this.#now = opts.now ?? Date.now;
    this.#gate = opts.gate;
    this.#rateLimit = opts.rateLimit;
    this.#rate = opts.rateLimit;
    this.#queue = new PQueue({
      concurrency: slotsFor(opts.rateLimit),
      intervalCap: 1,
      interval: Math.ceil(1000 / opts.hardLimit),
      strict: true,
    });
  }

  /** The rate calls are paced at now: the configured limit, less back-off, less slow mode. */
  get effectiveRate(): number {
    return this.#slowMode ? Math.min(this.#rate, SLOW_MODE_RATE) : this.#rate;
  }

  get rateLimit(): number {
    return this.#rateLimit;
  }

  /** Called each time a waiting call starts, i.e. the queue has room for another. */
  onStart(listener: () => void): void {
    this.#queue.on('active', listener);
  }

  /** Calls waiting for their turn. */
  get queued(): number {
    return this.#queue.size;
  }

  /** Slots held: calls in flight plus calls in their hold second. */
  get slotsHeld(): number {
    return this.#queue.pending;
  }

  /**
   * Calls/s the slot rule really yields at the measured latency L (s): a call holds its slot for
   * L + 1 s, so rate_limit / (1 + L), counted in whole slots and never above rate_limit (the
   * spacing). It is the configured limit, before throttling back-off: back-off is the API's
   * doing, not a shortfall of the budget. Before the first response L counts as 0.
   */
  get achievableRate(): number {
    const slotSec = (HOLD_MS + (this.#latencyMs ?? 0)) / 1000;
    return Math.min(this.#rateLimit, slotsFor(this.#rateLimit) / slotSec);
  }

  /**
   * Resolves with fn's result as soon as fn settles (or undefined when cancelled or stopped), while
   * the slot stays held for `HOLD_MS` more. fn gets a signal that aborts on stop().
   */
  run<T>(fn: (signal: AbortSignal, sequence?: number) => Promise<T>, opts: RunOptions = {}): Promise<T | undefined> {
    return new Promise<T | undefined>((resolve, reject) => {
      const abandon = (): void => resolve(undefined);
      this.#waiting.add(abandon);
      const task = async (): Promise<void> => {
        this.#waiting.delete(abandon);
        if (this.#stopped || opts.signal?.aborted) return resolve(undefined);
        await this.#pace();
        if (this.#stopped || opts.signal?.aborted) return resolve(undefined);
        // Inside the task: the local slot is held while waiting for the fleet's, so the local rule
        // (rate slots, each held until 1 s after the response) holds whatever the gate does.
        const ticket = this.#gate ? await this.#gate.acquire(this.#stopping.signal) : undefined;
        if (ticket === null || this.#stopped) {
          ticket?.release();
          return resolve(undefined);
        }
        const call = new AbortController();
        this.#inFlight.add(call);
        const sentAt = this.#now();
        try {
          resolve(await fn(call.signal, ticket?.sequence));
        } catch (err) {
          reject(err);
        } finally {
          this.#noteLatency(this.#now() - sentAt);
          this.#inFlight.delete(call);
          ticket?.release();
          await this.#hold();
        }
      };
      this.#queue.add(task, opts.signal ? { signal: opts.signal } : {}).catch((err: unknown) => {
        this.#waiting.delete(abandon);
        if (opts.signal?.aborted) resolve(undefined);
        else reject(err);
      });
    });
  }

  /** A throttling answer: cut once per hold period (one burst of answers is one signal). */
  noteThrottled(): void {
    const now = this.#now();
    if (now - this.#lastCutAt >= HOLD_MS) {
      this.#rate = Math.max(MIN_RATE, Math.min(this.#rate, this.#rateLimit) * BACKOFF_FACTOR);
      this.#lastCutAt = now;
      this.#applyConcurrency();
    }
    this.#lastClimbAt = now;
  }

  /** A call the API did not throttle: climb back towards the limit after a quiet spell. */
  noteAccepted(): void {
    const now = this.#now();
    if (this.#rate >= this.#rateLimit || now - this.#lastCutAt < this.#recoverAfterMs) {
      this.#lastClimbAt = now;
      return;
    }
    const elapsedSec = Math.max(0, now - Math.max(this.#lastClimbAt, this.#lastCutAt + this.#recoverAfterMs)) / 1000;
    this.#rate = Math.min(this.#rateLimit, this.#rate + (this.#rateLimit / this.#climbSeconds) * elapsedSec);
    this.#lastClimbAt = now;
    this.#applyConcurrency();
  }

  setSlowMode(on: boolean): void {
    if (this.#slowMode === on) return;
    this.#slowMode = on;
    this.#applyConcurrency();
  }

  get slowMode(): boolean {
    return this.#slowMode;
  }

  /**
   * A reloaded rate_limit. Lowering it is safe at once: p-queue starts nothing new until fewer than
   * the new number of slots are held, so no server second sees more than the new limit.
   */
  setRateLimit(rateLimit: number): void {
    const backedOff = this.#rate / this.#rateLimit;
    this.#rateLimit = rateLimit;
    this.#rate = Math.max(MIN_RATE, Math.min(rateLimit, rateLimit * backedOff));
    this.#applyConcurrency();
  }

  /**
   * Drops waiting calls and releases holds, lets calls in flight finish for up to `graceMs`, then
   * aborts them; resolves once all have settled. Used at shutdown only: a reload keeps the budget.
   */
  async stop(graceMs = 2000): Promise<void> {
    this.#stopped = true;
    this.#stopping.abort();
    this.#queue.clear();
    for (const abandon of this.#waiting) abandon();
    this.#waiting.clear();
    for (const release of this.#holds) release();
    const idle = this.#queue.onIdle();
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
    });
    await Promise.race([idle, grace]);
    clearTimeout(timer);
    const reason = new Error('exporter stopping');
    for (const call of this.#inFlight) call.abort(reason);
    await idle;
  }

  #noteLatency(ms: number): void {
    this.#latencyMs = this.#latencyMs === null ? ms : this.#latencyMs + LATENCY_WEIGHT * (ms - this.#latencyMs);
  }

  async #pace(): Promise<void> {
    const now = this.#now();
    const startAt = Math.max(now, this.#nextStartAt);
    this.#nextStartAt = startAt + 1000 / this.effectiveRate;
    if (startAt > now) await this.#sleep(startAt - now);
  }

  /**
   * HOLD_MS of real time from now. A timer counts from the event loop's cached clock, which lags
   * real time by however long the current turn has run; under load it would fire early and a
   * second could see one call too many. So the remainder is slept until the clock agrees.
   */
  async #hold(): Promise<void> {
    const until = performance.now() + HOLD_MS;
    for (let left = HOLD_MS; left > 0 && !this.#stopped; left = until - performance.now()) await this.#sleep(Math.ceil(left));
  }

  #sleep(ms: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const release = (): void => {
        clearTimeout(timer);
        this.#holds.delete(release);
        resolve();
      };
      const timer = setTimeout(release, ms);
      this.#holds.add(release);
    });
  }

  #applyConcurrency(): void {
    this.#queue.concurrency = slotsFor(this.effectiveRate);
  }
}

/** Whole slots only, rounded down: 7.5/s may hold 7 calls, never 8. */
function slotsFor(rate: number): number {
  return Math.max(1, Math.floor(rate));
}
