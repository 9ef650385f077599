import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { streamsLimitText, type LoadResult } from './load.js';
import { CONFIG_FILE_MAX_BYTES } from './regular-file.js';
import { Secret } from './secret.js';

export interface LoaderLimits {
  /** A load that takes longer is abandoned (the worker terminated) and reported as a config error. */
  timeoutMs?: number;
  /** The worker's old-generation heap; a config that needs more fails instead of growing the process. */
  maxHeapMb?: number;
}

/** A file read (web config, certificates, the watchers' digests) takes milliseconds; 10 s is a hung volume. */
export const LOAD_TIMEOUT_MS = 10_000;
/**
 * The config load, parse included: the 20 000 streams a file may list take about 2 s of CPU on
 * a 2-core machine, and 15 s of wall time when that machine runs at a load of 20 (measured): the
 * check and the start must not refuse a valid file because the node is busy.
 */
export const CONFIG_LOAD_TIMEOUT_MS = 30_000;
/**
 * Parsing 10 000 streams with labels peaks at about 60 MB, the 20 000 a file may list (load.ts's
 * MAX_CONFIG_STREAMS) at about 120 MB. A larger file of many short entries can need more: it fails
 * with the streams limit in the error.
 */
export const LOAD_MAX_HEAP_MB = 256;
/**
 * Reader workers alive at once, counting ones abandoned after a timeout: a worker stuck in a read
 * that never returns (a hung network volume) cannot be terminated, and a watcher polling that
 * volume would otherwise leave one more stuck thread behind at every poll.
 */
export const MAX_LIVE_READERS = 16;

/** Reader workers that have not exited, including ones abandoned after a timeout. */
const live = new Set<Worker>();

/**
 * Terminates every reader worker and waits up to `waitMs` for them to exit; false when one did
 * not. A worker stuck in a system call (a read that never returns, on a hostile volume) cannot be
 * terminated, and process.exit() would wait for it forever: main.ts then ends the process the
 * hard way.
 */
export async function stopLoaders(waitMs: number): Promise<boolean> {
  if (live.size === 0) return true;
  const exited = Promise.all([...live].map((w) => new Promise<void>((res) => (live.has(w) ? w.once('exit', () => res()) : res()))));
  for (const w of live) void w.terminate();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((res) => (timer = setTimeout(() => res(false), waitMs)));
  const ok = await Promise.race([exited.then(() => true as const), late]);
  clearTimeout(timer);
  return ok;
}

export type IsolatedOutcome = { ok: true; value: unknown } | { ok: false; message: string };

/** How a job's failures are worded: "loading the config timed out …", "config loader failed: …". */
export interface JobNames {
  doing: string;
  worker: string;
  /** What to say when the job ran out of its heap: what makes a file that big, and the limit. */
  outOfMemory?: string;
}

/**
 * The one guard every file read of the exporter goes through, with readRegularFile inside it: the
 * job (read and parse the config, the web config and its certificates, or digest watched files)
 * runs in a worker thread with a timeout and a heap limit, so neither a slow or hung volume nor a
 * huge parse can stop the main thread, and its transient memory goes back to the system when the
 * worker exits. Resolves with what the worker posted, or why it did not; never throws.
 */
export function runIsolated(script: URL, data: unknown, names: JobNames, limits: LoaderLimits = {}): Promise<IsolatedOutcome> {
  const timeoutMs = limits.timeoutMs ?? LOAD_TIMEOUT_MS;
  if (live.size >= MAX_LIVE_READERS) {
    return Promise.resolve({ ok: false, message: `${names.doing}: ${live.size} earlier reads are still stuck (a hung volume?); not starting another` });
  }
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: IsolatedOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const fail = (message: string): void => done({ ok: false, message });
    const worker = new Worker(runnable(script), {
      workerData: data,
      resourceLimits: { maxOldGenerationSizeMb: limits.maxHeapMb ?? LOAD_MAX_HEAP_MB },
    });
    live.add(worker);
    const timer = setTimeout(() => {
      fail(`${names.doing} timed out after ${timeoutMs / 1000}s`);
      void worker.terminate();
    }, timeoutMs);
    worker.once('message', (m: unknown) => {
      done({ ok: true, value: m });
      void worker.terminate();
    });
    worker.once('error', (err: NodeJS.ErrnoException) =>
      fail(
        err.code === 'ERR_WORKER_OUT_OF_MEMORY' && names.outOfMemory !== undefined
          ? `${names.worker} failed: ${names.outOfMemory} (it ran out of the loader's ${limits.maxHeapMb ?? LOAD_MAX_HEAP_MB} MB heap)`
          : `${names.worker} failed: ${err.message}`,
      ),
    );
    worker.once('exit', (code) => {
      live.delete(worker);
      fail(`${names.worker} exited with code ${code}`);
    });
  });
}

/**
 * A worker must be JavaScript. Under the test runner this module is a TypeScript source with no
 * .js beside it: the build's copy of the worker is used (npm test builds first).
 */
function runnable(script: URL): URL {
  if (existsSync(script)) return script;
  return new URL(script.href.replace(/\/src\/(?!.*\/src\/)/, '/dist/src/'));
}

/**
 * loadConfig in a worker thread. Parsing YAML builds a large transient tree (about 80 MB for 10k
 * streams with labels) and the process keeps that much resident memory long after the tree is
 * garbage; a worker's heap is handed back to the system when the worker exits. Same result as
 * loadConfig; a failing, oversized or too slow load is reported as a config error, never thrown.
 */
export async function loadConfigIsolated(file: string, env: NodeJS.ProcessEnv, limits: LoaderLimits = {}): Promise<LoadResult> {
  const r = await runIsolated(
    new URL('./load-worker.js', import.meta.url),
    { job: 'config', file, env: { ...env } },
    { doing: 'loading the config', worker: 'config loader', outOfMemory: `the file has too many entries to load: ${streamsLimitText()}` },
    { timeoutMs: CONFIG_LOAD_TIMEOUT_MS, ...limits },
  );
  return r.ok ? (wrap(r.value) as LoadResult) : { ok: false, errors: [{ path: '', message: r.message }] };
}

/**
 * The watchers' digest of the files they watch (readRegularFile's rules, each file capped at the
 * config file's cap), read in a worker; a read that fails as a whole gives a digest of its own
 * reason, so it reads as "changed" once and then as stable.
 */
export async function digestFilesIsolated(paths: readonly string[], limits: LoaderLimits = {}): Promise<string> {
  const r = await runIsolated(
    new URL('./load-worker.js', import.meta.url),
    { job: 'digest', paths: [...paths], maxBytes: CONFIG_FILE_MAX_BYTES },
    { doing: 'reading the watched files', worker: 'file reader' },
    limits,
  );
  // One state for every failure: a message that counts stuck readers would read as a change at each poll.
  return r.ok && typeof r.value === 'string' ? r.value : 'unreadable';
}

function wrap(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(wrap);
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o['__secret'] === 'string' && Object.keys(o).length === 1) return new Secret(o['__secret']);
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, wrap(x)]));
  }
  return v;
}
