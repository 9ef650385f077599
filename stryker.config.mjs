// Mutation testing (issue 21, item 7): `npm run test:mutation`. Not part of `npm test` or CI —
// it takes minutes. The mutated modules are the rules the exporter's correctness rests on; the
// tests that must notice a change are the fast tier's unit and property tests only (see
// vitest.mutation.config.ts), so a surviving mutant means no fast test checks that behaviour.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  mutate: [
    'src/state/store.ts',
    'src/scheduler/budget.ts',
    'src/zego/codes.ts',
    'src/zego/response.ts',
    'src/zego/event-order.ts',
    'src/callbacks/verify.ts',
    // The API core (the Actions table, per-Action budgets): picked up once it lands.
    'src/api/**/*.ts',
  ],
  // Each mutant runs only the tests that reach it.
  coverageAnalysis: 'perTest',
  // A static mutant (module-level code: the rows of zego/codes.ts's table, constants) is reached by
  // every test that imports its module, so each would run the whole related suite (minutes apiece;
  // 13% of the mutants took 70% of the time). They are left out of the score; the code table is
  // checked row by row in test/unit/codes.test.ts instead.
  ignoreStatic: true,
  // The machine is shared: one sandbox at a time besides the tests' own workers.
  concurrency: 2,
  // Unit tests read alerts/, deploy/ and docs/, so the sandbox copies the repository but the build
  // (no test Stryker runs needs it), caches and earlier reports.
  ignorePatterns: ['dist', 'coverage', '.tmp', 'reports'],
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
  thresholds: { high: 85, low: 76, break: null },
  timeoutMS: 10_000,
  // The first run (every related test, with coverage) takes minutes on a loaded 2-core machine.
  dryRunTimeoutMinutes: 30,
};
