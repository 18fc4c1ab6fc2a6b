import { createHash, randomUUID } from 'node:crypto';
import type { AuthFailureReason, LoginOutput } from '@wxkit/shared';
import type { NewSession, ProfileRow, SessionAuthRow, SessionMethod, Store } from '../db/store.ts';
import { callLeaseMs, type WeChatClient } from '../wechat/client.ts';
import { WeChatError, type WeChatFailureReason } from '../wechat/errors.ts';
import { profileToWire } from './profile-wire.ts';
import { randomId } from './random-id.ts';
import type { SecretBox } from './secret-box.ts';
import type { TokenCheck, TokenClaims, TokenService } from './tokens.ts';

export type AuthResult =
  | {
      valid: true;
      userId: string;
      sessionId: string;
      expiresAt: number;
      method: SessionMethod;
      /** WeChat's last word on the user's session_key for this session (checkSession asks again after 10 minutes). */
      keyCheck: { at: number | null; valid: boolean | null };
    }
  | { valid: false; reason: AuthFailureReason };

/** A request's auth and, when it is valid, its user's profile (undefined: the user is gone). */
export interface AuthWithProfile {
  auth: AuthResult;
  profile: ProfileRow | undefined;
}

export interface AuthServiceOptions {
  store: Store;
  tokens: TokenService;
  wechat: WeChatClient;
  /** Seals WeChat's session_key before it is stored. */
  secretBox: SecretBox;
  sessionTtlSeconds: number;
  /** WeChat's call timeout: a claim on a code stays pending at most a little longer (callLeaseMs). */
  wechatTimeoutMs: number;
  now?: () => number;
  /** Where failed exchanges are logged (the app's pino logger). WeChatError details never hold a secret or the code. */
  log?: { info(obj: object, msg: string): void; warn(obj: object, msg: string): void; error(obj: object, msg: string): void };
}

function liveAuth(session: SessionAuthRow, sessionId: string, expiresAt: number): AuthResult {
  return {
    valid: true,
    userId: session.userId,
    sessionId,
    expiresAt,
    method: session.method,
    keyCheck: { at: session.keyCheckedAt, valid: session.keyValid },
  };
}

/** How long a code stays "ours" after its exchange: WeChat's own code lifetime. */
export const CODE_REPLAY_WINDOW_MS = 5 * 60_000;
/**
 * Sliding sessions: a session used when less than half its TTL is left is extended to a full TTL from now, but never
 * past this many TTLs after login (28 days with the default 7-day TTL). The token's `exp` is that absolute cap; the
 * session row's `expires_at` is authoritative for everything earlier, so the token never needs re-issuing.
 */
export const SESSION_MAX_AGE_TTLS = 4;
/** How often a process waiting for another's exchange of the same code looks for its result. */
const EXCHANGE_POLL_MS = 10;

/**
 * The login flow and the per-request token check. Both return values for expected outcomes ("not logged in",
 * "code used") and throw only `WeChatError` for failed exchanges, so callers decide what is an error.
 */
