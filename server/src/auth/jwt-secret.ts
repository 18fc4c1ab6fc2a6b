import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Simulator mode without JWT_SECRET: generate a secret once and keep it beside the database, so tokens survive
 * restarts. With an in-memory database the secret lives as long as the process.
 */
export function resolveJwtSecret(configured: string | undefined, databasePath: string): string {
  if (configured !== undefined) return configured;
  if (databasePath === ':memory:' || databasePath.startsWith('file:')) return randomBytes(48).toString('base64url');
  const file = join(dirname(databasePath), 'jwt-secret');
  if (existsSync(file)) {
    const stored = readFileSync(file, 'utf8').trim();
    if (stored.length >= 32) return stored;
  }
  mkdirSync(dirname(file), { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  return secret;
}
