import { BaseSequencer, type TestSpecification } from 'vitest/node';
import { defineConfig } from 'vitest/config';

// The test files that take seconds: they run last, so that a mutant a quick test already kills
// costs only that test (Stryker stops at the first failure).
const SLOW = ['test/outboxStore.spec.ts', 'test/engine.push.spec.ts', 'test/reliability/model.spec.ts', 'test/eventSourcePoke.spec.ts'];
const slowness = (spec: TestSpecification): number => SLOW.findIndex((file) => spec.moduleId.endsWith(file));

class QuickFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    return [...files].sort((a, b) => slowness(a) - slowness(b));
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
    // Instrumented code on a busy machine: the compaction-cost test has taken over 20 s.
    testTimeout: 60_000,
  },
});
