// Mutation testing of the code that keeps the promise "no write lost or sent twice": the outbox
// reducer, its log store, delivery, the operators, the puller and the transport. Not part of `npm test`
// (minutes, not seconds, on two cores). Run it with `npm run mutate`; a narrower run with
// `npm run mutate -- --mutate src/operators/retryBackoff.ts`. Results land in reports/mutation/;
// the incremental file there lets a re-run test only the mutants whose code or tests changed.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  // The fast, deterministic Node tests only (vitest.mutate.config.ts says which and why).
  vitest: { configFile: 'vitest.mutate.config.ts' },
  mutate: [
    // the outbox reducer and its log store
    'src/outbox.ts',
    'src/coalesce.ts',
    'src/outboxStore.ts',
    // delivery
    'src/pusher.ts',
    'src/durableOutbox.ts',
    'src/requestLimiter.ts',
    'src/classifyResponse.ts',
    // the operators
    'src/operators/**/*.ts',
    '!src/operators/index.ts',
    // the puller
    'src/puller.ts',
    'src/pullPosition.ts',
    // the transport
    'src/httpTransport.ts',
    'src/http/**/*.ts',
  ],
  coverageAnalysis: 'perTest',
  incremental: true,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  reporters: ['clear-text', 'progress', 'html', 'json'],
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  // No `concurrency`: Stryker's default, a test runner per core (one fewer above four cores).
  // On top of the time the covering tests took in the dry run. Above the mutate run's test timeout
  // (vitest.mutate.config.ts), so that a test left waiting fails there first and the runner lives on.
  timeoutMS: 10_000,
  // A mutant of module-level code (a constant, a default) is active while modules load, so every
  // test in the set must run for it: about a minute each. They are left out of the score.
  ignoreStatic: true,
  // Stryker rewrites tsconfig paths with the TypeScript 5 API, which TypeScript 7 (native) no longer
  // has. This tsconfig points nowhere outside the project, so nothing needs rewriting: name no file.
  tsconfigFile: 'no-tsconfig-rewrite.json',
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
