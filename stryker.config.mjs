// Mutation testing of the code that keeps the promise "no write lost or sent twice": the outbox
// reducer, its log store, the operators, the puller and the transport. Not part of `npm test`
// (minutes, not seconds, on two cores). Run it with `npm run mutate`; a narrower run with
// `npm run mutate -- --mutate src/operators/retryBackoff.ts`. Results land in reports/mutation/;
// the incremental file there lets a re-run test only the mutants whose code or tests changed.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.config.ts' },
  mutate: ['src/outbox.ts', 'src/outboxStore.ts', 'src/operators/**/*.ts', '!src/operators/index.ts', 'src/puller.ts', 'src/httpTransport.ts'],
  coverageAnalysis: 'perTest',
  incremental: true,
  incrementalFile: 'reports/mutation/stryker-incremental.json',
  reporters: ['clear-text', 'progress', 'html'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  concurrency: 1,
  // The model suite runs whole scenarios per test: give each mutant room before calling it a timeout.
  timeoutMS: 30_000,
  // Stryker rewrites tsconfig paths with the TypeScript 5 API, which TypeScript 7 (native) no longer
  // has. This tsconfig points nowhere outside the project, so nothing needs rewriting: name no file.
  tsconfigFile: 'no-tsconfig-rewrite.json',
  tempDirName: '.stryker-tmp',
  cleanTempDir: 'always',
};
