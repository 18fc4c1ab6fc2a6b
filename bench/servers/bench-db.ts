import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';

const migrationsFolder = process.env.MIGRATIONS_FOLDER ?? join(process.cwd(), 'server/drizzle/sqlite');

/**
 * A bench server's database: a SQLite file in a fresh temp folder (`prefix`), with the same pragmas as ours (WAL), on
 * today's schema (our migrations). `remove` closes it and deletes the folder.
 */
export function openBenchDb(prefix: string) {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  const sqlite = new Database(join(dir, 'app.db'));
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = drizzle(sqlite);
  migrate(db, { migrationsFolder });
  return {
    sqlite,
    db,
    remove() {
      sqlite.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
