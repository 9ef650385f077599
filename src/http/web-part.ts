import type { Logger } from 'pino';
import { formatConfigError } from '../config/load.js';
import type { Config } from '../config/types.js';
import type { Part, PartContext, PartGauge } from '../parts/part.js';
import { loadWebConfigIsolated } from './web-config.js';
import type { WebSecurity } from './web-security.js';

export interface WebConfigPartOptions {
  file: string;
  security: WebSecurity;
  logger: Logger;
  now?: () => number;
}

/**
 * Keeps the running web config in step with `--web.config.file` and the files it names: a new
 * certificate from cert-manager, a user added. The file is not part of the main config, so it has a
 * reload of its own: on SIGHUP and when a watched file changes (its files are watched with the
 * config's), never on POST /-/reload, and a certificate rotation never reloads the streams. A bad
 * new file keeps the running one, logs why and sets zego_exporter_web_config_last_reload_successful to 0.
 */
export class WebConfigPart implements Part {
  readonly name = 'web-config';
  readonly gauges: readonly PartGauge[];
  readonly #opts: WebConfigPartOptions;
  readonly #now: () => number;
  #successful = true;
  #successAtSec: number;
  #chain: Promise<unknown> = Promise.resolve();

  constructor(opts: WebConfigPartOptions) {
    this.#opts = opts;
    this.#now = opts.now ?? Date.now;
    this.#successAtSec = this.#now() / 1000;
    this.gauges = [
      {
        name: 'zego_exporter_web_config_last_reload_successful',
        help: 'Whether the last read of --web.config.file (and the certificate, key and CA files it names) succeeded; 0: the previous web config is still in use.',
        read: () => (this.#successful ? 1 : 0),
      },
      {
        name: 'zego_exporter_web_config_last_reload_success_timestamp_seconds',
        help: 'When --web.config.file was last read successfully (Unix seconds).',
        read: () => this.#successAtSec,
      },
    ];
  }

  async start(): Promise<void> {
    // Read before the exporter started; the watcher (main.ts) checks once more once it watches.
  }

  applyConfig(): void {
    // The web config has its own file; the main config's reloads do not touch it.
  }

  async stop(): Promise<void> {
    // Nothing open: the listeners that use the web config are closed by whoever opened them.
  }

  /** The web config file and the certificate, key and CA files it names, as the running web config names them. */
  files(): string[] {
    return [this.#opts.file, ...this.#opts.security.config.files];
  }

  /** Counts and modes only: never a user name, a hash or a path. */
  landing(): string {
    const c = this.#opts.security.config;
    const tls = c.tls ? `TLS (client certificates: ${c.tls.clientAuth})` : 'no TLS';
    const users = c.users.size === 0 ? 'no basic auth' : `basic auth for ${c.users.size} user${c.users.size === 1 ? '' : 's'}`;
    return `Web config: ${tls}, ${users}${this.#successful ? '' : '; the last reload failed, the previous web config is in use'}.`;
  }

  /** One at a time; resolves with whether the file was good. */
  reload(trigger: string): Promise<boolean> {
    const next = this.#chain.then(() => this.#reload(trigger));
    this.#chain = next.catch(() => undefined);
    return next;
  }

  async #reload(trigger: string): Promise<boolean> {
    const log = this.#opts.logger;
    const loaded = await loadWebConfigIsolated(this.#opts.file);
    if (!loaded.ok) {
      this.#successful = false;
      const error = loaded.errors.map((e) => formatConfigError(e, this.#opts.file)).join('; ');
      log.error({ trigger, errors: loaded.errors.length }, `web config reload failed, keeping the running web config: ${error}`);
      return false;
    }
    this.#successful = true;
    this.#successAtSec = this.#now() / 1000;
    if (loaded.config.digest === this.#opts.security.config.digest) return true;
    const pending = this.#opts.security.apply(loaded.config);
    const c = loaded.config;
    log.info({ trigger, tls: c.tls !== undefined, users: c.users.size, headers: Object.keys(c.headers).length }, 'web config reloaded');
    if (pending !== null) log.warn({ trigger }, `web config reloaded, but ${pending}`);
    return true;
  }
}

/** On with --web.config.file: the web security the process runs with, and the file it was read from. */
export function webConfigPart(_config: Config, ctx: PartContext): Part | null {
  const web = ctx.web;
  if (web?.file === undefined) return null;
  return new WebConfigPart({ file: web.file, security: web, logger: ctx.logger, now: ctx.now });
}
