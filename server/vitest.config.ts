import { defineConfig } from 'vitest/config';

/**
 * The suites that talk to the server over HTTP only (no `server.app`, `server.db`, fake clock or in-process option):
 * `npm run test:workers` runs them again against `npm start`'s cluster (WXKIT_TEST_WORKERS=2 → WORKERS=2).
 */
const httpOnlySuites = [
  'test/auth.test.ts',
  'test/cli.test.ts',
  'test/curl-recipes.test.ts',
  'test/login-errors.test.ts',
  'test/malformed-requests.test.ts',
  'test/openapi.test.ts',
  'test/profile.test.ts',
  'test/hardening/bad-input.test.ts',
  'test/hardening/wechat-faults.test.ts',
];

export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: process.env.WXKIT_TEST_WORKERS ? httpOnlySuites : ['test/**/*.test.ts'],
    setupFiles: ['test/support/no-leaks.ts'],
    // With WXKIT_TEST_BACKEND=pg: one throwaway PostgreSQL cluster for the run (a no-op otherwise).
    globalSetup: ['test/support/pg-global-setup.ts'],
    testTimeout: 20_000,
    // The workers pass starts a cluster (a primary and its workers, each loading the TypeScript sources) per server.
    hookTimeout: process.env.WXKIT_TEST_WORKERS ? 90_000 : 30_000,
  },
});
