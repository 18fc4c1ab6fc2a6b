import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenService, TOKEN_AUDIENCE, TOKEN_ISSUER } from '../src/auth/tokens.ts';
import { createVerifiedTokenCache } from '../src/auth/verified-token-cache.ts';
import { createClient, loginAs, startTestServer, type TestServer } from './support/server.ts';

/**
 * The hot path remembers token strings whose signature verified. These tests pin down what that cache may never
 * change: expiry and revocation are still checked on every call, a different string is verified afresh, and the
 * cache stays within its bound.
 */

const SECRET = 'perf-cache-secret-perf-cache-secret-0123456789';

describe('verified-token cache', () => {
  it('keeps at most its bound, dropping the oldest entry first', () => {
    const cache = createVerifiedTokenCache<number>(3);
    for (let i = 0; i < 10; i++) cache.set(`t${i}`, i);
    expect(cache.size).toBe(3);
    expect(cache.get('t6')).toBeUndefined();
    expect([cache.get('t7'), cache.get('t8'), cache.get('t9')]).toEqual([7, 8, 9]);
    cache.set('t7', 70); // re-setting moves it to the back
    cache.set('t10', 10);
    expect(cache.get('t8')).toBeUndefined();
    expect(cache.get('t7')).toBe(70);
  });

  it('can be turned off', () => {
    const cache = createVerifiedTokenCache<number>(0);
    cache.set('a', 1);
    expect(cache.size).toBe(0);
    expect(cache.get('a')).toBeUndefined();
  });

  it('refuses a nonsensical bound', () => {
    expect(() => createVerifiedTokenCache(-1)).toThrow(/whole number/);
    expect(() => createVerifiedTokenCache(1.5)).toThrow(/whole number/);
  });
});

describe('concurrent first checks of one token', () => {
  it('share one verification: every caller gets the same answer, valid or not', async () => {
    const tokens = createTokenService(SECRET);
    const token = await tokens.sign({ userId: 'u1', sessionId: 's1', issuedAtMs: Date.now(), expiresAtMs: Date.now() + 3600_000 });
    // One verification in flight: a second caller gets the very promise the first started.
    const first = tokens.verify(token);
    expect(first).toBeInstanceOf(Promise);
    expect(tokens.verify(token)).toBe(first);
    const checks = await Promise.all(Array.from({ length: 50 }, () => tokens.verify(token)));
    expect(checks.every((check) => check.valid && check.claims.sid === 's1')).toBe(true);
    const forged = `${token.slice(0, -4)}AAAA`;
    const firstRefusal = tokens.verify(forged);
    expect(tokens.verify(forged)).toBe(firstRefusal);
    const refusals = await Promise.all(Array.from({ length: 50 }, () => tokens.verify(forged)));
    expect(refusals.every((check) => !check.valid && check.reason === 'invalid')).toBe(true);
    // Nothing of the forged one is remembered: it is checked (and refused) again.
    expect(await tokens.verify(forged)).toEqual({ valid: false, reason: 'invalid' });
  });
});

describe('token signing', () => {
  it('signs deterministically, byte for byte as SignJWT with the raw secret (a replayed code gets the same token)', async () => {
    const tokens = createTokenService(SECRET);
    const cases = [
      { userId: 'u1', sessionId: 's1', issuedAtMs: 1_700_000_000_123, expiresAtMs: 1_700_604_800_123 },
      { userId: '3f0c6a9e-2b7d-4c1e-9a55-0f6e2d1c8b7a', sessionId: 'Zm9vYmFyYmF6cXV4cXV1eDEy', issuedAtMs: 1_800_000_000_999, expiresAtMs: 1_802_419_200_001 },
      { userId: 'ü"\\/\u2028', sessionId: 'é', issuedAtMs: 0, expiresAtMs: 1 },
    ];
    for (const input of cases) {
      const expected = await new SignJWT({ sid: input.sessionId })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(input.userId)
        .setIssuer(TOKEN_ISSUER)
        .setAudience(TOKEN_AUDIENCE)
        .setIssuedAt(Math.floor(input.issuedAtMs / 1000))
        .setExpirationTime(Math.ceil(input.expiresAtMs / 1000))
        .sign(new TextEncoder().encode(SECRET));
      expect(await tokens.sign(input)).toBe(expected);
    }
  });

  it('signs tokens that jose verifies', async () => {
    const tokens = createTokenService(SECRET, { verifiedCacheSize: 0 });
    const token = await tokens.sign({ userId: 'u9', sessionId: 's9', issuedAtMs: Date.now(), expiresAtMs: Date.now() + 60_000 });
    expect(await tokens.verify(token)).toMatchObject({ valid: true, claims: { sub: 'u9', sid: 's9' } });
  });
});

