import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    // beforeAll may build dist/weapp or dist/h5 with Taro (tens of seconds; longer when both build at once).
    hookTimeout: 300_000,
  },
});
