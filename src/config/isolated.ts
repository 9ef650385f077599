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
  /** The worker's young generation (V8's default is up to 48 MB). */
  maxYoungMb?: number;
}

/** A file read (web config, certificates, the watchers' digests) takes milliseconds; 10 s is a hung volume. */
export const LOAD_TIMEOUT_MS = 10_000;
/**
 * The config load, parse included: the 100 000 streams a file may list take about 2 s of CPU on
 * a 2-core machine as plain ids, 50 000 objects with a label each about 5 s, and several times
 * that in wall time when the machine runs at a load of 20 (measured): the check and the start
 * must not refuse a valid file because the node is busy.
 */
export const CONFIG_LOAD_TIMEOUT_MS = 30_000;
/**
 * The loader's heap: load.ts reads a long streams list a slice at a time, so the 100 000 streams a
 * file may list (MAX_CONFIG_STREAMS) need a few tens of MB. The room left is for a file the
 * slices cannot read (the whole-document parse: some 110 bytes of heap per byte of file); one
 * that needs more fails with the streams limit in the error.
 */
export const LOAD_MAX_HEAP_MB = 256;
/**
 * The config loader's young generation. Nearly all a load allocates is a slice's syntax tree that
 * dies within the slice; V8's default (up to 48 MB) lets that garbage pile up as resident memory,
 * 4 MB collects it often and cheaply (peak RSS of a 100 000-stream load 91 → 82 MB, measured).
 */
export const LOAD_YOUNG_MB = 4;
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
      resourceLimits: {
        maxOldGenerationSizeMb: limits.maxHeapMb ?? LOAD_MAX_HEAP_MB,
        ...(limits.maxYoungMb === undefined ? {} : { maxYoungGenerationSizeMb: limits.maxYoungMb }),
      },
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
 * loadConfig in a worker thread. Parsing YAML builds large transient trees and the process keeps
 * resident memory long after they are garbage; a worker's heap is handed back to the system when
 * the worker exits. Same result as
 * loadConfig; a failing, oversized or too slow load is reported as a config error, never thrown.
 */
export async function loadConfigIsolated(file: string, env: NodeJS.ProcessEnv, limits: LoaderLimits = {}): Promise<LoadResult> {
  const r = await runIsolated(
    new URL('./load-worker.js', import.meta.url),
    { job: 'config', file, env: { ...env } },
    { doing: 'loading the config', worker: 'config loader', outOfMemory: `the file has too many entries to load: ${streamsLimitText()}` },
    { timeoutMs: CONFIG_LOAD_TIMEOUT_MS, maxYoungMb: LOAD_YOUNG_MB, ...limits },
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

/** In place (the posted copy is ours alone): { __secret } back to a Secret. */
function wrap(v: unknown): unknown {
  if (v === null || typeof v !== 'object') return v;
  const o = v as Record<string, unknown>;
  if (!Array.isArray(o) && typeof o['__secret'] === 'string' && Object.keys(o).length === 1) return new Secret(o['__secret']);
  if (Array.isArray(o)) {
    for (let i = 0; i < o.length; i++) o[i] = wrap(o[i]);
    return v;
  }
  for (const k of Object.keys(o)) {
    const x = o[k];
    if (x !== null && typeof x === 'object') o[k] = wrap(x);
  }
  return v;
}
