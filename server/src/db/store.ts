/**
 * What the services need from the database, as one interface: every method is one atomic operation (a single
 * statement or one transaction), so services hold the rules and the store only keeps data consistent.
 * Times are Unix milliseconds. Nothing returned here is a secret unless its name says so (`…Enc`, `passwordHash`,
 * `openid`), and those are read only by the services that need them, never by a profile read.
 */

/** Counters (rate limits, password failures) older than this are of no use to any window: pruned. */
export const PRUNE_COUNTERS_AFTER_MS = 24 * 3600_000;
/** Sessions expired or revoked this long ago are deleted (a token for them then answers `invalid`). */
export const PRUNE_SESSIONS_AFTER_MS = 7 * 24 * 3600_000;

/** The columns a client may ever see, plus `wechatBound`; see profileToWire for what reaches the wire. */
export interface ProfileRow {
  id: string;
  nickname: string | null;
  /** An https URL: a client-given one, or our own `<base>/media/<key>` for an uploaded image (see media-routes). */
  avatarUrl: string | null;
  /** Masked (`138****8000`). */
  phone: string | null;
  createdAt: number;
  username: string | null;
  wechatBound: boolean;
}

export interface SessionAuthRow {
  userId: string;
  expiresAt: number;
  revokedAt: number | null;
  method: SessionMethod;
  /** When WeChat's checksession last answered about the user's session_key for this session, and what. */
  keyCheckedAt: number | null;
  keyValid: boolean | null;
}

export interface SessionByCodeRow {
  id: string;
  userId: string;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
}

export type SessionMethod = 'wechat' | 'password';

export interface NewSession {
  id: string;
  /** sha256 of the wx.login code (WeChat sessions), so a resubmitted code gets the same session back. */
  codeHash: string | null;
  createdAt: number;
  expiresAt: number;
}

export interface WeChatIdentityRow {
  openid: string;
  /** Sealed session_key of the latest exchange; null until the identity's next login (migrated rows). */
  sessionKeyEnc: string | null;
}

export interface CredentialRow {
  userId: string;
  passwordHash: string;
}

export interface LockoutPolicy {
  maxFailures: number;
  windowMs: number;
  lockMs: number;
}

export interface AccessTokenRow {
  tokenEnc: string | null;
  expiresAt: number;
  refreshLockUntil: number;
  refreshLockOwner: string | null;
}

export interface WeRunDay {
  /** `YYYY-MM-DD` */
  date: string;
  steps: number;
}

export interface MediaRow {
  /** `<sha256 hex>.<ext>` */
  key: string;
  contentType: string;
  size: number;
  width: number;
  height: number;
}

export interface ProfilePatch {
  nickname?: string | undefined;
  avatarUrl?: string | undefined;
}

/** A profile change, and the stored image (if any) it stopped using: the caller collects it when unreferenced. */
export interface ProfileChange {
  profile: ProfileRow;
  previousMediaKey: string | null;
}

export interface CodeExchangeRow {
  state: 'pending' | 'failed';
  owner: string;
  reason: string | null;
  errcode: number | null;
  detail: string | null;
  createdAt: number;
  expiresAt: number;
}

export type BindResult =
  | { ok: true; previousMediaKey: string | null }
  | { ok: false; reason: 'already_bound' | 'wechat_required' | 'account_missing' };

export interface Store {
  readonly dialect: 'sqlite' | 'postgres';

  // --- WeChat login ---------------------------------------------------------------------------------------------
  /**
   * Finds the account of a WeChat identity or creates a WeChat-only user for it, stores the sealed session_key of
   * this exchange (replacing the previous one), opens a session and reads the user's profile, in one transaction.
   */
  loginWechat(input: {
    newUserId: string;
    openid: string;
    unionid: string | null;
    sessionKeyEnc: string;
    session: NewSession;
    /** The claim on the login code this exchange held: released in the same transaction (one write less). */
    claim?: { codeHash: string; owner: string };
  }): Promise<{ userId: string; isNewUser: boolean; profile: ProfileRow | undefined }>;
  wechatIdentityOf(userId: string): Promise<WeChatIdentityRow | undefined>;

