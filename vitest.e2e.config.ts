import { defineConfig } from 'vitest/config';

// End-to-end tests: the demo page in Debian's Chromium against the reference server.
// `npm run test:e2e`; RXSYNC_E2E=required turns a missing Chromium into a failure.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.spec.ts'],
    env: { RXSYNC_E2E_SUITE: '1' },
    // Fails the run when a test leaves a file of the work tree changed (scripts/workTreeGuard.ts).
    globalSetup: ['scripts/workTreeGuard.ts'],
    testTimeout: 90_000,
    hookTimeout: 60_000,
    // One browser at a time: the suites are independent, but this keeps timing stable on small machines.
    fileParallelism: false,
  },
});
