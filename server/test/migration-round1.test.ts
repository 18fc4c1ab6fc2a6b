import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { afterAll, describe, expect, it } from 'vitest';
import { createTokenService } from '../src/auth/tokens.ts';
import { migrationsFolder } from '../src/paths.ts';
import { SIMULATOR_APPID } from '../src/wechat/simulator.ts';
import { createClient, mintCode, SIMULATOR_SECRET, startTestServer, type TestServer } from './support/server.ts';

const dir = mkdtempSync(join(tmpdir(), 'wxkit-migration-'));
const JWT_SECRET = 'a-test-secret-that-is-long-enough-for-hs256-0123456789';
const servers: TestServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

/** A database exactly as round 1 left it: only the first migration applied. */
function round1Database(path: string) {
  const folder = join(dir, 'round1-migrations');
  mkdirSync(join(folder, 'meta'), { recursive: true });
  copyFileSync(join(migrationsFolder, '0000_init.sql'), join(folder, '0000_init.sql'));
  writeFileSync(
    join(folder, 'meta', '_journal.json'),
    JSON.stringify({ version: '7', dialect: 'sqlite', entries: [{ idx: 0, version: '6', when: 1795260481540, tag: '0000_init', breakpoints: true }] }),
  );
  const sqlite = new Database(path);
  migrate(drizzle(sqlite), { migrationsFolder: folder });
  return sqlite;
}

/** The openid the simulator gives a user, asked the way WeChat is asked (the test plays the server's side). */
async function openidOf(url: string, user: string): Promise<string> {
  const code = await mintCode(url, user);
  const query = new URLSearchParams({ appid: SIMULATOR_APPID, secret: SIMULATOR_SECRET, js_code: code, grant_type: 'authorization_code' });
  const answer = (await (await fetch(`${url}/__wechat/sns/jscode2session?${query}`)).json()) as { openid: string };
  return answer.openid;
}

describe('migrating a round-1 database', () => {
  it('keeps every user, session and profile: old tokens work, and a WeChat login lands on the old user', async () => {
    const probe = await startTestServer();
    servers.push(probe);
    const openid = await openidOf(probe.url, 'legacy-alice');

    const path = join(dir, 'app.db');
    const old = round1Database(path);
    const t = Date.now() - 60_000;
    old.prepare('INSERT INTO users (id, openid, unionid, nickname, avatar_url, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
      'user-1', openid, 'union-1', 'Alice', 'https://example.com/a.png', t, t,
    );
    old.prepare('INSERT INTO users (id, openid, unionid, nickname, avatar_url, created_at, updated_at) VALUES (?, ?, NULL, NULL, NULL, ?, ?)').run('user-2', 'openid-of-bob', t, t);
    old.prepare('INSERT INTO sessions (id, user_id, session_key, code_hash, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, NULL)').run(
      'session-1', 'user-1', 'c2Vzc2lvbi1rZXktMTIzNA==', 'hash-1', t, t + 7 * 86_400_000,
    );
    old.prepare('INSERT INTO sessions (id, user_id, session_key, code_hash, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?)').run(
      'session-2', 'user-2', 'c2Vzc2lvbi1rZXktNTY3OA==', null, t, t + 7 * 86_400_000, t + 1000,
    );
    old.close();

    const server = await startTestServer({ DATABASE_PATH: path, JWT_SECRET });
    servers.push(server);
    const tokens = createTokenService(JWT_SECRET);
    const token = await tokens.sign({ userId: 'user-1', sessionId: 'session-1', issuedAtMs: t, expiresAtMs: t + 28 * 86_400_000 });

    const profile = await createClient(server.url, token).getProfile.query();
    expect(profile).toEqual({
      id: 'user-1',
      nickname: 'Alice',
      avatarUrl: 'https://example.com/a.png',
      createdAt: new Date(t).toISOString(),
      username: null,
      wechatBound: true,
      phone: null,
    });
    const revoked = await createClient(server.url, await tokens.sign({ userId: 'user-2', sessionId: 'session-2', issuedAtMs: t, expiresAtMs: t + 86_400_000 })).checkSession.query();
    expect(revoked).toEqual({ valid: false, reason: 'revoked' });

    const login = await createClient(server.url).login.mutate({ code: await mintCode(server.url, 'legacy-alice') });
    expect(login).toMatchObject({ isNewUser: false, user: { id: 'user-1', nickname: 'Alice' } });

    // The identity moved out of users, the session_key column is gone, and the database is consistent.
    const sqlite = server.app.sqlite!; // DATABASE_PATH given: SQLite whatever the suite's backend
    const columns = (table: string) => (sqlite.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name);
    expect(columns('users')).not.toContain('openid');
    expect(columns('sessions')).not.toContain('session_key');
    expect(sqlite.prepare('SELECT user_id AS userId, unionid FROM wechat_identities ORDER BY user_id').all()).toEqual([
      { userId: 'user-1', unionid: expect.any(String) },
      { userId: 'user-2', unionid: null },
    ]);
    expect(sqlite.prepare('PRAGMA foreign_key_check').all()).toEqual([]);
    expect(sqlite.prepare('PRAGMA integrity_check').get()).toEqual({ integrity_check: 'ok' });
  });
});
