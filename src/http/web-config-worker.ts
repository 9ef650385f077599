import { parentPort, workerData } from 'node:worker_threads';
import { loadWebConfig } from './web-config.js';

/**
 * Runs in a worker thread (config/isolated.ts): reads the web config and the files it names and
 * checks them (certificates parse, the key matches), then posts the result back.
 */
const { file } = workerData as { file: string };
parentPort!.postMessage(loadWebConfig(file));
