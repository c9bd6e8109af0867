import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.spec.ts'],
    // The browser suite has its own config (vitest.e2e.config.ts): it needs Chromium.
    exclude: ['test/e2e/**', 'node_modules/**'],
    setupFiles: ['test/setup.ts'],
    // Fails the run when a test leaves a file of the work tree changed (scripts/workTreeGuard.ts).
    globalSetup: ['scripts/workTreeGuard.ts'],
    testTimeout: 20_000,
  },
});
