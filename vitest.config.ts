import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/helpers/fast-check-seed.ts', 'test/helpers/stop-leftovers.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Integration tests each start real processes and measure rates against a 1 s window;
    // running them side by side on a 2-core machine would skew the figures they assert.
    fileParallelism: false,
  },
});
