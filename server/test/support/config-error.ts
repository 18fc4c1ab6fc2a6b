import { expect } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config.ts';

/** The ConfigError parseConfig throws for `env`; fails the test when it parses (naming the variables, never a value). */
export function configError(env: Record<string, string | undefined>): ConfigError {
  try {
    parseConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  return expect.unreachable(`parseConfig accepted an environment of ${JSON.stringify(Object.keys(env))}`);
}
