import { webcrypto } from 'node:crypto';
import { SignJWT, jwtVerify, errors } from 'jose';
import { createVerifiedTokenCache, DEFAULT_VERIFIED_TOKEN_CACHE_SIZE } from './verified-token-cache.ts';

export interface TokenClaims {
  /** user id */
  sub: string;
  /** session id */
  sid: string;
  /** seconds since epoch */
  exp: number;
}

export type TokenCheck = { valid: true; claims: TokenClaims } | { valid: false; reason: 'invalid' | 'expired' };

export const TOKEN_ISSUER = 'wxkit';
export const TOKEN_AUDIENCE = 'wxkit-client';

/** Longest token we accept; ours are ~250 bytes. Longer headers are rejected before any crypto. */
export const MAX_TOKEN_LENGTH = 2048;
const tokenShape = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export interface TokenServiceOptions {
  /** How many verified token strings to remember (0 turns the cache off). */
  verifiedCacheSize?: number;
  /** Clock for expiry checks (tests). Default: the real clock. */
  now?: () => number;
}

/**
 * Signs and verifies our HS256 tokens. The key is imported into WebCrypto once, as a CryptoKey: jose 6 given a
 * KeyObject exports and re-imports it on every call (about twice the CPU of a sign or a verify).
 * A token string that verified once is remembered (bounded), so the hot path skips the HMAC; its `exp` is still
 * checked on every call, and the caller checks the session row every time. Concurrent first uses of one token share
 * one verification (a new token's first burst would otherwise verify it once per request in flight).
 * The token carries no WeChat identifiers: only our user id, our session id and the times.
 */
export function createTokenService(secret: string, options: TokenServiceOptions = {}) {
  const key: Promise<webcrypto.CryptoKey> = webcrypto.subtle.importKey('raw', Buffer.from(secret, 'utf8'), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
  const verified = createVerifiedTokenCache<TokenClaims>(options.verifiedCacheSize ?? DEFAULT_VERIFIED_TOKEN_CACHE_SIZE);
  const verifying = new Map<string, Promise<TokenCheck>>();
  const now = options.now ?? Date.now;

  async function verifySignature(token: string): Promise<TokenCheck> {
    try {
      const { payload } = await jwtVerify(token, await key, {
        algorithms: ['HS256'],
        issuer: TOKEN_ISSUER,
        audience: TOKEN_AUDIENCE,
        requiredClaims: ['sub', 'sid', 'exp'],
        ...(options.now ? { currentDate: new Date(options.now()) } : {}),
      });
      if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string' || typeof payload.exp !== 'number') {
        return { valid: false, reason: 'invalid' };
      }
      const claims: TokenClaims = Object.freeze({ sub: payload.sub, sid: payload.sid, exp: payload.exp });
      verified.set(token, claims);
      return { valid: true, claims };
    } catch (error) {
      if (error instanceof errors.JWTExpired) return { valid: false, reason: 'expired' };
      return { valid: false, reason: 'invalid' };
    }
  }

  return {
    /** Deterministic for a given session (HS256, fixed iat/exp), so a resubmitted code gets the same token back. */
    async sign(input: { userId: string; sessionId: string; issuedAtMs: number; expiresAtMs: number }): Promise<string> {
      return new SignJWT({ sid: input.sessionId })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(input.userId)
        .setIssuer(TOKEN_ISSUER)
        .setAudience(TOKEN_AUDIENCE)
        .setIssuedAt(Math.floor(input.issuedAtMs / 1000))
        .setExpirationTime(Math.ceil(input.expiresAtMs / 1000))
        .sign(await key);
    },

    /** Synchronous for a remembered or malformed token (the hot path awaits nothing then). */
    verify(token: string): TokenCheck | Promise<TokenCheck> {
      const remembered = verified.get(token);
      if (remembered) {
        // jose's rule: expired once exp <= now, in whole seconds, no clock tolerance.
        if (remembered.exp > Math.floor(now() / 1000)) return { valid: true, claims: remembered };
        verified.delete(token);
        return { valid: false, reason: 'expired' };
      }
      if (token.length > MAX_TOKEN_LENGTH || !tokenShape.test(token)) return { valid: false, reason: 'invalid' };
      let pending = verifying.get(token);
      if (!pending) {
        pending = verifySignature(token).finally(() => verifying.delete(token));
        verifying.set(token, pending);
      }
      return pending;
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;
