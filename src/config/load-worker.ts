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

function unwrap(v: unknown): unknown {
  if (v instanceof Secret) return { __secret: v.reveal() };
  if (Array.isArray(v)) return v.map(unwrap);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x)]));
  return v;
}