  // --- Sessions -------------------------------------------------------------------------------------------------
  openSession(userId: string, method: SessionMethod, session: NewSession): Promise<void>;
  sessionForAuth(sessionId: string): Promise<SessionAuthRow | undefined>;
  /** The session row and its user's profile in one read (getProfile's hot path: one statement instead of two). */
  sessionWithProfile(sessionId: string): Promise<{ session: SessionAuthRow; profile: ProfileRow | undefined } | undefined>;
  sessionByCodeHash(codeHash: string): Promise<SessionByCodeRow | undefined>;
  /** True when this call revoked it (false: already revoked or unknown). */
  revokeSession(sessionId: string, now: number): Promise<boolean>;
  /** Revokes every live session of the user but one; how many. */
  revokeOtherSessions(userId: string, keepSessionId: string, now: number): Promise<number>;
  /** Moves a live session's expiry; false when it is revoked, expired or unknown. */
  extendSession(sessionId: string, expiresAt: number, now: number): Promise<boolean>;
  recordSessionKeyCheck(sessionId: string, valid: boolean, now: number): Promise<void>;

  // --- Password accounts ----------------------------------------------------------------------------------------
  /** A new user with a password and no WeChat identity, and its first session. */
  createPasswordUser(input: {
    userId: string;
    username: string;
    passwordHash: string;
    session: NewSession;
  }): Promise<{ ok: true } | { ok: false; reason: 'username_taken' }>;
  credentialByUsername(username: string): Promise<CredentialRow | undefined>;
  credentialOf(userId: string): Promise<{ username: string; passwordHash: string } | undefined>;
  /** Gives a user without one a password credential. */
  addPasswordCredential(input: {
    userId: string;
    username: string;
    passwordHash: string;
    now: number;
  }): Promise<{ ok: true } | { ok: false; reason: 'username_taken' | 'has_password' }>;
  /** Replaces the hash (a password change, or a rehash with raised parameters). */
  setPasswordHash(userId: string, passwordHash: string, now: number): Promise<boolean>;
  /**
   * Moves the WeChat identity of `wechatUserId` onto `accountUserId` and opens the account's session, in one
   * transaction. The user it leaves is deleted with its sessions when it has no password (WeChat-only); its
   * nickname, avatar and phone fill the account's empty fields and its WeRun days join the account's. The caller's
   * session is revoked (or deleted with its user).
   */
  bindWechatToAccount(input: {
    wechatUserId: string;
    callerSessionId: string;
    accountUserId: string;
    session: NewSession;
  }): Promise<BindResult>;
  /** Detaches the user's WeChat identity, unless it is the user's only way in. */
  unbindWechat(userId: string, now: number): Promise<'ok' | 'not_bound' | 'last_login_method'>;

  /** The lock on a username from a client address, if one is in force at `now`. */
  passwordLockedUntil(username: string, clientIp: string, now: number): Promise<number | null>;
  /** Counts a failed attempt; returns the lock end when this failure (or an earlier one) locked the key. */
  recordPasswordFailure(username: string, clientIp: string, now: number, policy: LockoutPolicy): Promise<number | null>;
  clearPasswordFailures(username: string, clientIp: string): Promise<void>;

  // --- Profile --------------------------------------------------------------------------------------------------
  profile(userId: string): Promise<ProfileRow | undefined>;
  updateProfile(userId: string, patch: ProfilePatch, now: number): Promise<ProfileChange | undefined>;
  setPhone(userId: string, phone: { e164: string; masked: string }, now: number): Promise<ProfileRow | undefined>;

  // --- WeRun ----------------------------------------------------------------------------------------------------
  /** Upserts days (a newer sync of a day replaces its steps). */
  saveWeRunDays(userId: string, days: readonly WeRunDay[], now: number): Promise<void>;
  /** The latest `limit` days, newest first. */
  weRunDays(userId: string, limit: number): Promise<WeRunDay[]>;

