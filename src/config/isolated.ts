import { Worker } from 'node:worker_threads';
import type { LoadResult } from './load.js';
import { Secret } from './secret.js';

export interface LoaderLimits {
  /** A load that takes longer is abandoned (the worker terminated) and reported as a config error. */
  timeoutMs?: number;
  /** The worker's old-generation heap; a config that needs more fails instead of growing the process. */
  maxHeapMb?: number;
}

/** 10 000 streams load in about a second; ten times that is something wrong with the file or its volume. */
export const LOAD_TIMEOUT_MS = 10_000;
/** Parsing 10 000 streams with labels peaks at about 80 MB; the 4 MiB file cap keeps any config well under this. */
export const LOAD_MAX_HEAP_MB = 256;

/** Loader workers that have not exited, including ones abandoned after a timeout. */
const live = new Set<Worker>();

/**
 * Terminates every loader worker and waits up to `waitMs` for them to exit; false when one did
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

/**
 * loadConfig in a worker thread. Parsing YAML builds a large transient tree (about 80 MB for 10k
 * streams with labels) and the process keeps that much resident memory long after the tree is
 * garbage; a worker's heap is handed back to the system when the worker exits. Same result as
 * loadConfig; a failing, oversized or too slow load is reported as a config error, never thrown.
 */
export function loadConfigIsolated(file: string, env: NodeJS.ProcessEnv, limits: LoaderLimits = {}): Promise<LoadResult> {
  const timeoutMs = limits.timeoutMs ?? LOAD_TIMEOUT_MS;
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: LoadResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(r);
    };
    const fail = (message: string): void => done({ ok: false, errors: [{ path: '', message }] });
    const worker = new Worker(new URL('./load-worker.js', import.meta.url), {
      workerData: { file, env: { ...env } },
      resourceLimits: { maxOldGenerationSizeMb: limits.maxHeapMb ?? LOAD_MAX_HEAP_MB },
    });
    live.add(worker);
    const timer = setTimeout(() => {
      fail(`loading the config timed out after ${timeoutMs / 1000}s`);
      void worker.terminate();
    }, timeoutMs);
    worker.once('message', (m: unknown) => {
      done(wrap(m) as LoadResult);
      void worker.terminate();
    });
    worker.once('error', (err) => fail(`config loader failed: ${err.message}`));
    worker.once('exit', (code) => {
      live.delete(worker);
      fail(`config loader exited with code ${code}`);
    });
  });
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
