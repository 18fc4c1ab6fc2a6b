import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openSqliteStore } from '../src/db/sqlite-store.ts';

/**
 * Server processes sharing one SQLite file take turns to write. A write that finds the file locked by another
 * connection waits for it without stopping the event loop (retryWhenBusy), and gives up after 5 s like busy_timeout.
 */

/** Our store on a fresh SQLite file, and a second connection to it (another process's); all closed and removed after `run`. */
async function withSecondConnection(run: (store: ReturnType<typeof openSqliteStore>, other: Database.Database) => Promise<void>) {
  const dir = mkdtempSync(join(tmpdir(), 'wxkit-busy-'));
  try {
    const path = join(dir, 'app.db');
    const store = openSqliteStore(path);
    const other = new Database(path);
    try {
      await run(store, other);
    } finally {
      other.close();
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('a write while another process holds the write lock', () => {
  it('waits for it, and the event loop keeps running meanwhile', () =>
    withSecondConnection(async (store, other) => {
      other.prepare('begin immediate').run();
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 5);
      const hit = store.hitRateLimit('login:10.0.0.1', 60_000, Date.now());
      await new Promise((resolve) => setTimeout(resolve, 100));
      // Still waiting, and timers ran: nothing slept inside SQLite.
      expect(ticks).toBeGreaterThan(2);
      other.prepare('commit').run();
      expect(await hit).toMatchObject({ count: 1 });
      clearInterval(ticker);
    }));

  it('gives up with SQLITE_BUSY when the lock is held for longer than 5 s', () =>
    withSecondConnection(async (store, other) => {
      other.prepare('begin immediate').run();
      const started = Date.now();
      await expect(store.hitRateLimit('login:10.0.0.2', 60_000, Date.now())).rejects.toMatchObject({ code: expect.stringMatching(/^SQLITE_BUSY/) });
      expect(Date.now() - started).toBeGreaterThanOrEqual(4_900);
      other.prepare('rollback').run();
    }), 15_000);

  it('reads go on while another connection writes (WAL)', () =>
    withSecondConnection(async (store, other) => {
      // In WAL mode (a rollback journal would let this read through too, so check the mode itself).
      expect(other.pragma('journal_mode', { simple: true })).toBe('wal');
      other.prepare('begin immediate').run();
      expect(await store.sessionForAuth('no-such-session')).toBeUndefined();
      other.prepare('rollback').run();
    }));
});
