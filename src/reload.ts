import type { Logger } from 'pino';
import { loadConfigIsolated } from './config/isolated.js';
import { formatConfigError, formatConfigWarning, type LoadResult } from './config/load.js';
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
 * Re-reads the config file and applies it when it is valid and different. SIGHUP, POST /-/reload
 * and the file watcher may fire together, and /-/reload may be hammered: at most one reload runs
 * and one waits. Every trigger that arrives while one waits joins it and gets its result, since a
 * reload that starts after the trigger reads the file as it is then. So any number of triggers
 * cost at most two loads, and a trigger is answered within about two load times. A bad file
 * leaves the running config untouched.
 */
export class Reloader {
  readonly #file: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #target: ReloadTarget;
  readonly #status: ReloadStatus;
  readonly #log: Logger;
  readonly #load: (file: string, env: NodeJS.ProcessEnv) => Promise<LoadResult>;
  #hash: string;
  #running: Promise<ReloadResult> | undefined;
  #waiting: Promise<ReloadResult> | undefined;

  constructor(opts: {
    file: string;
    env: NodeJS.ProcessEnv;
    target: ReloadTarget;
    status: ReloadStatus;
    logger: Logger;
    hash: string;
    /** How the file is loaded: in a worker with a timeout and a heap limit unless a test says otherwise. */
    load?: (file: string, env: NodeJS.ProcessEnv) => Promise<LoadResult>;
  }) {
    this.#file = opts.file;
    this.#env = opts.env;
    this.#target = opts.target;
    this.#status = opts.status;
    this.#log = opts.logger;
    this.#hash = opts.hash;
    this.#load = opts.load ?? loadConfigIsolated;
  }

  reload(trigger: string): Promise<ReloadResult> {
    if (this.#waiting) return this.#waiting;
    if (!this.#running) return this.#run(trigger);
    const waiting = this.#running.then(() => {
      this.#waiting = undefined;
      return this.#run(trigger);
    });
    this.#waiting = waiting;
    return waiting;
  }

  #run(trigger: string): Promise<ReloadResult> {
    const run = this.#reload(trigger).catch((err: unknown): ReloadResult => {
      // A bug, not a bad file: the reload fails like a bad file would, loudly.
      this.#status.mark(false);
      this.#log.error({ trigger, err }, 'config reload failed, keeping the running config');
      return { ok: false, error: 'internal error (see the log)' };
    });
    this.#running = run;
    void run.then(() => {
      if (this.#running === run) this.#running = undefined;
    });
    return run;
  }

  async #reload(trigger: string): Promise<ReloadResult> {
    const loaded = await this.#load(this.#file, this.#env);
    if (!loaded.ok) {
      const error = loaded.errors.map((e) => formatConfigError(e, this.#file)).join('; ');
      this.#status.mark(false);
      this.#log.error({ trigger, errors: loaded.errors.length }, `config reload failed, keeping the running config: ${error}`);
      return { ok: false, error };
    }
    for (const w of loaded.warnings) this.#log.warn({ trigger }, formatConfigWarning(w, this.#file));
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
