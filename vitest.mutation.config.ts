import { defineConfig } from 'vitest/config';

/**
 * The tests Stryker runs against each mutant (stryker.config.mjs): the fast tier's unit and property
 * tests, without the `alerts` rule tests (they check the shipped rule files, not the mutated code).
 * The Stryker vitest runner has no project option, so this config names the files itself.
 */
export default defineConfig({
  test: {
    setupFiles: ['test/helpers/fast-check-seed.ts', 'test/helpers/stop-leftovers.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    include: ['test/unit/**/*.test.ts', 'test/property/**/*.test.ts'],
  },
});
