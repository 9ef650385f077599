import { parentPort, workerData } from 'node:worker_threads';
import { digestFiles } from './regular-file.js';
import { Secret } from './secret.js';

/**
 * Runs in a worker thread (see isolated.ts): loads the config, or digests the watched files, and
 * posts the result back. Every Secret goes back unwrapped as { __secret }, since structured cloning
 * keeps no class or private field. The config loader (YAML and every section) is imported only
 * for a load: a watcher's digest every 30 s should not pay for it.
 */
type Job = { job: 'config'; file: string; env: NodeJS.ProcessEnv } | { job: 'digest'; paths: string[]; maxBytes: number };
const job = workerData as Job;
if (job.job === 'digest') parentPort!.postMessage(digestFiles(job.paths, job.maxBytes));
else parentPort!.postMessage(unwrap(await (await import('./load.js')).loadConfig(job.file, job.env)));

/**
 * In place: the result is this worker's to post and drop, and a copy of 100 000 streams would be
 * one more config's worth of heap at the load's peak.
 */
function unwrap(v: unknown): unknown {
  if (v instanceof Secret) return { __secret: v.reveal() };
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (Array.isArray(o)) {
      for (let i = 0; i < o.length; i++) o[i] = unwrap(o[i]);
    } else {
      for (const k of Object.keys(o)) {
        const x = o[k];
        if (x !== null && typeof x === 'object') o[k] = unwrap(x);
      }
    }
  }
  return v;
}
