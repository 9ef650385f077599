import { afterAll } from 'vitest';
import { stopAll } from './exporter-process.js';
import { stopAllNginx } from './nginx.js';
import { stopAllRedis } from './redis.js';

/**
 * Every test file, last: whatever processes it started and did not stop (a beforeAll that timed
 * out half-way leaves its harness unassigned, so its own afterAll cannot reach them) are stopped
 * here, so no exporter, redis-server or nginx outlives the file that started it.
 */
afterAll(async () => {
  await stopAll();
  await stopAllRedis();
  await stopAllNginx();
});
