import { and, desc, eq, gt, inArray, isNull, lt, lte, ne, notExists, or, sql } from 'drizzle-orm';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import pg from 'pg';
import { pgMigrationsFolder } from '../paths.ts';
import { DatabaseUnavailableError, DatabaseConnectError, isConnectionError } from './errors.ts';
import * as schema from './pg-schema.ts';
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
} from './pg-schema.ts';
import {
  PRUNE_COUNTERS_AFTER_MS,
  PRUNE_SESSIONS_AFTER_MS,
  type BindResult,
  type CodeExchangeRow,
  type NewSession,
  type ProfileChange,
  type ProfileRow,
  type SessionMethod,
  type Store,
  splitSessionWithProfile,
} from './store.ts';

export type PgDb = NodePgDatabase<typeof schema> & { $client: pg.Pool };
type Tx = Parameters<Parameters<PgDb['transaction']>[0]>[0];

export interface PgStoreOptions {
  url: string;
  /** Connections this process may hold (each server process has its own pool). */
  poolSize: number;
  /** How long a request waits for a connection before answering database_unavailable. */
  connectTimeoutMs?: number;
  /** Longest a single statement may run. */
  statementTimeoutMs?: number;
  log?: { warn(obj: object, msg: string): void };
}

/** One key for "migrations are being applied": instances starting together take turns. */
const MIGRATION_LOCK = 0x77786b74; // "wxkt"

const profileColumns = {
  id: users.id,
  nickname: users.nickname,
  avatarUrl: users.avatarUrl,
  phone: users.phoneMasked,
  createdAt: users.createdAt,
  username: passwordCredentials.username,
  wechatBound: sql<boolean>`(${wechatIdentities.openid} is not null)`,
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

/** Host, port and database of a URL, never its password (for messages). */
export function describePgUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname || 'localhost'}:${u.port || '5432'}/${decodeURIComponent(u.pathname.replace(/^\//, '')) || '(default database)'}`;
  } catch {
    return '(an unreadable DATABASE_URL)';
  }
}

/**
 * PostgreSQL (node-postgres pool + drizzle): what several server processes share. Connects, applies the committed
 * migrations under an advisory lock (instances starting together take turns), and answers the same Store interface
 * as SQLite. Rows that two processes could race for are serialised with row locks (`FOR UPDATE`) or a per-openid
 * transaction advisory lock; counters are single upserts.
 */
export async function openPgStore(options: PgStoreOptions): Promise<Store & { pool: pg.Pool; db: PgDb }> {
  const where = describePgUrl(options.url);
  const pool = new pg.Pool({
    connectionString: options.url,
    max: options.poolSize,
    connectionTimeoutMillis: options.connectTimeoutMs ?? 2_000,
    idleTimeoutMillis: 30_000,
    keepAlive: true,
    statement_timeout: options.statementTimeoutMs ?? 10_000,
    application_name: 'wxkit',
  });
  // An idle connection dropped by the server (restart, failover) must not crash the process: the pool replaces it.
  pool.on('error', (error: Error & { code?: string }) => options.log?.warn({ code: error.code, message: error.message }, 'PostgreSQL connection lost; the pool will reconnect'));

  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    await pool.end().catch(() => undefined);
    throw new DatabaseConnectError(where, error);
  }
  const db = drizzle({ client: pool, schema });
  try {
    // On the connection that holds the lock (a pool of one would otherwise wait for itself).
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await migrate(drizzle({ client }), { migrationsFolder: pgMigrationsFolder });
  } finally {
    await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    client.release();
  }
  const store = guardConnectionErrors(createPgStore(db, () => pool.end()));
  return Object.assign(store, { pool, db });
}

/** Every method: a lost or refused connection becomes DatabaseUnavailableError (503), never a 500 with a stack. */
function guardConnectionErrors(store: Store): Store {
  const guarded: Record<string, unknown> = { dialect: store.dialect };
  for (const [name, value] of Object.entries(store)) {
    if (typeof value !== 'function') continue;
    guarded[name] = async (...args: unknown[]) => {
      try {
        return await (value as (...a: unknown[]) => Promise<unknown>).apply(store, args);
      } catch (error) {
        if (isConnectionError(error)) throw new DatabaseUnavailableError(error);
        throw error;
      }
    };
  }
  return guarded as unknown as Store;
}

