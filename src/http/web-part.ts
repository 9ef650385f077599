import type { Logger } from 'pino';
import { formatConfigError } from '../config/load.js';
import { ConfigWatcher } from '../config/watch.js';
import type { Part, PartGauge } from '../parts/part.js';
import { loadWebConfigIsolated } from './web-config.js';
import type { WebSecurity } from './web-security.js';

export interface WebConfigPartOptions {
  file: string;
  security: WebSecurity;
  logger: Logger;
  /** Re-read on changes on disk (off with --no-config.watch: SIGHUP still reloads). */
  watch: boolean;
  now?: () => number;
  debounceMs?: number;
  pollMs?: number;
}

/**
 * Keeps the running web config in step with `--web.config.file` and the files it names: a new
 * certificate from cert-manager, a user added. Its own watcher, because the file is not part of the
 * main config and a certificate rotation must not reload the streams. A bad new file keeps the
 * running one, logs why and sets zego_exporter_web_config_last_reload_successful to 0.
 */
export class WebConfigPart implements Part {
  readonly name = 'web-config';
  readonly gauges: readonly PartGauge[];
  readonly #opts: WebConfigPartOptions;
  readonly #now: () => number;
  #watcher: ConfigWatcher | null = null;
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
    if (!this.#opts.watch) return;
    this.#watcher = new ConfigWatcher({
      paths: () => [this.#opts.file, ...this.#opts.security.config.files],
      onChange: () => void this.reload('file'),
      logger: this.#opts.logger,
      ...(this.#opts.debounceMs !== undefined ? { debounceMs: this.#opts.debounceMs } : {}),
      ...(this.#opts.pollMs !== undefined ? { pollMs: this.#opts.pollMs } : {}),
    });
    await this.#watcher.start();
    // A change between the first read and the watcher's baseline would be missed: check once now (free when nothing changed).
    void this.reload('file');
  }

  applyConfig(): void {
    // The web config has its own file; the main config's reloads do not touch it.
  }

  async stop(): Promise<void> {
    this.#watcher?.close();
    this.#watcher = null;
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
