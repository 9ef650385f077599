import { parentPort, workerData } from 'node:worker_threads';
import { loadConfig } from './load.js';
import { Secret } from './secret.js';

/**
 * Runs in a worker thread (see isolated.ts): loads the config and posts the result back with every
 * Secret unwrapped as { __secret }, since structured cloning keeps no class or private field.
 */
const { file, env } = workerData as { file: string; env: NodeJS.ProcessEnv };
const result = await loadConfig(file, env);
parentPort!.postMessage(unwrap(result));

function unwrap(v: unknown): unknown {
  if (v instanceof Secret) return { __secret: v.reveal() };
  if (Array.isArray(v)) return v.map(unwrap);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, unwrap(x)]));
  return v;
}
