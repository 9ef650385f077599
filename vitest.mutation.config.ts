import { defineConfig } from 'vitest/config';

/**
 * The tests Stryker runs against each mutant (stryker.config.mjs): the fast tier's unit and property
 * tests, less the `alerts` rule tests (they check the shipped rule files, not the mutated code) and
 * less the files below, which take seconds to tens of seconds each and would run again for every
 * mutant they reach: they drive whole parts or processes on top of the mutated modules, whose
 * rules the module tests check directly. The Stryker vitest runner has no project option, so this
 * config names the files itself. A test file of a new module (src/api/ and its tests) needs nothing
 * here: Stryker runs the files that import a mutated module.
 */
export default defineConfig({
  test: {
    setupFiles: ['test/helpers/fast-check-seed.ts', 'test/helpers/stop-leftovers.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    include: ['test/unit/**/*.test.ts', 'test/property/**/*.test.ts'],
    exclude: [
      // Real-time scheduling of the rooms part (~100 s) and the stream scheduler (~20 s).
      'test/unit/rooms-schedule.test.ts',
      'test/unit/scheduler.test.ts',
      // Thousands of random renders (~45 s).
      'test/property/metrics-cache.property.test.ts',
      // The built simulator's CLI in child processes: they run dist/, which a mutant never reaches.
      'test/unit/simulator-main.test.ts',
      'test/unit/simulator-callbacks.test.ts',
      // Request bodies through real listeners (~10 s each), and the callbacks part on real sockets
      // (its body-budget timing failed the first run on the loaded machine).
      'test/unit/upload-budget.test.ts',
      'test/unit/watch-incremental.test.ts',
      'test/unit/callbacks-part.test.ts',
    ],
  },
});
