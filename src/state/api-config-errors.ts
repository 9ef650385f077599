import type { Logger } from 'pino';
import { configErrorAdvice } from '../zego/codes.js';
import type { ApiCallMeta, FailureReason } from '../zego/outcome.js';

/** One API call as far as this tracker cares: its code label and how it was read. */
export type ConfigErrorInput = ApiCallMeta & { outcome: { kind: string; reason?: FailureReason } };

/** A configuration error that is or was in force for one API and code. */
export interface ApiConfigError {
  /** The Action (a row of the Actions table). */
  api: string;
  code: string;
  /** True while it lasts: no answer of that API since said otherwise. */
  active: boolean;
  /** What the operator must do, in one line (no secret in it). */
  advice: string;
  sinceMs: number;
}

export interface ApiConfigErrorsOptions {
  logger: Pick<Logger, 'error' | 'info'>;
  appId: () => number;
  now?: () => number;
}

/**
 * Configuration errors (codes no retry can fix: a service not enabled, an unknown AppID, IsTest
 * wrong, no permission) per API and code. They last until that API answers with any other ZEGO
 * code: a timeout or a network error says nothing either way. One log line when one starts and one
 * when it ends, per API and code, however slowly the budget retries meanwhile; the gauge
 * (zego_exporter_api_config_error) holds 1 while it lasts and 0 after, so an alert fires on it
 * whatever the call rate.
 */
export class ApiConfigErrors {
  readonly #opts: ApiConfigErrorsOptions;
  readonly #now: () => number;
  /** Keyed `api code`; a handful at most (the table's config codes × the APIs in use). */
  readonly #errors = new Map<string, ApiConfigError>();

  constructor(opts: ApiConfigErrorsOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
  }

  note(api: string, result: ConfigErrorInput): void {
    const o = result.outcome;
    if (o.kind === 'failed' && o.reason === 'config') {
      const key = `${api} ${result.code}`;
      const known = this.#errors.get(key);
      if (known?.active) return;
      const advice = configErrorAdvice(api, Number(result.code), this.#opts.appId());
      this.#errors.set(key, { api, code: result.code, active: true, advice, sinceMs: this.#now() });
      this.#opts.logger.error({ api, code: result.code }, advice);
      return;
    }
    // Only an answer from ZEGO (a numeric Code) shows the setup changed.
    if (!/^\d+$/.test(result.code)) return;
    for (const e of this.#errors.values()) {
      if (e.api !== api || !e.active) continue;
      e.active = false;
      e.sinceMs = this.#now();
      this.#opts.logger.info({ api, code: e.code, now_code: result.code }, `${api} answers again: the configuration error ${e.code} is over`);
    }
  }

  /** Every API and code seen since start, active or over: the gauge's series. */
  all(): readonly ApiConfigError[] {
    return [...this.#errors.values()];
  }

  /** Lines for the landing page: the errors in force now. */
  landing(): string[] {
    return this.all()
      .filter((e) => e.active)
      .map((e) => `Configuration error (${e.api}, code ${e.code}): ${e.advice}`);
  }
}
