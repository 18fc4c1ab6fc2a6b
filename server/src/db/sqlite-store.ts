import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { and, desc, eq, gt, isNull, lt, ne, notExists, or, sql } from 'drizzle-orm';
import { drizzle, type BetterSQLite3Database } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import { migrationsFolder } from '../paths.ts';
import * as schema from './schema.ts';
import {
  accessTokens,
  appSecrets,
  codeExchanges,
  media,
  passwordCredentials,
  passwordLockouts,
  rateLimits,
  sessions,
  users,
  wechatIdentities,
  werunSteps,
} from './schema.ts';
import { PRUNE_COUNTERS_AFTER_MS, PRUNE_SESSIONS_AFTER_MS, type BindResult, type CodeExchangeRow, type NewSession, type ProfileChange, type ProfileRow, type SessionMethod, type Store, splitSessionWithProfile } from './store.ts';

export type SqliteDb = BetterSQLite3Database<typeof schema> & { $client: Database.Database };


/**
 * The columns a client may ever see. Selected explicitly so openid/unionid, the full phone number and password
 * hashes never leak by accident: they are not in this list.
 */
const profileColumns = {
  id: users.id,
  nickname: users.nickname,
  avatarUrl: users.avatarUrl,
  phone: users.phoneMasked,
  createdAt: users.createdAt,
  username: passwordCredentials.username,
  wechatBound: sql<boolean>`(${wechatIdentities.openid} is not null)`.mapWith(Boolean),
} as const;

/** What the per-request check reads of a session (sessionForAuth, and sessionWithProfile beside the profile). */
const sessionAuthColumns = {
  userId: sessions.userId,
  expiresAt: sessions.expiresAt,
  revokedAt: sessions.revokedAt,
  method: sessions.method,
  keyCheckedAt: sessions.wechatCheckedAt,
  keyValid: sessions.wechatCheckValid,
} as const;
/** sessionWithProfile's columns: the session's, then the profile's with the user's id as `profileId`. */
const { id: _profileId, ...profileColumnsButId } = profileColumns;
const sessionWithProfileColumns = { ...sessionAuthColumns, profileId: users.id, ...profileColumnsButId } as const;

export function openSqliteDatabase(path: string) {
  if (path !== ':memory:' && !path.startsWith('file:')) mkdirSync(dirname(path), { recursive: true });
  const sqlite = new Database(path);
  sqlite.pragma('journal_mode = WAL');
  sqlite.pragma('synchronous = NORMAL');
  sqlite.pragma('foreign_keys = ON');
  sqlite.pragma('busy_timeout = 5000');
  const db = drizzle(sqlite, { schema });
  migrate(db, { migrationsFolder });
  return { sqlite, db };
}

/** SQLite (better-sqlite3): the embedded default. */
export function openSqliteStore(path: string): Store & { sqlite: Database.Database; db: SqliteDb } {
  const { sqlite, db } = openSqliteDatabase(path);
  // Migrated: from now on a locked database is waited for by retryWhenBusy, off the event loop.
  sqlite.pragma('busy_timeout = 0');
  return Object.assign(retryWhenBusy(createSqliteStore(db, () => sqlite.close())), { sqlite, db });
}

/** As long as SQLite's busy_timeout was: a write waits this long for another process's to finish. */
const BUSY_RETRY_FOR_MS = 5_000;

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/**
 * Several server processes on one file (WORKERS > 1) take turns to write. SQLite's busy_timeout waits for the other's
 * write by sleeping inside the call, 1 ms and more each time: the whole event loop stops, and with two processes
 * logging users in that was a third of their time. Here busy_timeout is 0: a method whose write found the database
 * locked (nothing of it done: SQLite answers SQLITE_BUSY before it writes, and a transaction rolls back whole) is
 * tried again after yielding to the event loop, so other requests go on meanwhile.
 */
