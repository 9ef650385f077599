import { defineConfig } from 'vitest/config';

/**
 * The tests Stryker runs against each mutant (stryker.config.mjs): the fast tier's unit and property
 * tests of the mutated modules and of their direct readers, in-process with fake clocks. Left out:
 * the files that drive whole parts, listeners or processes on top of them (rooms-schedule ~100 s,
 * the scheduler, the simulator, the callbacks part on sockets, upload bodies, the metrics-cache
 * property): each would run again for every mutant it reaches, which put a full run at hours, and
 * their socket timing failed first runs on the loaded machine. The module tests check those rules
 * directly. The Stryker vitest runner has no project option, so this config names the files; a
 * newly mutated module (src/api/) adds its test files here.
 */
export default defineConfig({
  test: {
    setupFiles: ['test/helpers/fast-check-seed.ts', 'test/helpers/stop-leftovers.ts'],
    testTimeout: 60_000,
    hookTimeout: 30_000,
    // Stryker switches mutants at run time, so test files need no fresh module graph each: sharing
    // it saves the re-import that otherwise dominates each mutant's run.
    isolate: false,
    include: [
      // state/store.ts
      'test/unit/store*.test.ts',
      'test/unit/metrics.test.ts',
      'test/unit/metrics-cache.test.ts',
      'test/unit/stream-source.test.ts',
      // scheduler/budget.ts
      'test/unit/budget*.test.ts',
      // zego/codes.ts, zego/response.ts
      'test/unit/codes*.test.ts',
      'test/unit/response.test.ts',
      'test/unit/room-response.test.ts',
      'test/property/response.property.test.ts',
      'test/property/room-response.property.test.ts',
      // zego/event-order.ts, callbacks/verify.ts
      'test/unit/callback-*.test.ts',
      'test/unit/callbacks.test.ts',
      'test/unit/callbacks-fleet-hook.test.ts',
      'test/property/callbacks.property.test.ts',
      // src/api/ (the API core), once it lands
      'test/unit/api-*.test.ts',
    ],
  },
});
