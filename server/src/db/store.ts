import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { and, eq, gt, isNull, sql } from 'drizzle-orm';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { migrationsFolder } from '../paths.ts';
import * as schema from './schema.ts';
import { sessions, users } from './schema.ts';

export type Db = BetterSQLite3Database<typeof schema>;

/** The columns a client may ever see. Selected explicitly so openid/unionid never leak by accident. */
const profileColumns = {
  id: users.id,
  nickname: users.nickname,
  avatarUrl: users.avatarUrl,
  createdAt: users.createdAt,
} as const;

export interface ProfileRow {
  id: string;
  nickname: string | null;
  avatarUrl: string | null;
  createdAt: number;
}

export interface SessionAuthRow {
  userId: string;
  expiresAt: number;
  revokedAt: number | null;
}

export interface SessionByCodeRow {
  id: string;
  userId: string;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
}

export interface NewSession {
  id: string;
  userId: string;
  sessionKey: string;
  codeHash: string | null;
  createdAt: number;
  expiresAt: number;
}

export function openDatabase(path: string) {
  if (path !== ':memory:' && !path.startsWith('file:')) mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = drizzle(sqlite, { schema });
  migrate(db, { migrationsFolder });
  return { sqlite, db, store: createStore(db) };
}

export type Store = ReturnType<typeof createStore>;

/** Every query the app runs, prepared once: drizzle's builder otherwise rebuilds the SQL on each call. */
export function createStore(db: Db) {
  const p = sql.placeholder;

  const insertUserIfAbsent = db
    .insert(users)
    .values({ id: p('id'), openid: p('openid'), unionid: p('unionid'), createdAt: p('now'), updatedAt: p('now') })
    .onConflictDoNothing({ target: users.openid })
    .returning({ id: users.id })
    .prepare();
  const userIdByOpenid = db
    .select({ id: users.id, unionid: users.unionid })
    .from(users)
    .where(eq(users.openid, p('openid')))
    .prepare();
  const setUnionid = db
    .update(users)
    .set({ unionid: p('unionid') as unknown as string, updatedAt: p('now') as unknown as number })
    .where(eq(users.id, p('id')))
    .prepare();
  const profileById = db.select(profileColumns).from(users).where(eq(users.id, p('id'))).prepare();
  const insertSession = db
    .insert(sessions)
    .values({
      id: p('id'),
      userId: p('userId'),
      sessionKey: p('sessionKey'),
      codeHash: p('codeHash'),
      createdAt: p('createdAt'),
      expiresAt: p('expiresAt'),
    })
    .prepare();
  const sessionForAuth = db
    .select({ userId: sessions.userId, expiresAt: sessions.expiresAt, revokedAt: sessions.revokedAt })
    .from(sessions)
    .where(eq(sessions.id, p('id')))
    .prepare();
  const sessionByCodeHash = db
    .select({
      id: sessions.id,
      userId: sessions.userId,
      createdAt: sessions.createdAt,
      expiresAt: sessions.expiresAt,
      revokedAt: sessions.revokedAt,
    })
    .from(sessions)
    .where(eq(sessions.codeHash, p('codeHash')))
    .prepare();
  const revokeSession = db
    .update(sessions)
    .set({ revokedAt: p('now') as unknown as number })
    .where(and(eq(sessions.id, p('id')), isNull(sessions.revokedAt)))
    .prepare();
  const extendSession = db
    .update(sessions)
    .set({ expiresAt: p('expiresAt') as unknown as number })
    .where(and(eq(sessions.id, p('id')), isNull(sessions.revokedAt), gt(sessions.expiresAt, p('now'))))
    .prepare();

  return {
    db,

    /** Finds the user for an openid or creates it, and opens a session, in one transaction. */
    loginUser(input: {
      newUserId: string;
      openid: string;
      unionid: string | null;
      session: Omit<NewSession, 'userId'>;
    }): { userId: string; isNewUser: boolean } {
      return db.transaction(() => {
        const now = input.session.createdAt;
        const inserted = insertUserIfAbsent.get({ id: input.newUserId, openid: input.openid, unionid: input.unionid, now });
        let userId: string;
        let isNewUser: boolean;
        if (inserted) {
          userId = inserted.id;
          isNewUser = true;
        } else {
          const existing = userIdByOpenid.get({ openid: input.openid });
          if (!existing) throw new Error('user row vanished during login');
          userId = existing.id;
          isNewUser = false;
          if (input.unionid !== null && existing.unionid !== input.unionid) {
            setUnionid.run({ id: userId, unionid: input.unionid, now });
          }
        }
        insertSession.run({ ...input.session, userId });
        return { userId, isNewUser };
      });
    },

    profile(userId: string): ProfileRow | undefined {
      return profileById.get({ id: userId });
    },

    updateProfile(userId: string, patch: { nickname?: string | undefined; avatarUrl?: string | undefined }, now: number): ProfileRow | undefined {
      const set: { nickname?: string; avatarUrl?: string; updatedAt: number } = { updatedAt: now };
      if (patch.nickname !== undefined) set.nickname = patch.nickname;
      if (patch.avatarUrl !== undefined) set.avatarUrl = patch.avatarUrl;
      return db.update(users).set(set).where(eq(users.id, userId)).returning(profileColumns).get();
    },

    sessionForAuth(sessionId: string): SessionAuthRow | undefined {
      return sessionForAuth.get({ id: sessionId });
    },

    sessionByCodeHash(codeHash: string): SessionByCodeRow | undefined {
      return sessionByCodeHash.get({ codeHash });
    },

    /** Returns true when this call revoked it (false: already revoked or unknown). */
    revokeSession(sessionId: string, now: number): boolean {
      return revokeSession.run({ id: sessionId, now }).changes > 0;
    },

    /** Moves a live session's expiry; false when it is revoked, expired or unknown. */
    extendSession(sessionId: string, expiresAt: number, now: number): boolean {
      return extendSession.run({ id: sessionId, expiresAt, now }).changes > 0;
    },
  };
}
