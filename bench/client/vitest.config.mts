import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Only for bench/client/run.mjs: runs the request-figures script with the client tests' fake Taro platform.
export default defineConfig({
  root: fileURLToPath(new URL('../..', import.meta.url)),
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['bench/client/request-figures.bench.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