function constraintOf(error: unknown): string | undefined {
  for (let e: unknown = error, i = 0; e && i < 4; e = (e as { cause?: unknown }).cause, i++) {
    if ((e as { code?: unknown }).code === '23505' || (e as { code?: unknown }).code === '23503') {
      return String((e as { constraint?: unknown }).constraint ?? '');
    }
  }
  return undefined;
}

type LoginWechatInput = Parameters<Store['loginWechat']>[0];

// loginWechat's statements, named: each connection parses them once. Raw SQL over the pool's client rather than
// drizzle's builder, which rebuilds the SQL of a transaction's statements on every call (the builder and the round
// trips were most of a login's CPU on PostgreSQL). Column names: pg-schema.ts.
const PROFILE_SELECT = `select u.id, u.nickname, u.avatar_url, u.phone_masked, u.created_at, c.username, (w.openid is not null) as wechat_bound
  from users u left join password_credentials c on c.user_id = u.id left join wechat_identities w on w.user_id = u.id
  where u.id = $1`;
const loginStatements = {
  updateIdentity: {
    name: 'wxkit_login_update_identity',
    text: `update wechat_identities set unionid = coalesce($2, unionid), session_key_enc = $3, session_key_at = $4, updated_at = $4
      where openid = $1 returning user_id`,
  },
  lockOpenid: { name: 'wxkit_login_lock_openid', text: 'select pg_advisory_xact_lock(hashtext($1))' },
  insertUser: { name: 'wxkit_login_insert_user', text: 'insert into users (id, created_at, updated_at) values ($1, $2, $2)' },
  insertIdentity: {
    name: 'wxkit_login_insert_identity',
    text: `insert into wechat_identities (openid, user_id, unionid, session_key_enc, session_key_at, created_at, updated_at)
      values ($1, $2, $3, $4, $5, $5, $5)`,
  },
  // The session opened, the code's claim released and the profile read, in one round trip (a WeChat session starts
  // with a session_key WeChat just issued: as good as checked).
  openSession: {
    name: 'wxkit_login_open_session',
    text: `with opened as (
        insert into sessions (id, user_id, method, code_hash, created_at, expires_at, wechat_checked_at, wechat_check_valid)
        values ($2, $1, 'wechat', $3, $4, $5, $4, true)
      ), released as (
        delete from code_exchanges where code_hash = $6 and owner = $7
      )
      ${PROFILE_SELECT}`,
  },
} as const;

interface RawProfileRow {
  id: string;
  nickname: string | null;
  avatar_url: string | null;
  phone_masked: string | null;
  /** bigint: node-postgres answers a string. */
  created_at: string | number;
  username: string | null;
  wechat_bound: boolean;
}

/**
 * A WeChat login's transaction in four round trips for a returning user (begin, the identity's update, the session
 * with the claim's release and the profile, commit). A first login takes a per-openid lock and looks again, so two
 * first logins of one user cannot both create it.
 */
async function loginWechat(pool: pg.Pool, input: LoginWechatInput): Promise<{ userId: string; isNewUser: boolean; profile: ProfileRow | undefined }> {
  const now = input.session.createdAt;
  const client = await pool.connect();
  let broken = false;
  try {
    await client.query('begin');
    const updateIdentity = { ...loginStatements.updateIdentity, values: [input.openid, input.unionid, input.sessionKeyEnc, now] };
    let updated = await client.query<{ user_id: string }>(updateIdentity);
    let isNewUser = false;
    if (updated.rowCount === 0) {
      await client.query({ ...loginStatements.lockOpenid, values: [input.openid] });
      // Another first login of this user may have committed it while we waited for the lock.
      updated = await client.query<{ user_id: string }>(updateIdentity);
      if (updated.rowCount === 0) {
        isNewUser = true;
        await client.query({ ...loginStatements.insertUser, values: [input.newUserId, now] });
        await client.query({ ...loginStatements.insertIdentity, values: [input.openid, input.newUserId, input.unionid, input.sessionKeyEnc, now] });
      }
    }
    const userId = isNewUser ? input.newUserId : (updated.rows[0] as { user_id: string }).user_id;
    const opened = await client.query<RawProfileRow>({
      ...loginStatements.openSession,
      values: [userId, input.session.id, input.session.codeHash, now, input.session.expiresAt, input.claim?.codeHash ?? null, input.claim?.owner ?? null],
    });
    await client.query('commit');
    const row = opened.rows[0];
    const profile: ProfileRow | undefined = row && {
      id: row.id,
      nickname: row.nickname,
      avatarUrl: row.avatar_url,
      phone: row.phone_masked,
      createdAt: Number(row.created_at),
      username: row.username,
      wechatBound: row.wechat_bound,
    };
    return { userId, isNewUser, profile };
  } catch (error) {
    // A connection that cannot even roll back is dropped from the pool rather than handed to the next caller.
    broken = await client.query('rollback').then(
      () => false,
      () => true,
    );
    throw error;
  } finally {
    client.release(broken);
  }
}

