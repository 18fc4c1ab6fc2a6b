import { afterAll, expect } from 'vitest';
import { findLeaks, SIMULATOR_SECRET } from './server.ts';

// Runs after every test file: no app response or log line may carry what WeChat issued, nor the AppSecret.
afterAll(() => {
  expect(findLeaks([SIMULATOR_SECRET])).toEqual([]);
});
