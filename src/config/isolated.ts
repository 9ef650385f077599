import { Worker } from 'node:worker_threads';
import type { LoadResult } from './load.js';
import { Secret } from './secret.js';

/**
 * loadConfig in a worker thread. Parsing YAML builds a large transient tree (about 80 MB for 10k
 * streams with labels) and the process keeps that much resident memory long after the tree is
 * garbage; a worker's heap is handed back to the system when the worker exits. Same result as
 * loadConfig; a failing worker is reported as a config error, never thrown.
 */
export function loadConfigIsolated(file: string, env: NodeJS.ProcessEnv): Promise<LoadResult> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (r: LoadResult): void => {
      if (settled) return;
      settled = true;
      resolve(r);
    };
    const worker = new Worker(new URL('./load-worker.js', import.meta.url), { workerData: { file, env: { ...env } } });
    worker.once('message', (m: unknown) => {
      done(wrap(m) as LoadResult);
      void worker.terminate();
    });
    worker.once('error', (err) => done({ ok: false, errors: [{ path: '', message: `config loader failed: ${err.message}` }] }));
    worker.once('exit', (code) => done({ ok: false, errors: [{ path: '', message: `config loader exited with code ${code}` }] }));
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
