import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/support/no-leaks.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
  },
});
