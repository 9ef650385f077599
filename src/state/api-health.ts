import type { Logger } from 'pino';
import type { FailureReason, ProbeResult } from '../zego/outcome.js';

/**
 * Failures that concern the whole AppID: logged once when they start and once when they end.
 * Configuration errors are ApiConfigErrors' (one line per API and code, with what to do).
 */
const APP_WIDE: ReadonlySet<FailureReason> = new Set(['auth', 'clock_skew', 'throttled']);

const MESSAGES: Record<string, string> = {
  auth: 'ZEGO API rejects our credentials: check app_id and server_secret',
  clock_skew: 'ZEGO API reports a timestamp error: correcting from its Date header; check the host clock',
  throttled: 'ZEGO API is throttling this AppID: backing off (other callers share its budget)',
};

export interface ApiHealthOptions {
  logger: Logger;
  now?: () => number;
  /** Transient failures are summarised at most this often. */
  summaryEveryMs?: number;
}

/** Turns a stream of per-call results into a few log lines an operator can act on. */
export class ApiHealth {
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #summaryEveryMs: number;
  #condition: FailureReason | 'ok' = 'ok';
  #transient = 0;
  #lastTransientMessage = '';
  #lastSummaryAt = Number.NEGATIVE_INFINITY;

  constructor(opts: ApiHealthOptions) {
    this.#log = opts.logger;
    this.#now = opts.now ?? Date.now;
    this.#summaryEveryMs = opts.summaryEveryMs ?? 60_000;
  }

  get condition(): FailureReason | 'ok' {
    return this.#condition;
  }

  note(streamId: string, result: ProbeResult): void {
    const o = result.outcome;
    if (o.kind === 'failed' && o.reason === 'config') return;
    if (o.kind === 'failed' && APP_WIDE.has(o.reason)) {
      if (this.#condition !== o.reason) {
        this.#condition = o.reason;
        const level = o.reason === 'auth' ? 'error' : 'warn';
        this.#log[level]({ code: result.code, outcome: o.reason, stream_id: streamId, detail: o.message }, MESSAGES[o.reason] ?? o.message);
      }
      return;
    }
    if (o.kind === 'failed') {
      if (o.reason === 'stream_config') {
        this.#log.warn({ code: result.code, stream_id: streamId, detail: o.message }, 'ZEGO API rejects this stream id');
        return;
      }
      this.#transient++;
      this.#lastTransientMessage = `${result.code}: ${o.message}`;
      const now = this.#now();
      if (now - this.#lastSummaryAt >= this.#summaryEveryMs) {
        this.#log.warn({ failures: this.#transient, last_error: this.#lastTransientMessage, stream_id: streamId }, 'probe failures (transient; state kept)');
        this.#transient = 0;
        this.#lastSummaryAt = now;
      }
      return;
    }
    if (this.#condition !== 'ok') {
      this.#log.info({ code: result.code, previous: this.#condition }, 'ZEGO API calls succeeding again');
      this.#condition = 'ok';
    }
  }
}
