import type { Logger } from 'pino';
import { loadConfigIsolated } from './config/isolated.js';
import { formatConfigError } from './config/load.js';
import { restartOnlyChanges } from './config/restart.js';
import type { Exporter } from './exporter.js';

export type ReloadResult = { ok: true; changed: boolean } | { ok: false; error: string };

/**
 * Re-reads the config file and applies it when it is valid and different. Reloads run one at a
 * time (SIGHUP, POST /-/reload and the file watcher may fire together); a bad file leaves the
 * running config untouched.
 */
export class Reloader {
  readonly #file: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #exporter: Exporter;
  readonly #log: Logger;
  #hash: string;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(opts: { file: string; env: NodeJS.ProcessEnv; exporter: Exporter; logger: Logger; hash: string }) {
    this.#file = opts.file;
    this.#env = opts.env;
    this.#exporter = opts.exporter;
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
      this.#exporter.markReload(false);
      this.#log.error({ trigger, errors: loaded.errors.length }, `config reload failed, keeping the running config: ${error}`);
      return { ok: false, error };
    }
    if (loaded.hash === this.#hash) {
      this.#exporter.markReload(true);
      this.#log.debug({ trigger }, 'config unchanged');
      return { ok: true, changed: false };
    }
    const pending = restartOnlyChanges(this.#exporter.config, loaded.config);
    this.#exporter.applyConfig(loaded.config);
    this.#hash = loaded.hash;
    this.#exporter.markReload(true);
    this.#log.info({ trigger, streams: loaded.config.streams.length, rate_limit: loaded.config.zego.rateLimit }, 'config reloaded');
    if (pending.length > 0) {
      this.#log.warn({ trigger, settings: pending }, `config reloaded, but ${pending.join(', ')} changed and only take effect after a restart; the running process keeps the old values`);
    }
    return { ok: true, changed: true };
  }
}
