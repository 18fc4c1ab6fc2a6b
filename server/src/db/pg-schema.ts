import { bigint, boolean, index, integer, pgTable, primaryKey, text, type AnyPgColumn } from 'drizzle-orm/pg-core';

/**
 * The PostgreSQL twin of `schema.ts` (SQLite): the same tables, columns and meanings, so the two stores answer alike.
 * Times are Unix milliseconds in `bigint` columns read as JS numbers. See `schema.ts` for what each table is for.
 */
const ms = (name: string) => bigint(name, { mode: 'number' });

export const users = pgTable(
  'users',
  {
    id: text('id').primaryKey(),
    nickname: text('nickname'),
    avatarUrl: text('avatar_url'),
    // A foreign key here (not in SQLite, where one writer at a time makes it moot): a media row cannot be deleted
    // while a concurrent transaction points a user at it.
    avatarMediaKey: text('avatar_media_key').references((): AnyPgColumn => media.key),
    phoneE164: text('phone_e164'),
    phoneMasked: text('phone_masked'),
    createdAt: ms('created_at').notNull(),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [index('users_avatar_media_key_idx').on(t.avatarMediaKey)],
);

export const wechatIdentities = pgTable('wechat_identities', {
  openid: text('openid').primaryKey(),
  userId: text('user_id')
    .notNull()
    .unique()
    .references(() => users.id, { onDelete: 'cascade' }),
  unionid: text('unionid'),
  sessionKeyEnc: text('session_key_enc'),
  sessionKeyAt: ms('session_key_at'),
  createdAt: ms('created_at').notNull(),
  updatedAt: ms('updated_at').notNull(),
});

export const passwordCredentials = pgTable('password_credentials', {
  userId: text('user_id')
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  username: text('username').notNull().unique(),
  passwordHash: text('password_hash').notNull(),
  createdAt: ms('created_at').notNull(),
  updatedAt: ms('updated_at').notNull(),
});

export const passwordLockouts = pgTable(
  'password_lockouts',
  {
    username: text('username').notNull(),
    clientIp: text('client_ip').notNull(),
    failures: integer('failures').notNull(),
    windowStartedAt: ms('window_started_at').notNull(),
    lockedUntil: ms('locked_until').notNull().default(0),
  },
  (t) => [primaryKey({ columns: [t.username, t.clientIp] })],
);

export const sessions = pgTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    method: text('method', { enum: ['wechat', 'password'] }).notNull().default('wechat'),
    codeHash: text('code_hash').unique(),
    createdAt: ms('created_at').notNull(),
    expiresAt: ms('expires_at').notNull(),
    revokedAt: ms('revoked_at'),
    wechatCheckedAt: ms('wechat_checked_at'),
    wechatCheckValid: boolean('wechat_check_valid'),
  },
  (t) => [index('sessions_user_id_idx').on(t.userId), index('sessions_expires_at_idx').on(t.expiresAt)],
);

export const accessTokens = pgTable('access_tokens', {
  appId: text('app_id').primaryKey(),
  tokenEnc: text('token_enc'),
  expiresAt: ms('expires_at').notNull().default(0),
  refreshLockUntil: ms('refresh_lock_until').notNull().default(0),
  refreshLockOwner: text('refresh_lock_owner'),
  updatedAt: ms('updated_at').notNull(),
});

export const werunSteps = pgTable(
  'werun_steps',
  {
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    date: text('date').notNull(),
    steps: integer('steps').notNull(),
    updatedAt: ms('updated_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.userId, t.date] })],
);

export const media = pgTable('media', {
  key: text('key').primaryKey(),
  contentType: text('content_type').notNull(),
  size: integer('size').notNull(),
  width: integer('width').notNull(),
  height: integer('height').notNull(),
  createdAt: ms('created_at').notNull(),
});

export const codeExchanges = pgTable(
  'code_exchanges',
  {
    codeHash: text('code_hash').primaryKey(),
    state: text('state', { enum: ['pending', 'failed'] }).notNull(),
    owner: text('owner').notNull(),
    reason: text('reason'),
    errcode: integer('errcode'),
    detail: text('detail'),
    createdAt: ms('created_at').notNull(),
    expiresAt: ms('expires_at').notNull(),
  },
  (t) => [index('code_exchanges_expires_at_idx').on(t.expiresAt)],
);

export const rateLimits = pgTable('rate_limits', {
  key: text('key').primaryKey(),
  windowStartedAt: ms('window_started_at').notNull(),
  count: integer('count').notNull(),
});

export const appSecrets = pgTable('app_secrets', {
  name: text('name').primaryKey(),
  value: text('value').notNull(),
  createdAt: ms('created_at').notNull(),
});
