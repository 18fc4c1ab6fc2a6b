import { createSecretKey, type KeyObject } from 'node:crypto';
import { SignJWT, jwtVerify, errors } from 'jose';

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

/**
 * Signs and verifies our HS256 tokens. The key is imported once: importing per call costs ~1.7x on verify.
 * The token carries no WeChat identifiers: only our user id, our session id and the times.
 */
export function createTokenService(secret: string) {
  const key: KeyObject = createSecretKey(Buffer.from(secret, 'utf8'));

  return {
    /** Deterministic for a given session (HS256 and fixed iat/exp), so a resubmitted code can get the same token back. */
    async sign(input: { userId: string; sessionId: string; issuedAtMs: number; expiresAtMs: number }): Promise<string> {
      return new SignJWT({ sid: input.sessionId })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(input.userId)
        .setIssuer(TOKEN_ISSUER)
        .setAudience(TOKEN_AUDIENCE)
        .setIssuedAt(Math.floor(input.issuedAtMs / 1000))
        .setExpirationTime(Math.ceil(input.expiresAtMs / 1000))
        .sign(key);
    },

    async verify(token: string): Promise<TokenCheck> {
      if (token.length > MAX_TOKEN_LENGTH || !tokenShape.test(token)) return { valid: false, reason: 'invalid' };
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: ['HS256'],
          issuer: TOKEN_ISSUER,
          audience: TOKEN_AUDIENCE,
          requiredClaims: ['sub', 'sid', 'exp'],
        });
        if (typeof payload.sub !== 'string' || typeof payload.sid !== 'string' || typeof payload.exp !== 'number') {
          return { valid: false, reason: 'invalid' };
        }
        return { valid: true, claims: { sub: payload.sub, sid: payload.sid, exp: payload.exp } };
      } catch (error) {
        if (error instanceof errors.JWTExpired) return { valid: false, reason: 'expired' };
        return { valid: false, reason: 'invalid' };
      }
    },
  };
}

export type TokenService = ReturnType<typeof createTokenService>;
