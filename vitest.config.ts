import { defineConfig } from 'vitest/config';

/**
 * Two tiers. `fast` (npm test): unit, property and rule tests, files side by side — they use fake
 * clocks and random ports, so they do not disturb each other. `integration` (npm run
 * test:integration): real processes, one file at a time — they start exporters, simulators, Redis
 * and Prometheus and measure rates against a 1 s window, which files side by side on a 2-core
 * machine would skew. `.ci/run` runs both.
 */
export default defineConfig({
  test: {
    setupFiles: ['test/helpers/fast-check-seed.ts', 'test/helpers/stop-leftovers.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'fast',
          include: ['test/unit/**/*.test.ts', 'test/property/**/*.test.ts', 'test/alerts/**/*.test.ts'],
          fileParallelism: true,
          maxWorkers: 2,
          // One module registry per worker, not per file: re-importing the exporter's modules for each
          // of ~100 files was a third of the tier's CPU (vitest's import time 106 s → 30 s summed, at
          // load ~12). Safe because no fast test mocks a module (vi.mock) and every one that fakes
          // timers restores them; state lives in the objects a test builds, not in modules.
          isolate: false,
        },
      },
      { extends: true, test: { name: 'integration', include: ['test/integration/**/*.test.ts'], fileParallelism: false } },
    ],
  },
});
