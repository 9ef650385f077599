import { afterAll } from 'vitest';
import { stopLoaders } from '../../src/config/isolated.js';
import { stopAll } from './exporter-process.js';
import { stopAllNginx } from './nginx.js';
import { stopAllRedis } from './redis.js';

/**
 * Every test file, last: whatever processes it started and did not stop (a beforeAll that timed
 * out half-way leaves its harness unassigned, so its own afterAll cannot reach them) are stopped
 * here, so no exporter, redis-server or nginx outlives the file that started it. The fast tier's
 * files share a worker's modules (isolate: false): the config reader workers a file left are
 * ended too, so the next file starts under the reader cap with none alive.
 */
afterAll(async () => {
  await stopAll();
  await stopAllRedis();
  await stopAllNginx();
  await stopLoaders(2000);
});
