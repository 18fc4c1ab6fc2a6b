import { index, integer, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** Times are Unix milliseconds: cheap to compare, converted to ISO strings at the edge. */
export const users = sqliteTable('users', {
  id: text('id').primaryKey(),
  /** Secret to the server: never selected into a response. */
  openid: text('openid').notNull().unique(),
  unionid: text('unionid'),
  nickname: text('nickname'),
  avatarUrl: text('avatar_url'),
  createdAt: integer('created_at').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

export const sessions = sqliteTable(
  'sessions',
  {
    id: text('id').primaryKey(),
    userId: text('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    /** WeChat's session_key: server-side only, kept for decrypting wx.getUserInfo-style payloads later. */
    sessionKey: text('session_key').notNull(),
    /** sha256 of the wx.login code that created the session, so a resubmitted code gets the same session back. */
    codeHash: text('code_hash').unique(),
    createdAt: integer('created_at').notNull(),
    expiresAt: integer('expires_at').notNull(),
    revokedAt: integer('revoked_at'),
  },
  (t) => [index('sessions_user_id_idx').on(t.userId), index('sessions_expires_at_idx').on(t.expiresAt)],
);

