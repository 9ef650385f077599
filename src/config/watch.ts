import { watch, type FSWatcher } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { digestFilesIsolated } from './isolated.js';
import type { Logger } from 'pino';

export interface ConfigWatcherOptions {
  /** The files whose change means "reload": the config file and the secret file, if any. Read at every check. */
  paths: () => readonly string[];
  /** Called once per change (after the debounce); the reloader validates and applies. */
  onChange: (trigger: 'file') => void;
  logger: Logger;
  debounceMs?: number;
  /** fs.watch misses events on some volumes (NFS, some overlay setups): compare contents this often anyway. */
  pollMs?: number;
}

/**
 * Watches the DIRECTORIES holding the config (and secret) files, not the files: a Kubernetes
 * ConfigMap or Secret update never writes `config.yaml`; it points the `..data` symlink at a new
 * timestamped directory, so a watch on the file (an inode) would keep seeing the old one. Any event
 * in the directory, or the poll, re-reads the files through their symlinks and compares a digest
 * of their contents with the last one seen; only a difference calls onChange. So editor temp files,
 * touch, and a swap to identical contents cost one read and nothing else.
 */
export class ConfigWatcher {
  readonly #opts: ConfigWatcherOptions;
  readonly #debounceMs: number;
  readonly #pollMs: number;
  readonly #watchers = new Map<string, FSWatcher>();
  #digest: string | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #poll: NodeJS.Timeout | undefined;
  #checking: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(opts: ConfigWatcherOptions) {
    this.#opts = opts;
    this.#debounceMs = opts.debounceMs ?? 200;
    this.#pollMs = opts.pollMs ?? 30_000;
  }

  /** Takes the current contents as the baseline and starts watching. */
  async start(): Promise<void> {
    this.#digest = await this.#read();
    this.#syncWatches();
    this.#poll = setInterval(() => this.#check(), this.#pollMs);
    this.#poll.unref();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#debounce);
    clearInterval(this.#poll);
    for (const w of this.#watchers.values()) w.close();
    this.#watchers.clear();
  }

  /** Resolves once any check under way has finished (for tests and orderly shutdown). */
  settled(): Promise<void> {
    return this.#checking;
  }

  #event(): void {
    if (this.#closed) return;
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => this.#check(), this.#debounceMs);
  }

  #check(): void {
    this.#checking = this.#checking.then(async () => {
      if (this.#closed) return;
      const digest = await this.#read();
      // The secret file may have moved with the config: watch where the paths point now.
      this.#syncWatches();
      if (digest === this.#digest) return;
      this.#digest = digest;
      this.#opts.onChange('file');
    });
  }

  /**
   * A digest over every watched file's bytes; a missing or unreadable file counts as its own state.
   * Read through the loaders' guard (a worker, bounded and non-blocking): a FIFO or /dev/zero put
   * in place of a watched file, or a volume that hangs, must not stop the process.
   */
  #read(): Promise<string> {
    return digestFilesIsolated(this.#opts.paths());
  }

  #syncWatches(): void {
    if (this.#closed) return;
    const dirs = new Set(this.#opts.paths().map((p) => dirname(resolve(p))));
    for (const [dir, w] of this.#watchers) {
      if (!dirs.has(dir)) {
        w.close();
        this.#watchers.delete(dir);
      }
    }
    for (const dir of dirs) {
      if (this.#watchers.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: false }, () => this.#event());
        // A removed or unmounted directory ends its watch; the poll notices and re-creates it.
        w.on('error', (err) => {
          this.#opts.logger.warn({ err, dir }, 'config directory watch failed; falling back to polling');
          w.close();
          this.#watchers.delete(dir);
        });
        this.#watchers.set(dir, w);
      } catch (err) {
        this.#opts.logger.warn({ err, dir }, 'cannot watch the config directory; polling only');
      }
    }
  }
}