export function createPgStore(db: PgDb, closeDb: () => Promise<void>): Store {
  const p = sql.placeholder;

  // The hot path's statements, prepared once per connection by name.
  const sessionForAuth = db
    .select(sessionAuthColumns)
    .from(sessions)
    .where(eq(sessions.id, p('id')))
    .prepare('wxkit_session_for_auth');
  const profileById = db
    .select(profileColumns)
    .from(users)
    .leftJoin(passwordCredentials, eq(passwordCredentials.userId, users.id))
    .leftJoin(wechatIdentities, eq(wechatIdentities.userId, users.id))
    .where(eq(users.id, p('id')))
    .prepare('wxkit_profile_by_id');
  const sessionWithProfile = db
    .select(sessionWithProfileColumns)
    .from(sessions)
    .leftJoin(users, eq(users.id, sessions.userId))
    .leftJoin(passwordCredentials, eq(passwordCredentials.userId, users.id))
    .leftJoin(wechatIdentities, eq(wechatIdentities.userId, users.id))
    .where(eq(sessions.id, p('id')))
    .prepare('wxkit_session_with_profile');
  const sessionByCodeHash = db
    .select({ id: sessions.id, userId: sessions.userId, createdAt: sessions.createdAt, expiresAt: sessions.expiresAt, revokedAt: sessions.revokedAt })
    .from(sessions)
    .where(eq(sessions.codeHash, p('codeHash')))
    .prepare('wxkit_session_by_code_hash');
  // A new claim, or a takeover of one whose time is up (its process died, or its failure is forgotten).
  const claimCode = db
    .insert(codeExchanges)
    .values({ codeHash: p('codeHash'), state: 'pending', owner: p('owner'), createdAt: p('now'), expiresAt: p('expiresAt') })
    .onConflictDoUpdate({
      target: codeExchanges.codeHash,
      set: { state: 'pending', owner: sql`excluded.owner`, reason: null, errcode: null, detail: null, createdAt: sql`excluded.created_at`, expiresAt: sql`excluded.expires_at` },
      setWhere: lte(codeExchanges.expiresAt, sql`excluded.created_at`),
    })
    .returning({ owner: codeExchanges.owner })
    .prepare('wxkit_claim_code');
  const windowRestarts = sql`${rateLimits.windowStartedAt} <= ${p('windowStart')}`;
  const hitRate = db
    .insert(rateLimits)
    .values({ key: p('key'), windowStartedAt: p('now'), count: 1 })
    .onConflictDoUpdate({
      target: rateLimits.key,
      set: {
        count: sql`case when ${windowRestarts} then 1 else ${rateLimits.count} + 1 end`,
        windowStartedAt: sql`case when ${windowRestarts} then ${p('now')} else ${rateLimits.windowStartedAt} end`,
      },
    })
    .returning({ count: rateLimits.count, windowStartedAt: rateLimits.windowStartedAt })
    .prepare('wxkit_hit_rate_limit');
  const extendSession = db
    .update(sessions)
    .set({ expiresAt: sql`${p('expiresAt')}` })
    .where(and(eq(sessions.id, p('id')), isNull(sessions.revokedAt), gt(sessions.expiresAt, p('now'))))
    .returning({ id: sessions.id })
    .prepare('wxkit_extend_session');

  const first = <T>(rows: T[]): T | undefined => rows[0];
  const profileIn = async (q: PgDb | Tx, userId: string): Promise<ProfileRow | undefined> =>
    first(
      await q
        .select(profileColumns)
        .from(users)
        .leftJoin(passwordCredentials, eq(passwordCredentials.userId, users.id))
        .leftJoin(wechatIdentities, eq(wechatIdentities.userId, users.id))
        .where(eq(users.id, userId)),
    );
  const identityOf = async (q: PgDb | Tx, userId: string) =>
    first(await q.select({ openid: wechatIdentities.openid, sessionKeyEnc: wechatIdentities.sessionKeyEnc }).from(wechatIdentities).where(eq(wechatIdentities.userId, userId)));
  const credentialIn = async (q: PgDb | Tx, userId: string) =>
    first(await q.select({ username: passwordCredentials.username, passwordHash: passwordCredentials.passwordHash }).from(passwordCredentials).where(eq(passwordCredentials.userId, userId)));
  const sessionRow = (session: NewSession, userId: string, method: SessionMethod) => ({
    ...session,
    userId,
    method,
    // A WeChat session starts with a session_key WeChat just issued: as good as checked.
    wechatCheckedAt: method === 'wechat' ? session.createdAt : null,
    wechatCheckValid: method === 'wechat' ? true : null,
  });

  /** Changes users columns (the row locked) and reports the stored image the user stopped using. */
  async function changeUser(q: Tx, userId: string, set: Partial<typeof users.$inferInsert>, now: number): Promise<ProfileChange | undefined> {
    const before = first(await q.select({ key: users.avatarMediaKey }).from(users).where(eq(users.id, userId)).for('update'));
    if (!before) return undefined;
    await q.update(users).set({ ...set, updatedAt: now }).where(eq(users.id, userId));
    const profile = await profileIn(q, userId);
    if (!profile) return undefined;
    const after = 'avatarMediaKey' in set ? (set.avatarMediaKey ?? null) : before.key;
    return { profile, previousMediaKey: before.key !== null && before.key !== after ? before.key : null };
  }

  return {
    dialect: 'postgres',

    async loginWechat(input) {
      return loginWechat(db.$client, input);
    },

    async wechatIdentityOf(userId) {
      return identityOf(db, userId);
    },

    async openSession(userId, method, session) {
      await db.insert(sessions).values(sessionRow(session, userId, method));
    },

    async sessionForAuth(sessionId) {
      return first(await sessionForAuth.execute({ id: sessionId }));
    },

    async sessionWithProfile(sessionId) {
      const row = first(await sessionWithProfile.execute({ id: sessionId }));
      return row && splitSessionWithProfile(row);
    },

    async sessionByCodeHash(codeHash) {
      return first(await sessionByCodeHash.execute({ codeHash }));
    },

    async revokeSession(sessionId, now) {
      const rows = await db.update(sessions).set({ revokedAt: now }).where(and(eq(sessions.id, sessionId), isNull(sessions.revokedAt))).returning({ id: sessions.id });
      return rows.length > 0;
    },

    async revokeOtherSessions(userId, keepSessionId, now) {
      const rows = await db
        .update(sessions)
        .set({ revokedAt: now })
        .where(and(eq(sessions.userId, userId), ne(sessions.id, keepSessionId), isNull(sessions.revokedAt)))
        .returning({ id: sessions.id });
      return rows.length;
    },

    async extendSession(sessionId, expiresAt, now) {
      return (await extendSession.execute({ id: sessionId, expiresAt, now })).length > 0;
    },

    async recordSessionKeyCheck(sessionId, valid, now) {
      await db.update(sessions).set({ wechatCheckedAt: now, wechatCheckValid: valid }).where(eq(sessions.id, sessionId));
    },

    async createPasswordUser(input) {
      try {
        await db.transaction(async (tx) => {
          const now = input.session.createdAt;
          await tx.insert(users).values({ id: input.userId, createdAt: now, updatedAt: now });
          await tx.insert(passwordCredentials).values({ userId: input.userId, username: input.username, passwordHash: input.passwordHash, createdAt: now, updatedAt: now });
          await tx.insert(sessions).values(sessionRow(input.session, input.userId, 'password'));
        });
        return { ok: true };
      } catch (error) {
        if (constraintOf(error) !== undefined) return { ok: false, reason: 'username_taken' };
        throw error;
      }
    },

    async credentialByUsername(username) {
      return first(
        await db.select({ userId: passwordCredentials.userId, passwordHash: passwordCredentials.passwordHash }).from(passwordCredentials).where(eq(passwordCredentials.username, username)),
      );
    },

    async credentialOf(userId) {
      return credentialIn(db, userId);
    },

    async addPasswordCredential(input) {
      try {
        const inserted = await db
          .insert(passwordCredentials)
          .values({ userId: input.userId, username: input.username, passwordHash: input.passwordHash, createdAt: input.now, updatedAt: input.now })
          .onConflictDoNothing({ target: passwordCredentials.userId })
          .returning({ userId: passwordCredentials.userId });
        return inserted.length > 0 ? { ok: true } : { ok: false, reason: 'has_password' };
      } catch (error) {
        if (constraintOf(error) !== undefined) return { ok: false, reason: 'username_taken' };
        throw error;
      }
    },

    async setPasswordHash(userId, passwordHash, now) {
      const rows = await db.update(passwordCredentials).set({ passwordHash, updatedAt: now }).where(eq(passwordCredentials.userId, userId)).returning({ id: passwordCredentials.userId });
      return rows.length > 0;
    },

    async bindWechatToAccount(input): Promise<BindResult> {
      return db.transaction(async (tx): Promise<BindResult> => {
        const now = input.session.createdAt;
        // Both users locked, in a fixed order: concurrent binds to one account queue here, and never deadlock.
        const locked = await tx
          .select({ id: users.id, nickname: users.nickname, avatarUrl: users.avatarUrl, avatarMediaKey: users.avatarMediaKey, phoneE164: users.phoneE164, phoneMasked: users.phoneMasked })
          .from(users)
          .where(inArray(users.id, [input.wechatUserId, input.accountUserId]))
          .orderBy(users.id)
          .for('update');
        const account = locked.find((u) => u.id === input.accountUserId);
        const source = locked.find((u) => u.id === input.wechatUserId);
        const identity = await identityOf(tx, input.wechatUserId);
        if (!identity) return { ok: false, reason: 'wechat_required' };
        if (!account) return { ok: false, reason: 'account_missing' };
        if (await identityOf(tx, input.accountUserId)) return { ok: false, reason: 'already_bound' };
        const sourceKeepsAccount = (await credentialIn(tx, input.wechatUserId)) !== undefined;

        await tx.update(wechatIdentities).set({ userId: input.accountUserId, updatedAt: now }).where(eq(wechatIdentities.openid, identity.openid));
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
          await tx.update(users).set({ ...fill, updatedAt: now }).where(eq(users.id, input.accountUserId));
          await tx.execute(sql`insert into ${werunSteps} (user_id, date, steps, updated_at)
            select ${input.accountUserId}, date, steps, ${now} from ${werunSteps} where user_id = ${input.wechatUserId}
            on conflict (user_id, date) do nothing`);
          if (!sourceKeepsAccount) await tx.delete(users).where(eq(users.id, input.wechatUserId));
        }
        await tx.update(sessions).set({ revokedAt: now }).where(and(eq(sessions.id, input.callerSessionId), isNull(sessions.revokedAt)));
        await tx.insert(sessions).values(sessionRow(input.session, input.accountUserId, 'wechat'));
        return { ok: true, previousMediaKey };
      });
    },

    async unbindWechat(userId, now) {
      return db.transaction(async (tx) => {
        await tx.select({ id: users.id }).from(users).where(eq(users.id, userId)).for('update');
        const identity = await identityOf(tx, userId);
        if (!identity) return 'not_bound' as const;
        if (!(await credentialIn(tx, userId))) return 'last_login_method' as const;
        await tx.delete(wechatIdentities).where(eq(wechatIdentities.openid, identity.openid));
        await tx.update(users).set({ updatedAt: now }).where(eq(users.id, userId));
        return 'ok' as const;
      });
    },

    async passwordLockedUntil(username, clientIp, now) {
      const row = first(
        await db
          .select({ lockedUntil: passwordLockouts.lockedUntil })
          .from(passwordLockouts)
          .where(and(eq(passwordLockouts.username, username), eq(passwordLockouts.clientIp, clientIp))),
      );
      return row && row.lockedUntil > now ? row.lockedUntil : null;
    },

    async recordPasswordFailure(username, clientIp, now, policy) {
      const windowStart = now - policy.windowMs;
      const lockUntil = now + policy.lockMs;
      const restart = sql`${passwordLockouts.windowStartedAt} <= ${windowStart}`;
      const failures = sql`case when ${restart} then 1 else ${passwordLockouts.failures} + 1 end`;
      const row = first(
        await db
          .insert(passwordLockouts)
          .values({ username, clientIp, failures: 1, windowStartedAt: now, lockedUntil: policy.maxFailures <= 1 ? lockUntil : 0 })
          .onConflictDoUpdate({
            target: [passwordLockouts.username, passwordLockouts.clientIp],
            set: {
              failures,
              windowStartedAt: sql`case when ${restart} then ${now} else ${passwordLockouts.windowStartedAt} end`,
              lockedUntil: sql`case when ${failures} >= ${policy.maxFailures} then greatest(${passwordLockouts.lockedUntil}, ${lockUntil}) else ${passwordLockouts.lockedUntil} end`,
            },
          })
          .returning({ lockedUntil: passwordLockouts.lockedUntil }),
      );
      return row && row.lockedUntil > now ? row.lockedUntil : null;
    },

    async clearPasswordFailures(username, clientIp) {
      await db.delete(passwordLockouts).where(and(eq(passwordLockouts.username, username), eq(passwordLockouts.clientIp, clientIp)));
    },

    async profile(userId) {
      return first(await profileById.execute({ id: userId }));
    },

    async updateProfile(userId, patch, now) {
      const set: Partial<typeof users.$inferInsert> = {};
      if (patch.nickname !== undefined) set.nickname = patch.nickname;
      if (patch.avatarUrl !== undefined) Object.assign(set, { avatarUrl: patch.avatarUrl, avatarMediaKey: null });
      return db.transaction((tx) => changeUser(tx, userId, set, now));
    },

    async setPhone(userId, phone, now) {
      await db.update(users).set({ phoneE164: phone.e164, phoneMasked: phone.masked, updatedAt: now }).where(eq(users.id, userId));
      return profileIn(db, userId);
    },

    async saveWeRunDays(userId, days, now) {
      if (days.length === 0) return;
      await db
        .insert(werunSteps)
        .values(days.map((day) => ({ userId, date: day.date, steps: day.steps, updatedAt: now })))
        .onConflictDoUpdate({ target: [werunSteps.userId, werunSteps.date], set: { steps: sql`excluded.steps`, updatedAt: now } });
    },

    async weRunDays(userId, limit) {
      return db.select({ date: werunSteps.date, steps: werunSteps.steps }).from(werunSteps).where(eq(werunSteps.userId, userId)).orderBy(desc(werunSteps.date)).limit(limit);
    },

    async accessToken(appId) {
      return first(
        await db
          .select({ tokenEnc: accessTokens.tokenEnc, expiresAt: accessTokens.expiresAt, refreshLockUntil: accessTokens.refreshLockUntil, refreshLockOwner: accessTokens.refreshLockOwner })
          .from(accessTokens)
          .where(eq(accessTokens.appId, appId)),
      );
    },

    async tryLockAccessTokenRefresh(appId, owner, now, leaseMs) {
      await db.insert(accessTokens).values({ appId, updatedAt: now }).onConflictDoNothing();
      // A conditional update is atomic: of two processes racing for a free lease, the second re-checks and loses.
      const taken = await db
        .update(accessTokens)
        .set({ refreshLockUntil: now + leaseMs, refreshLockOwner: owner })
        .where(and(eq(accessTokens.appId, appId), or(lte(accessTokens.refreshLockUntil, now), eq(accessTokens.refreshLockOwner, owner))))
        .returning({ appId: accessTokens.appId });
      return taken.length > 0;
    },

    async saveAccessToken(appId, owner, tokenEnc, expiresAt, now) {
      await db
        .update(accessTokens)
        .set({ tokenEnc, expiresAt, updatedAt: now, refreshLockUntil: 0, refreshLockOwner: null })
        .where(and(eq(accessTokens.appId, appId), eq(accessTokens.refreshLockOwner, owner)));
    },

    async releaseAccessTokenLock(appId, owner) {
      await db.update(accessTokens).set({ refreshLockUntil: 0, refreshLockOwner: null }).where(and(eq(accessTokens.appId, appId), eq(accessTokens.refreshLockOwner, owner)));
    },

    async invalidateAccessToken(appId, tokenEnc) {
      await db.update(accessTokens).set({ expiresAt: 0 }).where(and(eq(accessTokens.appId, appId), eq(accessTokens.tokenEnc, tokenEnc)));
    },

    async setAvatarMedia(userId, row, avatarUrl, now) {
      return db.transaction(async (tx) => {
        // An upsert, not "do nothing": it locks an existing row, so a concurrent deleteMediaIfUnreferenced waits for
        // this transaction and then finds the reference (the foreign key refuses the delete).
        await tx.insert(media).values({ ...row, createdAt: now }).onConflictDoUpdate({ target: media.key, set: { key: sql`excluded.key` } });
        return changeUser(tx, userId, { avatarUrl, avatarMediaKey: row.key }, now);
      });
    },

    async media(key) {
      return first(await db.select({ key: media.key, contentType: media.contentType, size: media.size, width: media.width, height: media.height }).from(media).where(eq(media.key, key)));
    },

    async deleteMediaIfUnreferenced(key) {
      try {
        const rows = await db
          .delete(media)
          .where(and(eq(media.key, key), notExists(db.select({ id: users.id }).from(users).where(eq(users.avatarMediaKey, key)))))
          .returning({ key: media.key });
        return rows.length > 0;
      } catch (error) {
        // Referenced meanwhile by a user committing after our check (the foreign key caught it): keep it.
        if (constraintOf(error) !== undefined) return false;
        throw error;
      }
    },

    async unreferencedMedia(before, limit) {
      const rows = await db
        .select({ key: media.key })
        .from(media)
        .where(and(lt(media.createdAt, before), notExists(db.select({ id: users.id }).from(users).where(eq(users.avatarMediaKey, media.key)))))
        .limit(limit);
      return rows.map((r) => r.key);
    },

    async claimCodeExchange(codeHash, owner, now, leaseMs) {
      return first(await claimCode.execute({ codeHash, owner, now, expiresAt: now + leaseMs }))?.owner === owner;
    },

    async codeExchange(codeHash) {
      return first(
        await db
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
          .where(eq(codeExchanges.codeHash, codeHash)),
      ) as CodeExchangeRow | undefined;
    },

    async failCodeExchange(codeHash, owner, failure, _now, expiresAt) {
      await db
        .update(codeExchanges)
        .set({ state: 'failed', reason: failure.reason, errcode: failure.errcode, detail: failure.detail, expiresAt })
        .where(and(eq(codeExchanges.codeHash, codeHash), eq(codeExchanges.owner, owner)));
    },

    async releaseCodeExchange(codeHash, owner) {
      await db.delete(codeExchanges).where(and(eq(codeExchanges.codeHash, codeHash), eq(codeExchanges.owner, owner)));
    },

    async hitRateLimit(key, windowMs, now) {
      const row = first(await hitRate.execute({ key, now, windowStart: now - windowMs }));
      if (!row) throw new Error('rate limit upsert returned no row');
      return row;
    },

    async sharedSecret(name, candidate, now) {
      await db.insert(appSecrets).values({ name, value: candidate, createdAt: now }).onConflictDoNothing();
      const row = first(await db.select({ value: appSecrets.value }).from(appSecrets).where(eq(appSecrets.name, name)));
      if (!row) throw new Error(`app secret ${name} vanished`);
      return row.value;
    },

    async prune(now) {
      return db.transaction(async (tx) => {
        const a = await tx.delete(codeExchanges).where(lt(codeExchanges.expiresAt, now)).returning({ k: codeExchanges.codeHash });
        const b = await tx.delete(rateLimits).where(lt(rateLimits.windowStartedAt, now - PRUNE_COUNTERS_AFTER_MS)).returning({ k: rateLimits.key });
        const c = await tx
          .delete(passwordLockouts)
          .where(and(lt(passwordLockouts.windowStartedAt, now - PRUNE_COUNTERS_AFTER_MS), lt(passwordLockouts.lockedUntil, now)))
          .returning({ k: passwordLockouts.username });
        const dead = now - PRUNE_SESSIONS_AFTER_MS;
        const d = await tx.delete(sessions).where(or(lt(sessions.expiresAt, dead), lt(sessions.revokedAt, dead))).returning({ k: sessions.id });
        return a.length + b.length + c.length + d.length;
      });
    },

    async ping() {
      await db.execute(sql`select 1`);
    },

    async close() {
      await closeDb();
    },
  };
}
