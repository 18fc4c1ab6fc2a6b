import { index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/**
 * Times are Unix milliseconds: cheap to compare, converted to ISO strings at the edge.
 *
 * A user is the app's account. A WeChat identity (`wechat_identities`) and a password credential
 * (`password_credentials`) are two ways in; a user has one or both. Secret columns (openid, unionid, the sealed
 * session_key, password hashes, the access_token, the full phone number) live outside what a profile read selects.
 */
export const users = sqliteTable(
  'users',
  {
    id: text('id').primaryKey(),
    nickname: text('nickname'),
    avatarUrl: text('avatar_url'),
    /** Set when the avatar is one of our stored images (`media.key`), so the file can be removed once unused. */
    avatarMediaKey: text('avatar_media_key'),
    /** The verified phone number in E.164 (`+8613800138000`): server-side only, never in a response. */
    phoneE164: text('phone_e164'),
    /** What responses show: `138****8000`. */
    phoneMasked: text('phone_masked'),
    createdAt: integer('created_at').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [index('users_avatar_media_key_idx').on(t.avatarMediaKey)],
);

/** One WeChat user (openid of our AppID) and the account it logs in to. */
export const wechatIdentities = sqliteTable('wechat_identities', {
  /** Secret to the server: never selected into a response. */
  openid: text('openid').primaryKey(),
  userId: text('user_id')
    .notNull()
    .unique()
    .references(() => users.id, { onDelete: 'cascade' }),
  unionid: text('unionid'),
  /**
   * session_key of the latest code exchange, AES-256-GCM sealed with a key derived from the server secret.
   * Null for identities migrated from round 1 until their next login.
   */
  sessionKeyEnc: text('session_key_enc'),
  sessionKeyAt: integer('session_key_at'),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

/** Username + password. `username` is stored lower-cased: it is compared case-insensitively. */
export const passwordCredentials = sqliteTable('password_credentials', {
  userId: text('user_id')
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  username: text('username').notNull().unique(),
  /** A PHC string (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`): the parameters travel with the hash. */
  passwordHash: text('password_hash').notNull(),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

/**
 * Failed password attempts per username and client address, one row each: a fixed window that starts at the first
 * failure, and a lock once the window holds too many. In the database so it survives restarts and is shared.
 */
export const passwordLockouts = sqliteTable(
  'password_lockouts',
  {
    username: text('username').notNull(),
    clientIp: text('client_ip').notNull(),
    failures: integer('failures').notNull(),
    windowStartedAt: integer('window_started_at').notNull(),
    lockedUntil: integer('locked_until').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.username, t.clientIp] })],
);

export const sessions = sqliteTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** How the session was opened: `wechat` (a wx.login code) or `password`. */
    method: text('method', { enum: ['wechat', 'password'] }).notNull().default('wechat'),
    /** sha256 of the wx.login code that created the session, so a resubmitted code gets the same session back. */
    codeHash: text('code_hash').unique(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    revokedAt: integer('revoked_at'),
    /** When WeChat's checksession was last asked about the user's session_key for this session, and its answer. */
    wechatCheckedAt: integer('wechat_checked_at'),
    wechatCheckValid: integer('wechat_check_valid', { mode: 'boolean' }),
  },
  (t) => [index('sessions_user_id_idx').on(t.userId), index('sessions_expires_at_idx').on(t.expiresAt)],
);

/** WeChat's access_token for our AppID, shared by every server process, with a refresh lease so one refreshes at a time. */
export const accessTokens = sqliteTable('access_tokens', {
  appId: text('app_id').primaryKey(),
  /** Sealed like session_key: a copied database file does not hand out a token that can call WeChat. */
  tokenEnc: text('token_enc'),
  expiresAt: integer('expires_at').notNull().default(0),
  /** A process holding the refresh lease until this time; others wait for its result. */
  refreshLockUntil: integer('refresh_lock_until').notNull().default(0),
  refreshLockOwner: text('refresh_lock_owner'),
  updatedAt: integer('updated_at').notNull(),
});

/** Steps from wx.getWeRunData, one row per user and day. */
export const werunSteps = sqliteTable(
  'werun_steps',
  {
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** `YYYY-MM-DD` in China time: WeChat's step days are days there. */
    date: text('date').notNull(),
    steps: integer('steps').notNull(),
    updatedAt: integer('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.date] })],
);

/** Stored media (avatars), content-addressed: `key` is `<sha256 hex>.<ext>`. */
export const media = sqliteTable('media', {
  key: text('key').primaryKey(),
  contentType: text('content_type').notNull(),
  size: integer('size').notNull(),
  width: integer('width').notNull(),
  height: integer('height').notNull(),
  createdAt: integer('created_at').notNull(),
});

/**
 * A login code being exchanged, so one WeChat call serves every process the code reaches: the first to insert the row
 * calls WeChat; the others wait for the session it stores (found by `sessions.code_hash`) or for the failure recorded
 * here, which is answered again for 5 minutes instead of resending the code. Rows go once they are done with.
 */
export const codeExchanges = sqliteTable(
  'code_exchanges',
  {
    codeHash: text('code_hash').primaryKey(),
    /** `pending` while the owner talks to WeChat; `failed` with the reason afterwards. */
    state: text('state', { enum: ['pending', 'failed'] }).notNull(),
    owner: text('owner').notNull(),
    reason: text('reason'),
    errcode: integer('errcode'),
    detail: text('detail'),
    createdAt: integer('created_at').notNull(),
    /** A pending claim older than this is abandoned (its process died); a failure is forgotten after it. */
    expiresAt: integer('expires_at').notNull(),
  },
  (t) => [index('code_exchanges_expires_at_idx').on(t.expiresAt)],
);

/** Fixed-window request counters (the login rate limit), shared by every process. */
export const rateLimits = sqliteTable('rate_limits', {
  key: text('key').primaryKey(),
  windowStartedAt: integer('window_started_at').notNull(),
  count: integer('count').notNull(),
});

/** Secrets the server generates once and every process must share (simulator mode's token key without JWT_SECRET). */
export const appSecrets = sqliteTable('app_secrets', {
  name: text('name').primaryKey(),
  value: text('value').notNull(),
  createdAt: integer('created_at').notNull(),
});