describe('token service with the cache', () => {
  it('answers a remembered token exactly like a fresh verification, until it expires', async () => {
    let clock = Date.parse('2030-01-01T00:00:00Z');
    const tokens = createTokenService(SECRET, { now: () => clock });
    const uncached = createTokenService(SECRET, { now: () => clock, verifiedCacheSize: 0 });
    const token = await tokens.sign({ userId: 'u1', sessionId: 's1', issuedAtMs: clock, expiresAtMs: clock + 60_000 });

    const first = await tokens.verify(token);
    const second = await tokens.verify(token); // from the cache
    expect(first).toEqual({ valid: true, claims: { sub: 'u1', sid: 's1', exp: Math.ceil((clock + 60_000) / 1000) } });
    expect(second).toEqual(first);
    expect(await uncached.verify(token)).toEqual(first);

    clock += 59_000;
    expect(await tokens.verify(token)).toEqual(first);
    clock += 1_000; // exp reached: jose's rule is exp <= now
    expect(await tokens.verify(token)).toEqual({ valid: false, reason: 'expired' });
    expect(await uncached.verify(token)).toEqual({ valid: false, reason: 'expired' });
    // And it stays expired (not re-verified into validity).
    expect(await tokens.verify(token)).toEqual({ valid: false, reason: 'expired' });
  });

  it('verifies every other string afresh: a tampered copy of a remembered token is invalid', async () => {
    const tokens = createTokenService(SECRET);
    const token = await tokens.sign({ userId: 'u1', sessionId: 's1', issuedAtMs: Date.now(), expiresAtMs: Date.now() + 60_000 });
    expect((await tokens.verify(token)).valid).toBe(true);
    const signature = token.slice(token.lastIndexOf('.') + 1);
    const flipped = token.slice(0, token.lastIndexOf('.') + 1) + (signature[0] === 'A' ? 'B' : 'A') + signature.slice(1);
    expect(await tokens.verify(flipped)).toEqual({ valid: false, reason: 'invalid' });
    expect(await tokens.verify(`${token} `)).toEqual({ valid: false, reason: 'invalid' });
    const otherKey = createTokenService('another-secret-another-secret-0123456789');
    expect(await otherKey.verify(token)).toEqual({ valid: false, reason: 'invalid' });
  });
});

describe('the server with the cache', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ JWT_SECRET: SECRET });
  });
  afterAll(() => server.close());

  it('still checks the session on every call: a remembered token stops working at logout', async () => {
    const login = await loginAs(server.url, 'cache-alice');
    const client = createClient(server.url, login.token);
    for (let i = 0; i < 3; i++) expect(await client.getProfile.query()).toEqual(login.user); // verified once, then remembered
    await client.logout.mutate();
    expect(await client.checkSession.query()).toEqual({ valid: false, reason: 'revoked' });
    await expect(client.getProfile.query()).rejects.toMatchObject({ data: { code: 'UNAUTHORIZED', reason: 'revoked' } });
  });

  it('serves many users without mixing them up', async () => {
    const logins = await Promise.all(Array.from({ length: 20 }, (_, i) => loginAs(server.url, `cache-user-${i}`)));
    for (let round = 0; round < 2; round++) {
      const profiles = await Promise.all(logins.map((l) => createClient(server.url, l.token).getProfile.query()));
      expect(profiles).toEqual(logins.map((l) => l.user));
    }
  });
});