export function createAuthService(options: AuthServiceOptions) {
  const { store, tokens, wechat } = options;
  const now = options.now ?? Date.now;
  const ttlMs = options.sessionTtlSeconds * 1000;
  const maxAgeMs = ttlMs * SESSION_MAX_AGE_TTLS;

  /** Exchanges under way, so concurrent submissions of one code share one call to WeChat (per process). */
  const inFlight = new Map<string, Promise<LoginOutput>>();
  /** This process's name on the code exchanges it claims. */
  const owner = randomId(9);
  const exchangeLeaseMs = callLeaseMs(options.wechatTimeoutMs);

  async function replay(codeHash: string): Promise<LoginOutput | undefined> {
    const row = await store.sessionByCodeHash(codeHash);
    if (!row) return undefined;
    if (row.revokedAt !== null || now() - row.createdAt >= CODE_REPLAY_WINDOW_MS || row.expiresAt <= now()) {
      throw new WeChatError('code_used', 'code already exchanged for a session that is no longer returnable');
    }
    const output = await sessionOutput(row.userId, row.id, row.createdAt, row.expiresAt, undefined);
    if (!output) throw new WeChatError('code_used', 'code already exchanged; its user no longer exists');
    return output;
  }

  /** A new session's id and times (not yet stored). */
  function newSession(codeHash: string | null): NewSession {
    const createdAt = now();
    return { id: randomId(18), codeHash, createdAt, expiresAt: createdAt + ttlMs };
  }

  /**
   * What every way of logging in answers: a token for the stored session and the user's profile (read unless
   * `profile` is given). `isNewUser` undefined: the user is new when it was created with this session (a replayed code).
   */
  async function sessionOutput(
    userId: string,
    sessionId: string,
    createdAt: number,
    expiresAt: number,
    isNewUser: boolean | undefined,
    profile?: ProfileRow,
  ): Promise<LoginOutput | undefined> {
    const user = profile ?? (await store.profile(userId));
    if (!user) return undefined;
    return {
      token: await tokens.sign({ userId, sessionId, issuedAtMs: createdAt, expiresAtMs: createdAt + maxAgeMs }),
      expiresAt: new Date(expiresAt).toISOString(),
      isNewUser: isNewUser ?? user.createdAt === createdAt,
      user: profileToWire(user),
    };
  }

  /**
   * One WeChat call per code, whatever process the code reaches: the process that claims the code (a row in
   * code_exchanges) calls WeChat; the others poll for the session it stores, or for the failure it records, which is
   * answered again for 5 minutes rather than resending the code (WeChat burns a code on first use).
   */
  async function exchange(code: string, codeHash: string): Promise<LoginOutput> {
    const giveUpAt = performance.now() + exchangeLeaseMs + 1_000;
    for (;;) {
      // Claim first: a fresh code (nearly every login) is then one read fewer; exchangeAsOwner answers a replay.
      if (await store.claimCodeExchange(codeHash, owner, now(), exchangeLeaseMs)) return exchangeAsOwner(code, codeHash);
      const replayed = await replay(codeHash);
      if (replayed) return replayed;
      const claim = await store.codeExchange(codeHash);
      if (claim?.state === 'failed' && claim.expiresAt > now()) {
        throw new WeChatError(claim.reason as WeChatFailureReason, claim.detail ?? 'remembered failure', claim.errcode ?? undefined, 'jscode2session');
      }
      if (performance.now() > giveUpAt) {
        throw new WeChatError('wechat_unavailable', 'another server process claimed this code and did not finish its exchange');
      }
      await new Promise((resolve) => setTimeout(resolve, EXCHANGE_POLL_MS));
    }
  }

  async function exchangeAsOwner(code: string, codeHash: string): Promise<LoginOutput> {
    let failureRecorded = false;
    try {
      // A code exchanged before (its claim released when its session was stored): the same session again.
      const replayed = await replay(codeHash);
      if (replayed) {
        await store.releaseCodeExchange(codeHash, owner);
        return replayed;
      }
      let result;
      try {
        result = await wechat.code2Session(code);
      } catch (error) {
        if (error instanceof WeChatError) {
          const failure = { reason: error.reason, errcode: error.errcode ?? null, detail: error.detail };
          await store.failCodeExchange(codeHash, owner, failure, now(), now() + CODE_REPLAY_WINDOW_MS);
          failureRecorded = true;
          logFailure(error);
        }
        throw error;
      }

      const session = newSession(codeHash);
      // The session stored and the claim released in one transaction, which also reads the profile to answer.
      const { userId, isNewUser, profile } = await store.loginWechat({
        newUserId: randomUUID(),
        openid: result.openid,
        unionid: result.unionid,
        sessionKeyEnc: options.secretBox.seal(result.sessionKey),
        session,
        claim: { codeHash, owner },
      });
      const output = await sessionOutput(userId, session.id, session.createdAt, session.expiresAt, isNewUser, profile);
      if (!output) throw new Error('user missing right after login');
      return output;
    } catch (error) {
      // A recorded failure stays (it is the answer for 5 minutes); anything else frees the code for the waiters.
      if (!failureRecorded) await store.releaseCodeExchange(codeHash, owner).catch(() => undefined);
      throw error;
    }
  }

  /** Operators act on wechat_config (our appid/secret) and watch wechat_unavailable; the rest is the user's code. */
  function logFailure(error: WeChatError) {
    const entry = { reason: error.reason, detail: error.detail, ...(error.errcode !== undefined ? { errcode: error.errcode } : {}) };
    if (error.reason === 'wechat_config') options.log?.error(entry, 'WeChat rejected our credentials: check WECHAT_APPID / WECHAT_SECRET');
    else if (error.reason === 'wechat_unavailable') options.log?.warn(entry, 'WeChat code2Session failed');
    else options.log?.info(entry, 'WeChat refused the login code');
  }

  // The hot path's helpers answer synchronously when they can: each needless await is a promise and a tick.
  function tokenClaims(header: string | undefined): TokenCheck | { valid: false; reason: 'missing' } | Promise<TokenCheck> {
    if (header === undefined || header === '') return { valid: false, reason: 'missing' };
    if (!header.startsWith('Bearer ')) return { valid: false, reason: 'invalid' };
    return tokens.verify(header.slice(7));
  }

  /** The session row read for a verified token: it must exist, be the token's user's, unrevoked and unexpired. */
  function sessionAuth(claims: TokenClaims, session: SessionAuthRow | undefined): AuthResult | Promise<AuthResult> {
    if (!session || session.userId !== claims.sub) return { valid: false, reason: 'invalid' };
    if (session.revokedAt !== null) return { valid: false, reason: 'revoked' };
    const t = now();
    if (session.expiresAt <= t) return { valid: false, reason: 'expired' };
    // Slide: a full TTL from now, capped by the token's exp (login + SESSION_MAX_AGE_TTLS × TTL).
    const slid = Math.min(t + ttlMs, claims.exp * 1000);
    if (session.expiresAt - t >= ttlMs / 2 || slid <= session.expiresAt) return liveAuth(session, claims.sid, session.expiresAt);
    return store.extendSession(claims.sid, slid, t).then((extended) => liveAuth(session, claims.sid, extended ? slid : session.expiresAt));
  }

  return {
    /** Exchanges a wx.login code for our session. Idempotent for 5 minutes per code. */
    login(code: string): Promise<LoginOutput> {
      const codeHash = createHash('sha256').update(code).digest('base64url');
      const pending = inFlight.get(codeHash);
      if (pending) return pending;
      const promise = exchange(code, codeHash).finally(() => inFlight.delete(codeHash));
      inFlight.set(codeHash, promise);
      return promise;
    },

    /** Reads an Authorization header value. Never throws: "not logged in" is a value. */
    async authenticate(header: string | undefined): Promise<AuthResult> {
      const pending = tokenClaims(header);
      const token = pending instanceof Promise ? await pending : pending;
      if (!token.valid) return token;
      return sessionAuth(token.claims, await store.sessionForAuth(token.claims.sid));
    },

    /** `authenticate`, and the user's profile read in the same statement (getProfile). */
    async authenticateWithProfile(header: string | undefined): Promise<AuthWithProfile> {
      const pending = tokenClaims(header);
      const token = pending instanceof Promise ? await pending : pending;
      if (!token.valid) return { auth: token, profile: undefined };
      const row = await store.sessionWithProfile(token.claims.sid);
      const checked = sessionAuth(token.claims, row?.session);
      const auth = checked instanceof Promise ? await checked : checked;
      return { auth, profile: auth.valid ? row?.profile : undefined };
    },

    async logout(sessionId: string): Promise<void> {
      await store.revokeSession(sessionId, now());
    },

    newSession,
    sessionOutput,
    now,
  };
}

export type AuthService = ReturnType<typeof createAuthService>;
