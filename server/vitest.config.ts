import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/support/no-leaks.ts'],
    // With WXKIT_TEST_BACKEND=pg: one throwaway PostgreSQL cluster for the run (a no-op otherwise).
    globalSetup: ['test/support/pg-global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