  // --- WeChat access_token (shared by every process) ------------------------------------------------------------
  accessToken(appId: string): Promise<AccessTokenRow | undefined>;
  /** Takes the refresh lease when it is free (or expired) at `now`; true when this caller holds it. */
  tryLockAccessTokenRefresh(appId: string, owner: string, now: number, leaseMs: number): Promise<boolean>;
  /** Stores a fresh token and releases the lease held by `owner`. */
  saveAccessToken(appId: string, owner: string, tokenEnc: string, expiresAt: number, now: number): Promise<void>;
  releaseAccessTokenLock(appId: string, owner: string): Promise<void>;
  /** Forgets a token WeChat refused (only if it is still the stored one), so the next caller refreshes. */
  invalidateAccessToken(appId: string, tokenEnc: string): Promise<void>;

  // --- Media (avatars) ------------------------------------------------------------------------------------------
  /**
   * Points the user's avatar at a stored image (recording it when new), in one transaction; `previousMediaKey` is
   * the stored image the user used before, if any and different. `avatarUrl` is stored as given: the media service
   * passes the absolute URL clients load it from (`<PUBLIC_URL or the upload's origin>/media/<key>`).
   */
  setAvatarMedia(userId: string, media: MediaRow, avatarUrl: string, now: number): Promise<ProfileChange | undefined>;
  media(key: string): Promise<MediaRow | undefined>;
  /** Deletes the media row when no user refers to it; true when deleted (the caller then removes the bytes). */
  deleteMediaIfUnreferenced(key: string): Promise<boolean>;
  /** Stored images no user refers to, created before `before` (left behind by a crash between steps). */
  unreferencedMedia(before: number, limit: number): Promise<string[]>;

  // --- State shared by every process ----------------------------------------------------------------------------
  /**
   * Claims a login code for exchange: true when this caller inserted the pending row (or took over one that expired)
   * and so must be the one to call WeChat.
   */
  claimCodeExchange(codeHash: string, owner: string, now: number, leaseMs: number): Promise<boolean>;
  codeExchange(codeHash: string): Promise<CodeExchangeRow | undefined>;
  /** Records why the exchange failed, answered to every later submission of the code until `expiresAt`. */
  failCodeExchange(codeHash: string, owner: string, failure: { reason: string; errcode: number | null; detail: string }, now: number, expiresAt: number): Promise<void>;
  /** The exchange is over (its session stored, or given up): drops the claim. */
  releaseCodeExchange(codeHash: string, owner: string): Promise<void>;
  /** Counts a hit in a fixed window per key; the count including this hit and when the window started. */
  hitRateLimit(key: string, windowMs: number, now: number): Promise<{ count: number; windowStartedAt: number }>;
  /** The value stored under `name`, storing `candidate` if there is none yet (every process gets the same one). */
  sharedSecret(name: string, candidate: string, now: number): Promise<string>;
  /** Deletes what has expired (code exchanges, old counters and lockouts, long-dead sessions); how many rows. */
  prune(now: number): Promise<number>;

  // --- Operations -----------------------------------------------------------------------------------------------
  /** Throws when the database cannot answer (health check). */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** A joined session + profile row (each store's `sessionWithProfile` statement) as the two rows the services know. */
export function splitSessionWithProfile(row: {
  userId: string;
  expiresAt: number;
  revokedAt: number | null;
  method: SessionMethod;
  keyCheckedAt: number | null;
  keyValid: boolean | null;
  profileId: string | null;
  nickname: string | null;
  avatarUrl: string | null;
  phone: string | null;
  createdAt: number | null;
  username: string | null;
  wechatBound: boolean;
}): { session: SessionAuthRow; profile: ProfileRow | undefined } {
  const session: SessionAuthRow = {
    userId: row.userId,
    expiresAt: row.expiresAt,
    revokedAt: row.revokedAt,
    method: row.method,
    keyCheckedAt: row.keyCheckedAt,
    keyValid: row.keyValid,
  };
  const profile: ProfileRow | undefined =
    row.profileId === null || row.createdAt === null
      ? undefined
      : { id: row.profileId, nickname: row.nickname, avatarUrl: row.avatarUrl, phone: row.phone, createdAt: row.createdAt, username: row.username, wechatBound: row.wechatBound };
  return { session, profile };
}
