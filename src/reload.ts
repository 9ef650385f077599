import type { Logger } from 'pino';
import { loadConfigIsolated } from './config/isolated.js';
import { formatConfigError } from './config/load.js';
import { restartOnlyChanges } from './config/restart.js';
import type { Config } from './config/types.js';

export type ReloadResult = { ok: true; changed: boolean } | { ok: false; error: string };

/** What a reload changes: the running config, applied in place. */
export interface ReloadTarget {
  readonly config: Config;
  applyConfig(config: Config): void;
}

/**
 * zego_exporter_config_last_reload_*: kept by whoever loads the config (as blackbox_exporter
 * does), written only by the Reloader, read by the self-metrics at scrape time.
 */
export class ReloadStatus {
  #successful = true;
  #successAtSec: number;
  readonly #now: () => number;

  /** The first load, at start, counts as the first successful one. */
  constructor(now: () => number = Date.now) {
    this.#now = now;
    this.#successAtSec = now() / 1000;
  }

  get successful(): boolean {
    return this.#successful;
  }

  get successAtSec(): number {
    return this.#successAtSec;
  }

  mark(ok: boolean): void {
    this.#successful = ok;
    if (ok) this.#successAtSec = this.#now() / 1000;
  }
}

/**
 * Re-reads the config file and applies it when it is valid and different. Reloads run one at a
 * time (SIGHUP, POST /-/reload and the file watcher may fire together); a bad file leaves the
 * running config untouched.
 */
export class Reloader {
  readonly #file: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #target: ReloadTarget;
  readonly #status: ReloadStatus;
  readonly #log: Logger;
  #hash: string;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(opts: { file: string; env: NodeJS.ProcessEnv; target: ReloadTarget; status: ReloadStatus; logger: Logger; hash: string }) {
    this.#file = opts.file;
    this.#env = opts.env;
    this.#target = opts.target;
    this.#status = opts.status;
    this.#log = opts.logger;
    this.#hash = opts.hash;
  }

  reload(trigger: string): Promise<ReloadResult> {
    const next = this.#chain.then(() => this.#reload(trigger));
    this.#chain = next.catch(() => undefined);
    return next;
  }

  async #reload(trigger: string): Promise<ReloadResult> {
    const loaded = await loadConfigIsolated(this.#file, this.#env);
    if (!loaded.ok) {
      const error = loaded.errors.map((e) => formatConfigError(e, this.#file)).join('; ');
      this.#status.mark(false);
      this.#log.error({ trigger, errors: loaded.errors.length }, `config reload failed, keeping the running config: ${error}`);
      return { ok: false, error };
    }
    if (loaded.hash === this.#hash) {
      this.#status.mark(true);
      this.#log.debug({ trigger }, 'config unchanged');
      return { ok: true, changed: false };
    }
    const pending = restartOnlyChanges(this.#target.config, loaded.config);
    this.#target.applyConfig(loaded.config);
    this.#hash = loaded.hash;
    this.#status.mark(true);
    this.#log.info({ trigger, streams: loaded.config.streams.length, rate_limit: loaded.config.zego.rateLimit }, 'config reloaded');
    if (pending.length > 0) {
      this.#log.warn(
        { trigger, settings: pending },
        `config reloaded, but ${pending.join(', ')} changed and only take effect after a restart; the running process keeps the old values`,
      );
    }
    return { ok: true, changed: true };
  }
}