function retryWhenBusy(store: Store): Store {
  const guarded: Record<string, unknown> = { dialect: store.dialect };
  for (const [name, value] of Object.entries(store)) {
    if (typeof value !== 'function') continue;
    const method = value as (...a: unknown[]) => Promise<unknown>;
    guarded[name] = async (...args: unknown[]) => {
      const giveUpAt = performance.now() + BUSY_RETRY_FOR_MS;
      for (let attempt = 0; ; attempt++) {
        try {
          return await method.apply(store, args);
        } catch (error) {
          if (!isBusy(error) || performance.now() > giveUpAt) throw error;
          // The other process's write takes ~0.1 ms: look again at once, then back off to a millisecond.
          await new Promise((resolve) => (attempt < 4 ? setImmediate(resolve) : setTimeout(resolve, 1)));
        }
      }
    };
  }
  return guarded as unknown as Store;
}

function isUniqueViolation(error: unknown): boolean {
  return (error as { code?: unknown }).code === 'SQLITE_CONSTRAINT_UNIQUE' || (error as { code?: unknown }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/**
 * Every query the app runs, prepared once (drizzle's builder otherwise rebuilds the SQL on each call). Writes that
 * read first run in IMMEDIATE transactions: two processes on one file cannot interleave between the read and the
 * write. better-sqlite3 is synchronous; the methods are async only to share the Store interface.
 */
export function createSqliteStore(db: SqliteDb, closeDb: () => void = () => {}): Store {
  const p = sql.placeholder;
  // One better-sqlite3 transaction function, made once: drizzle's db.transaction builds a transaction object (a query
  // builder per table) and better-sqlite3 new wrappers on every call, ~20 µs a login. Nested calls use savepoints.
  const inImmediate = db.$client.transaction((fn: () => unknown) => fn()).immediate;
  const immediate = <T>(fn: () => T): T => inImmediate(fn) as T;

  const identityByOpenid = db
    .select({ userId: wechatIdentities.userId })
    .from(wechatIdentities)
    .where(eq(wechatIdentities.openid, p('openid')))
    .prepare();
  const identityByUser = db
    .select({ openid: wechatIdentities.openid, sessionKeyEnc: wechatIdentities.sessionKeyEnc })
    .from(wechatIdentities)
    .where(eq(wechatIdentities.userId, p('userId')))
    .prepare();
  const insertUser = db.insert(users).values({ id: p('id'), createdAt: p('now'), updatedAt: p('now') }).prepare();
  const insertIdentity = db
    .insert(wechatIdentities)
    .values({
      openid: p('openid'),
      userId: p('userId'),
      unionid: p('unionid'),
      sessionKeyEnc: p('sessionKeyEnc'),
      sessionKeyAt: p('now'),
      createdAt: p('now'),
      updatedAt: p('now'),
    })
    .prepare();
  const updateIdentityLogin = db
    .update(wechatIdentities)
    .set({
      unionid: sql`coalesce(${p('unionid')}, ${wechatIdentities.unionid})`,
      sessionKeyEnc: sql`${p('sessionKeyEnc')}`,
      sessionKeyAt: sql`${p('now')}`,
      updatedAt: sql`${p('now')}`,
    })
    .where(eq(wechatIdentities.openid, p('openid')))
    .prepare();
  const profileById = db
    .select(profileColumns)
    .from(users)
    .leftJoin(passwordCredentials, eq(passwordCredentials.userId, users.id))
    .leftJoin(wechatIdentities, eq(wechatIdentities.userId, users.id))
    .where(eq(users.id, p('id')))
    .prepare();
  const insertSession = db
    .insert(sessions)
    .values({
      id: p('id'),
      userId: p('userId'),
      method: p('method'),
      codeHash: p('codeHash'),
      createdAt: p('createdAt'),
      expiresAt: p('expiresAt'),
      wechatCheckedAt: p('keyCheckedAt'),
      wechatCheckValid: p('keyValid'),
    })
    .prepare();
  /** A WeChat session starts with a session_key WeChat just issued: as good as checked. */
  const sessionRow = (session: NewSession, userId: string, method: SessionMethod) => ({
    ...session,
    userId,
    method,
    keyCheckedAt: method === 'wechat' ? session.createdAt : null,
    keyValid: method === 'wechat' ? 1 : null,
  });
  const sessionForAuth = db
    .select(sessionAuthColumns)
    .from(sessions)
    .where(eq(sessions.id, p('id')))
    .prepare();
  // users is left-joined so a missing user reads as no profile.
  const sessionWithProfile = db
    .select(sessionWithProfileColumns)
    .from(sessions)
    .leftJoin(users, eq(users.id, sessions.userId))
    .leftJoin(passwordCredentials, eq(passwordCredentials.userId, users.id))
    .leftJoin(wechatIdentities, eq(wechatIdentities.userId, users.id))
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
    .set({ revokedAt: sql`${p('now')}` })
    .where(and(eq(sessions.id, p('id')), isNull(sessions.revokedAt)))
    .prepare();
  const extendSession = db
    .update(sessions)
    .set({ expiresAt: sql`${p('expiresAt')}` })
    .where(and(eq(sessions.id, p('id')), isNull(sessions.revokedAt), gt(sessions.expiresAt, p('now'))))
    .prepare();
  const credentialByUsername = db
    .select({ userId: passwordCredentials.userId, passwordHash: passwordCredentials.passwordHash })
    .from(passwordCredentials)
    .where(eq(passwordCredentials.username, p('username')))
    .prepare();
  const credentialOf = db
    .select({ username: passwordCredentials.username, passwordHash: passwordCredentials.passwordHash })
    .from(passwordCredentials)
    .where(eq(passwordCredentials.userId, p('userId')))
    .prepare();
  const insertCredential = db
    .insert(passwordCredentials)
    .values({ userId: p('userId'), username: p('username'), passwordHash: p('passwordHash'), createdAt: p('now'), updatedAt: p('now') })
    .prepare();
  const lockout = db
    .select({ lockedUntil: passwordLockouts.lockedUntil })
    .from(passwordLockouts)
    .where(and(eq(passwordLockouts.username, p('username')), eq(passwordLockouts.clientIp, p('clientIp'))))
    .prepare();
  // One statement: a failure outside the window starts a new one; the lock is set when the count reaches the limit.
  const recordFailure = db
    .insert(passwordLockouts)
    .values({ username: p('username'), clientIp: p('clientIp'), failures: 1, windowStartedAt: p('now'), lockedUntil: sql`case when 1 >= ${p('max')} then ${p('lockUntil')} else 0 end` })
    .onConflictDoUpdate({
      target: [passwordLockouts.username, passwordLockouts.clientIp],
      set: {
        failures: sql`case when ${passwordLockouts.windowStartedAt} <= ${p('windowStart')} then 1 else ${passwordLockouts.failures} + 1 end`,
        windowStartedAt: sql`case when ${passwordLockouts.windowStartedAt} <= ${p('windowStart')} then ${p('now')} else ${passwordLockouts.windowStartedAt} end`,
        lockedUntil: sql`case when (case when ${passwordLockouts.windowStartedAt} <= ${p('windowStart')} then 1 else ${passwordLockouts.failures} + 1 end) >= ${p('max')} then max(${passwordLockouts.lockedUntil}, ${p('lockUntil')}) else ${passwordLockouts.lockedUntil} end`,
      },
    })
    .returning({ lockedUntil: passwordLockouts.lockedUntil })
    .prepare();
  const clearFailures = db
    .delete(passwordLockouts)
    .where(and(eq(passwordLockouts.username, p('username')), eq(passwordLockouts.clientIp, p('clientIp'))))
    .prepare();
  const avatarKeyOf = db.select({ key: users.avatarMediaKey }).from(users).where(eq(users.id, p('id'))).prepare();
  const insertMediaIfAbsent = db
    .insert(media)
    .values({ key: p('key'), contentType: p('contentType'), size: p('size'), width: p('width'), height: p('height'), createdAt: p('now') })
    .onConflictDoNothing()
    .prepare();
  const mediaByKey = db
    .select({ key: media.key, contentType: media.contentType, size: media.size, width: media.width, height: media.height })
    .from(media)
    .where(eq(media.key, p('key')))
    .prepare();
  const accessTokenRow = db
    .select({
      tokenEnc: accessTokens.tokenEnc,
      expiresAt: accessTokens.expiresAt,
      refreshLockUntil: accessTokens.refreshLockUntil,
      refreshLockOwner: accessTokens.refreshLockOwner,
    })
    .from(accessTokens)
    .where(eq(accessTokens.appId, p('appId')))
    .prepare();

  // A new claim, or a takeover of one whose time is up (its process died, or its failure is forgotten).
  const claimCode = db
    .insert(codeExchanges)
    .values({ codeHash: p('codeHash'), state: 'pending', owner: p('owner'), createdAt: p('now'), expiresAt: p('expiresAt') })
    .onConflictDoUpdate({
      target: codeExchanges.codeHash,
      set: { state: 'pending', owner: sql`excluded.owner`, reason: null, errcode: null, detail: null, createdAt: sql`excluded.created_at`, expiresAt: sql`excluded.expires_at` },
      setWhere: lt(codeExchanges.expiresAt, sql`excluded.created_at + 1`),
    })
    .returning({ owner: codeExchanges.owner })
    .prepare();
  const codeExchangeRow = db
    .select({
      state: codeExchanges.state,
      owner: codeExchanges.owner,
      reason: codeExchanges.reason,
      errcode: codeExchanges.errcode,
      detail: codeExchanges.detail,
      createdAt: codeExchanges.createdAt,
      expiresAt: codeExchanges.expiresAt,
    })
    .from(codeExchanges)
    .where(eq(codeExchanges.codeHash, p('codeHash')))
    .prepare();
  const releaseCode = db
    .delete(codeExchanges)
    .where(and(eq(codeExchanges.codeHash, p('codeHash')), eq(codeExchanges.owner, p('owner'))))
    .prepare();
  const hitRate = db
    .insert(rateLimits)
    .values({ key: p('key'), windowStartedAt: p('now'), count: 1 })
    .onConflictDoUpdate({
      target: rateLimits.key,
      set: {
        count: sql`case when ${rateLimits.windowStartedAt} <= ${p('windowStart')} then 1 else ${rateLimits.count} + 1 end`,
        windowStartedAt: sql`case when ${rateLimits.windowStartedAt} <= ${p('windowStart')} then ${p('now')} else ${rateLimits.windowStartedAt} end`,
      },
    })
    .returning({ count: rateLimits.count, windowStartedAt: rateLimits.windowStartedAt })
    .prepare();

  const profileOf = (userId: string): ProfileRow | undefined => profileById.get({ id: userId });

  /** Changes users columns and reports the stored image the user stopped using. */
  function changeUser(
    userId: string,
    set: Partial<typeof users.$inferInsert>,
    now: number,
  ): ProfileChange | undefined {
    return immediate(() => {
      const before = avatarKeyOf.get({ id: userId });
      if (!before) return undefined;
      db.update(users).set({ ...set, updatedAt: now }).where(eq(users.id, userId)).run();
      const profile = profileOf(userId);
      if (!profile) return undefined;
      const after = 'avatarMediaKey' in set ? (set.avatarMediaKey ?? null) : before.key;
      return { profile, previousMediaKey: before.key !== null && before.key !== after ? before.key : null };
    });
  }

  return {
    dialect: 'sqlite',

    async loginWechat(input) {
      return immediate(() => {
        const now = input.session.createdAt;
        const existing = identityByOpenid.get({ openid: input.openid });
        let userId: string;
        let isNewUser: boolean;
        if (existing) {
          userId = existing.userId;
          isNewUser = false;
          updateIdentityLogin.run({ openid: input.openid, unionid: input.unionid, sessionKeyEnc: input.sessionKeyEnc, now });
        } else {
          userId = input.newUserId;
          isNewUser = true;
          insertUser.run({ id: userId, now });
          insertIdentity.run({ openid: input.openid, userId, unionid: input.unionid, sessionKeyEnc: input.sessionKeyEnc, now });
        }
        insertSession.run(sessionRow(input.session, userId, 'wechat'));
        if (input.claim) releaseCode.run(input.claim);
        return { userId, isNewUser, profile: profileOf(userId) };
      });
    },

    async wechatIdentityOf(userId) {
      return identityByUser.get({ userId });
    },

    async openSession(userId, method, session) {
      insertSession.run(sessionRow(session, userId, method));
    },

    async sessionForAuth(sessionId) {
      return sessionForAuth.get({ id: sessionId });
    },

    async sessionWithProfile(sessionId) {
      const row = sessionWithProfile.get({ id: sessionId });
      return row && splitSessionWithProfile(row);
    },

    async sessionByCodeHash(codeHash) {
      return sessionByCodeHash.get({ codeHash });
    },

    async revokeSession(sessionId, now) {
      return revokeSession.run({ id: sessionId, now }).changes > 0;
    },

    async revokeOtherSessions(userId, keepSessionId, now) {
      return db
        .update(sessions)
        .set({ revokedAt: now })
        .where(and(eq(sessions.userId, userId), ne(sessions.id, keepSessionId), isNull(sessions.revokedAt)))
        .run().changes;
    },

    async extendSession(sessionId, expiresAt, now) {
      return extendSession.run({ id: sessionId, expiresAt, now }).changes > 0;
    },

    async recordSessionKeyCheck(sessionId, valid, now) {
      db.update(sessions).set({ wechatCheckedAt: now, wechatCheckValid: valid }).where(eq(sessions.id, sessionId)).run();
    },

    async createPasswordUser(input) {
      try {
        immediate(() => {
          const now = input.session.createdAt;
          insertUser.run({ id: input.userId, now });
          insertCredential.run({ userId: input.userId, username: input.username, passwordHash: input.passwordHash, now });
          insertSession.run(sessionRow(input.session, input.userId, 'password'));
        });
        return { ok: true };
      } catch (error) {
        if (isUniqueViolation(error)) return { ok: false, reason: 'username_taken' };
        throw error;
      }
    },

    async credentialByUsername(username) {
      return credentialByUsername.get({ username });
    },

    async credentialOf(userId) {
      return credentialOf.get({ userId });
    },

    async addPasswordCredential(input) {
      try {
        return immediate(() => {
          if (credentialOf.get({ userId: input.userId })) return { ok: false as const, reason: 'has_password' as const };
          insertCredential.run({ userId: input.userId, username: input.username, passwordHash: input.passwordHash, now: input.now });
          return { ok: true as const };
        });
      } catch (error) {
        if (isUniqueViolation(error)) return { ok: false, reason: 'username_taken' };
        throw error;
      }
    },

    async setPasswordHash(userId, passwordHash, now) {
      return db.update(passwordCredentials).set({ passwordHash, updatedAt: now }).where(eq(passwordCredentials.userId, userId)).run().changes > 0;
    },

    async bindWechatToAccount(input): Promise<BindResult> {
      return immediate((): BindResult => {
        const now = input.session.createdAt;
        const identity = identityByUser.get({ userId: input.wechatUserId });
        if (!identity) return { ok: false, reason: 'wechat_required' };
        const account = db
          .select({ id: users.id, nickname: users.nickname, avatarUrl: users.avatarUrl, avatarMediaKey: users.avatarMediaKey, phoneE164: users.phoneE164 })
          .from(users)
          .where(eq(users.id, input.accountUserId))
          .get();
        if (!account) return { ok: false, reason: 'account_missing' };
        if (identityByUser.get({ userId: input.accountUserId })) return { ok: false, reason: 'already_bound' };
        const source = db
          .select({ nickname: users.nickname, avatarUrl: users.avatarUrl, avatarMediaKey: users.avatarMediaKey, phoneE164: users.phoneE164, phoneMasked: users.phoneMasked })
          .from(users)
          .where(eq(users.id, input.wechatUserId))
          .get();
        const sourceKeepsAccount = credentialOf.get({ userId: input.wechatUserId }) !== undefined;

        db.update(wechatIdentities).set({ userId: input.accountUserId, updatedAt: now }).where(eq(wechatIdentities.openid, identity.openid)).run();
        let previousMediaKey: string | null = null;
        if (source) {
          const fill: Partial<typeof users.$inferInsert> = {};
          if (account.nickname === null && source.nickname !== null) fill.nickname = source.nickname;
          if (account.avatarUrl === null && source.avatarUrl !== null) {
            fill.avatarUrl = source.avatarUrl;
            fill.avatarMediaKey = source.avatarMediaKey;
          } else if (!sourceKeepsAccount) {
            previousMediaKey = source.avatarMediaKey;
          }
          if (account.phoneE164 === null && source.phoneE164 !== null) {
            fill.phoneE164 = source.phoneE164;
            fill.phoneMasked = source.phoneMasked;
          }
          db.update(users).set({ ...fill, updatedAt: now }).where(eq(users.id, input.accountUserId)).run();
          // The account's own days win; the WeChat user's fill the gaps.
          db.run(sql`insert into ${werunSteps} (user_id, date, steps, updated_at)
            select ${input.accountUserId}, date, steps, ${now} from ${werunSteps} where user_id = ${input.wechatUserId}
            on conflict (user_id, date) do nothing`);
          if (!sourceKeepsAccount) db.delete(users).where(eq(users.id, input.wechatUserId)).run();
        }
        revokeSession.run({ id: input.callerSessionId, now });
        insertSession.run(sessionRow(input.session, input.accountUserId, 'wechat'));
        return { ok: true, previousMediaKey };
      });
    },

    async unbindWechat(userId, now) {
      return immediate(() => {
        const identity = identityByUser.get({ userId });
        if (!identity) return 'not_bound' as const;
        if (!credentialOf.get({ userId })) return 'last_login_method' as const;
        db.delete(wechatIdentities).where(eq(wechatIdentities.openid, identity.openid)).run();
        db.update(users).set({ updatedAt: now }).where(eq(users.id, userId)).run();
        return 'ok' as const;
      });
    },

    async passwordLockedUntil(username, clientIp, now) {
      const row = lockout.get({ username, clientIp });
      return row && row.lockedUntil > now ? row.lockedUntil : null;
    },

    async recordPasswordFailure(username, clientIp, now, policy) {
      const row = recordFailure.get({
        username,
        clientIp,
        now,
        windowStart: now - policy.windowMs,
        max: policy.maxFailures,
        lockUntil: now + policy.lockMs,
      });
      return row && row.lockedUntil > now ? row.lockedUntil : null;
    },

    async clearPasswordFailures(username, clientIp) {
      clearFailures.run({ username, clientIp });
    },

    async profile(userId) {
      return profileOf(userId);
    },

    async updateProfile(userId, patch, now) {
      const set: Partial<typeof users.$inferInsert> = {};
      if (patch.nickname !== undefined) set.nickname = patch.nickname;
      // An https URL given by the client replaces any stored image.
      if (patch.avatarUrl !== undefined) Object.assign(set, { avatarUrl: patch.avatarUrl, avatarMediaKey: null });
      return changeUser(userId, set, now);
    },

    async setPhone(userId, phone, now) {
      db.update(users).set({ phoneE164: phone.e164, phoneMasked: phone.masked, updatedAt: now }).where(eq(users.id, userId)).run();
      return profileOf(userId);
    },

    async saveWeRunDays(userId, days, now) {
      if (days.length === 0) return;
      immediate(() => {
        for (const day of days) {
          db.insert(werunSteps)
            .values({ userId, date: day.date, steps: day.steps, updatedAt: now })
            .onConflictDoUpdate({ target: [werunSteps.userId, werunSteps.date], set: { steps: day.steps, updatedAt: now } })
            .run();
        }
      });
    },

    async weRunDays(userId, limit) {
      return db
        .select({ date: werunSteps.date, steps: werunSteps.steps })
        .from(werunSteps)
        .where(eq(werunSteps.userId, userId))
        .orderBy(desc(werunSteps.date))
        .limit(limit)
        .all();
    },

    async accessToken(appId) {
      return accessTokenRow.get({ appId });
    },

    async tryLockAccessTokenRefresh(appId, owner, now, leaseMs) {
      return immediate(() => {
        db.insert(accessTokens).values({ appId, updatedAt: now }).onConflictDoNothing().run();
        const taken = db
          .update(accessTokens)
          .set({ refreshLockUntil: now + leaseMs, refreshLockOwner: owner })
          .where(and(eq(accessTokens.appId, appId), or(lt(accessTokens.refreshLockUntil, now + 1), eq(accessTokens.refreshLockOwner, owner))))
          .run();
        return taken.changes > 0;
      });
    },

    async saveAccessToken(appId, owner, tokenEnc, expiresAt, now) {
      db.update(accessTokens)
        .set({ tokenEnc, expiresAt, updatedAt: now, refreshLockUntil: 0, refreshLockOwner: null })
        .where(and(eq(accessTokens.appId, appId), eq(accessTokens.refreshLockOwner, owner)))
        .run();
    },

    async releaseAccessTokenLock(appId, owner) {
      db.update(accessTokens)
        .set({ refreshLockUntil: 0, refreshLockOwner: null })
        .where(and(eq(accessTokens.appId, appId), eq(accessTokens.refreshLockOwner, owner)))
        .run();
    },

    async invalidateAccessToken(appId, tokenEnc) {
      db.update(accessTokens)
        .set({ expiresAt: 0 })
        .where(and(eq(accessTokens.appId, appId), eq(accessTokens.tokenEnc, tokenEnc)))
        .run();
    },

    async setAvatarMedia(userId, row, avatarUrl, now) {
      return immediate(() => {
        insertMediaIfAbsent.run({ ...row, now });
        return changeUser(userId, { avatarUrl, avatarMediaKey: row.key }, now);
      });
    },

    async media(key) {
      return mediaByKey.get({ key });
    },

    async deleteMediaIfUnreferenced(key) {
      return (
        db
          .delete(media)
          .where(and(eq(media.key, key), notExists(db.select({ id: users.id }).from(users).where(eq(users.avatarMediaKey, key)))))
          .run().changes > 0
      );
    },

    async unreferencedMedia(before, limit) {
      const rows = db
        .select({ key: media.key })
        .from(media)
        .where(and(lt(media.createdAt, before), notExists(db.select({ id: users.id }).from(users).where(eq(users.avatarMediaKey, media.key)))))
        .limit(limit)
        .all();
      return rows.map((r) => r.key);
    },

    async claimCodeExchange(codeHash, owner, now, leaseMs) {
      return claimCode.get({ codeHash, owner, now, expiresAt: now + leaseMs })?.owner === owner;
    },

    async codeExchange(codeHash) {
      return codeExchangeRow.get({ codeHash }) as CodeExchangeRow | undefined;
    },

    async failCodeExchange(codeHash, owner, failure, now, expiresAt) {
      db.update(codeExchanges)
        .set({ state: 'failed', reason: failure.reason, errcode: failure.errcode, detail: failure.detail, expiresAt })
        .where(and(eq(codeExchanges.codeHash, codeHash), eq(codeExchanges.owner, owner)))
        .run();
    },

    async releaseCodeExchange(codeHash, owner) {
      releaseCode.run({ codeHash, owner });
    },

    async hitRateLimit(key, windowMs, now) {
      const row = hitRate.get({ key, now, windowStart: now - windowMs });
      if (!row) throw new Error('rate limit upsert returned no row');
      return row;
    },

    async sharedSecret(name, candidate, now) {
      db.insert(appSecrets).values({ name, value: candidate, createdAt: now }).onConflictDoNothing().run();
      const row = db.select({ value: appSecrets.value }).from(appSecrets).where(eq(appSecrets.name, name)).get();
      if (!row) throw new Error(`app secret ${name} vanished`);
      return row.value;
    },

    async prune(now) {
      return immediate(() => {
        let rows = db.delete(codeExchanges).where(lt(codeExchanges.expiresAt, now)).run().changes;
        rows += db.delete(rateLimits).where(lt(rateLimits.windowStartedAt, now - PRUNE_COUNTERS_AFTER_MS)).run().changes;
        rows += db
          .delete(passwordLockouts)
          .where(and(lt(passwordLockouts.windowStartedAt, now - PRUNE_COUNTERS_AFTER_MS), lt(passwordLockouts.lockedUntil, now)))
          .run().changes;
        const dead = now - PRUNE_SESSIONS_AFTER_MS;
        rows += db.delete(sessions).where(or(lt(sessions.expiresAt, dead), lt(sessions.revokedAt, dead))).run().changes;
        return rows;
      });
    },

    async ping() {
      db.get(sql`select 1`);
    },

    async close() {
      closeDb();
    },
  };
}
