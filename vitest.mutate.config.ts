import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

// Stryker stops a mutant's run at the first failing test, and each test file it starts costs a
// module load of its own (half a second to seconds on a busy machine). So the files run in this
// order: the unit specs of one part first (they load little and fail fast), then the whole-engine
// specs, then the reliability suites, and the files that take seconds last.
const SLOW = ['test/outboxStore.spec.ts', 'test/engine.push.spec.ts', 'test/reliability/model.spec.ts', 'test/eventSourcePoke.spec.ts'];
const rank = (spec: TestSpecification): number => {
  const file = spec.moduleId.replaceAll('\\', '/');
  const slow = SLOW.findIndex((name) => file.endsWith(name));
  if (slow >= 0) return 3 + slow;
  if (file.includes('/test/reliability/')) return 2;
  if (/\/test\/(engine\.|tabs\.|http\/pullEngine\.)/.test(file)) return 1;
  return 0;
};

class QuickFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return [...files].sort((a, b) => rank(a) - rank(b));
  }
}

// The tests `npm run mutate` runs against each mutant: the fast, deterministic Node tests of the
// code it mutates. Left out: the browser suite, the reference server's own tests, the packaging
// and docs checks, the CLI checker and the third-party server (they start processes or servers
// and test other code), and the work-tree guard (Stryker runs in a copy).
export default defineConfig({
  test: {
    include: ['test/*.spec.ts', 'test/operators/**/*.spec.ts', 'test/http/**/*.spec.ts', 'test/reliability/**/*.spec.ts'],
    setupFiles: ['test/setup.ts'],
    sequence: { sequencer: QuickFirst },
    // A mutant that leaves a test waiting for good fails it here, as a killed mutant, instead of
    // waiting out Stryker's timeout, which also restarts the test runner (seconds more per mutant).
    // Over 400 mutants leave a test waiting, so this limit is most of a run's time: 2 s instead of
    // 5 s took a third off a run of two files (102 s against 153 s, the same mutants killed). The
    // slowest test without a limit of its own (SLOW_TEST_MS) takes about 0.1 s; the margin is for
    // instrumentation and load.
    testTimeout: 2_000,
    hookTimeout: 2_000,
    // The spec files share one module graph instead of each loading its own: a mutant's run starts
    // a dozen files or more, and loading is most of what isolation costs (the dry run: 38 s
    // isolated, 17 s shared). The specs leave nothing behind for the next file (each closes the
    // HTTP interception it opened), and pass in any order.
    isolate: false,
  },
});
