import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Config } from '../config.ts';
import type { Store } from '../db/store.ts';

const newSecret = () => randomBytes(48).toString('base64url');

/**
 * The server secret (tokens are signed with it, and at-rest sealing keys derive from it): JWT_SECRET, or in simulator
 * mode without it one generated key, kept in PostgreSQL for every instance or in a file beside the SQLite database.
 */
export async function resolveServerSecret(config: Pick<Config, 'jwtSecret' | 'databaseUrl' | 'databasePath'>, store: Store): Promise<string> {
  if (config.jwtSecret !== undefined) return config.jwtSecret;
  return config.databaseUrl ? store.sharedSecret('jwt', newSecret(), Date.now()) : resolveJwtSecret(undefined, config.databasePath);
}

/**
 * Simulator mode without JWT_SECRET: generate a secret once and keep it beside the database, so tokens survive
 * restarts. With an in-memory database the secret lives as long as the process.
 */
function resolveJwtSecret(configured: string | undefined, databasePath: string): string {
  if (configured !== undefined) return configured;
  if (databasePath === ':memory:' || databasePath.startsWith('file:')) return newSecret();
  const file = join(dirname(databasePath), 'jwt-secret');
  const stored = readSecret(file);
  if (stored) return stored;
  const damaged = existsSync(file); // there, but too short to be ours
  mkdirSync(dirname(file), { recursive: true });
  const secret = newSecret();
  // Written aside, then linked into place: the link fails if another process got there first, and a reader never
  // sees a half-written file. Processes starting together on one fresh data folder thus share one secret.
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(temp, secret + '\n', { mode: 0o600 });
  try {
    if (damaged) rmSync(file, { force: true });
    linkSync(temp, file);
    return secret;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return readSecret(file) ?? secret;
  } finally {
    rmSync(temp, { force: true });
  }
}

function readSecret(file: string): string | undefined {
  if (!existsSync(file)) return undefined;
  const stored = readFileSync(file, 'utf8').trim();
  return stored.length >= 32 ? stored : undefined;
}
