/**
 * vitest `globalSetup`: with `WXKIT_TEST_BACKEND=pg`, one PostgreSQL server for the whole run.
 *
 * - `WXKIT_TEST_PG_URL` set (an admin URL, e.g. printed by `node scripts/pg-cluster.mjs`): use that server; the
 *   databases this run created are dropped at teardown. Otherwise a throwaway cluster (./pg-cluster.ts) is
 *   started here and destroyed at teardown.
 * - Test files get its admin URL through `inject('wxkitPgAdminUrl')` and the env var `WXKIT_TEST_PG_ADMIN_URL`
 *   (workers and the server processes tests spawn inherit it; vitest builds the workers' env after globalSetup).
 *   Most tests want {@link freshDatabaseUrl}: a new empty database per server under test.
 * - Without `WXKIT_TEST_BACKEND=pg` this does nothing (not even loading `pg`).
 */
import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL (database `postgres`) of the run's PostgreSQL server; set only when WXKIT_TEST_BACKEND=pg. */
    wxkitPgAdminUrl?: string;
  }
}

export const BACKEND_ENV = 'WXKIT_TEST_BACKEND';
export const EXTERNAL_URL_ENV = 'WXKIT_TEST_PG_URL';
export const ADMIN_URL_ENV = 'WXKIT_TEST_PG_ADMIN_URL';
/** Prefix of the databases this run creates, so a shared external server can be cleaned up after it. */
const RUN_PREFIX_ENV = 'WXKIT_TEST_PG_DB_PREFIX';

export type TestBackend = 'sqlite' | 'pg';

/** The backend the server suites run against: `pg` when WXKIT_TEST_BACKEND=pg, else the SQLite default. */
export function testBackend(): TestBackend {
  return process.env[BACKEND_ENV] === 'pg' ? 'pg' : 'sqlite';
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  if (testBackend() !== 'pg') return undefined;
  const { startPgCluster, createDatabaseAt, describeUrl } = await import('./pg-cluster.ts');
  const prefix = `wxkit_t${randomBytes(3).toString('hex')}`;
  const external = process.env[EXTERNAL_URL_ENV];
  let teardown: () => Promise<void>;
  let adminUrl: string;
  if (external) {
    adminUrl = external;
    // Fail here, once, with a clear message, rather than in every test file.
    const probe = `${prefix}_probe`;
    try {
      await createDatabaseAt(adminUrl, probe);
    } catch (error) {
      throw new Error(`${EXTERNAL_URL_ENV} points at ${describeUrl(adminUrl)}, where this run cannot create a database: ` +
        `${(error as Error).message}. Start one with \`node scripts/pg-cluster.mjs\` and use the WXKIT_TEST_PG_URL it prints, ` +
        `or unset ${EXTERNAL_URL_ENV} to get a throwaway cluster.`, { cause: error });
    }
    teardown = () => dropRunDatabases(adminUrl, prefix);
  } else {
    const cluster = await startPgCluster();
    adminUrl = cluster.adminUrl;
    teardown = () => cluster.destroy();
  }
  project.provide('wxkitPgAdminUrl', adminUrl);
  process.env[ADMIN_URL_ENV] = adminUrl;
  process.env[RUN_PREFIX_ENV] = prefix;
  return async () => {
    delete process.env[ADMIN_URL_ENV];
    delete process.env[RUN_PREFIX_ENV];
    await teardown();
  };
}

async function dropRunDatabases(adminUrl: string, prefix: string) {
  const { default: pg } = await import('pg');
  const { dropDatabaseAt } = await import('./pg-cluster.ts');
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ datname: string }>('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [`${prefix}_`]);
    for (const { datname } of rows) await dropDatabaseAt(adminUrl, datname);
  } finally {
    await client.end();
  }
}

/** The run's PostgreSQL admin URL, from a test file or a process it spawned. */
export async function pgAdminUrl(): Promise<string> {
  const fromEnv = process.env[ADMIN_URL_ENV];
  if (fromEnv) return fromEnv;
  const { inject } = await import('vitest');
  const provided = inject('wxkitPgAdminUrl');
  if (provided) return provided;
  throw new Error(`No PostgreSQL server for this run: run the tests with ${BACKEND_ENV}=pg, and list ` +
    "'test/support/pg-global-setup.ts' in test.globalSetup of server/vitest.config.ts.");
}

/** Creates a new empty database on the run's PostgreSQL server and returns its URL (the server migrates it at start). */
export async function freshDatabaseUrl(): Promise<string> {
  const { createDatabaseAt, uniqueDatabaseName } = await import('./pg-cluster.ts');
  return createDatabaseAt(await pgAdminUrl(), uniqueDatabaseName(process.env[RUN_PREFIX_ENV] ?? 'wxkit_t'));
}
