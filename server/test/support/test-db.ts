import Database from 'better-sqlite3';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { freshDatabaseUrl, testBackend } from './pg-global-setup.ts';

/**
 * Raw reads of the server's database for assertions, the same on both backends: SQL with `?` placeholders (turned
 * into `$1…` on PostgreSQL), rows with numbers as numbers. Tests use it to look at rows a response must not show.
 */
export interface TestDb {
  readonly dialect: 'sqlite' | 'postgres';
  query<T = Record<string, unknown>>(sql: string, ...params: unknown[]): Promise<T[]>;
  /** `SELECT count(*) AS n …` → n */
  count(sql: string, ...params: unknown[]): Promise<number>;
  /** Rows that point at nothing, damaged pages or indexes; empty when the database is sound. */
  integrityProblems(): Promise<string[]>;
  close(): Promise<void>;
}

/** Dangling references the foreign keys exist to prevent (checked on both dialects, whatever enforced them). */
const ORPHANS: Array<[string, string]> = [
  ['sessions without a user', 'SELECT count(*) AS n FROM sessions s LEFT JOIN users u ON u.id = s.user_id WHERE u.id IS NULL'],
  ['WeChat identities without a user', 'SELECT count(*) AS n FROM wechat_identities w LEFT JOIN users u ON u.id = w.user_id WHERE u.id IS NULL'],
  ['password credentials without a user', 'SELECT count(*) AS n FROM password_credentials c LEFT JOIN users u ON u.id = c.user_id WHERE u.id IS NULL'],
  ['WeRun days without a user', 'SELECT count(*) AS n FROM werun_steps w LEFT JOIN users u ON u.id = w.user_id WHERE u.id IS NULL'],
];

const int8AsNumber = (oid: number, format?: string) =>
  oid === 20 ? (value: string) => Number(value) : pg.types.getTypeParser(oid, format as 'text');

function sqliteTestDb(sqlite: Database.Database): TestDb {
  const self: TestDb = {
    dialect: 'sqlite',
    async query<T>(sql: string, ...params: unknown[]) {
      const statement = sqlite.prepare(sql);
      if (statement.reader) return statement.all(...params) as T[];
      statement.run(...params);
      return [];
    },
    async count(sql, ...params) {
      return Number((sqlite.prepare(sql).get(...params) as { n: number }).n);
    },
    async integrityProblems() {
      const problems: string[] = [];
      const integrity = sqlite.prepare('PRAGMA integrity_check').get() as { integrity_check: string };
      if (integrity.integrity_check !== 'ok') problems.push(`integrity_check: ${integrity.integrity_check}`);
      for (const row of sqlite.prepare('PRAGMA foreign_key_check').all()) problems.push(`foreign_key_check: ${JSON.stringify(row)}`);
      for (const [what, sql] of ORPHANS) {
        const n = await self.count(sql);
        if (n > 0) problems.push(`${n} ${what}`);
      }
      return problems;
    },
    async close() {},
  };
  return self;
}

export function pgTestDb(url: string): TestDb {
  const pool = new pg.Pool({ connectionString: url, max: 2, types: { getTypeParser: int8AsNumber } as pg.CustomTypesConfig });
  const toPg = (sql: string) => {
    let i = 0;
    return sql.replace(/\?/g, () => `$${++i}`);
  };
  const self: TestDb = {
    dialect: 'postgres',
    async query<T>(sql: string, ...params: unknown[]) {
      return (await pool.query(toPg(sql), params)).rows as T[];
    },
    async count(sql, ...params) {
      return Number(((await pool.query(toPg(sql), params)).rows[0] as { n: unknown }).n);
    },
    async integrityProblems() {
      const problems: string[] = [];
      for (const [what, sql] of ORPHANS) {
        const n = await self.count(sql);
        if (n > 0) problems.push(`${n} ${what}`);
      }
      // amcheck (PostgreSQL's contrib, in Debian's package): every B-tree index agrees with its table.
      await pool.query('CREATE EXTENSION IF NOT EXISTS amcheck');
      const indexes = await pool.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_am a ON a.oid = c.relam WHERE n.nspname = 'public' AND a.amname = 'btree'`,
      );
      for (const { name } of indexes.rows) {
        try {
          await pool.query('SELECT bt_index_check(index => $1::regclass, heapallindexed => true)', [name]);
        } catch (error) {
          problems.push(`amcheck ${name}: ${(error as Error).message}`);
        }
      }
      return problems;
    },
    close: () => pool.end(),
  };
  return self;
}

/** The raw view of a running test app's database. */
export function testDbOf(app: FastifyInstance, databaseUrl: string | undefined): TestDb {
  if (app.sqlite) return sqliteTestDb(app.sqlite);
  if (!databaseUrl) throw new Error('a PostgreSQL test app needs its DATABASE_URL for raw reads');
  return pgTestDb(databaseUrl);
}

/**
 * Environment for a database that outlives one server (restart tests): a SQLite file in `dir`, or a fresh
 * PostgreSQL database (and a media folder in `dir`) when the suites run against PostgreSQL (WXKIT_TEST_BACKEND=pg).
 */
export async function persistentDatabaseEnv(dir: string): Promise<Record<string, string>> {
  return testBackend() === 'pg' ? { DATABASE_URL: await freshDatabaseUrl(), MEDIA_DIR: `${dir}/media` } : { DATABASE_PATH: `${dir}/app.db` };
}
