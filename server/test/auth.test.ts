import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, expectTRPCError, loginAs, startTestServer, type TestServer } from './support/server.ts';

const JWT_SECRET = 'test-secret-test-secret-test-secret-0123456789';

function tamper(token: string): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as Record<string, unknown>;
  claims.sub = 'someone-else';
  return `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;
}

describe('protected procedures and checkSession', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ JWT_SECRET });
  });
  afterAll(() => server.close());

  async function expectUnauthorized(token: string | undefined, reason: string) {
    const client = createClient(server.url, token);
    const error = await expectTRPCError(client.getProfile.query());
    expect(error.data?.code).toBe('UNAUTHORIZED');
    expect(error.data?.httpStatus).toBe(401);
    expect(error.data?.reason).toBe(reason);
    expect(error.message).toMatch(/log in|Authorization/i);
    expect(await client.checkSession.query()).toEqual({ valid: false, reason });
  }

  it('answers missing without a token', async () => {
    await expectUnauthorized(undefined, 'missing');
  });

  it('answers invalid for a tampered token, a token signed with another key and garbage', async () => {
    const login = await loginAs(server.url, 'alice');
    await expectUnauthorized(tamper(login.token), 'invalid');
    const forged = await new SignJWT({ sid: 'x' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject(login.user.id)
      .setIssuer('wxkit')
      .setAudience('wxkit-client')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode('another-secret-another-secret-another-secret'));
    await expectUnauthorized(forged, 'invalid');
    await expectUnauthorized('not-a-jwt', 'invalid');
  });

  it('answers revoked after logout, and logout of a revoked session is itself 401', async () => {
    const login = await loginAs(server.url, 'bob');
    const client = createClient(server.url, login.token);
    expect(await client.logout.mutate()).toEqual({ ok: true });
    await expectUnauthorized(login.token, 'revoked');
    const again = await expectTRPCError(client.logout.mutate());
    expect(again.data?.reason).toBe('revoked');
  });

  it('keeps other sessions of the same user alive after one logs out', async () => {
    const phone = await loginAs(server.url, 'carol');
    const tablet = await loginAs(server.url, 'carol');
    await createClient(server.url, phone.token).logout.mutate();
    expect(await createClient(server.url, tablet.token).getProfile.query()).toEqual(tablet.user);
  });

  it('answers valid with the session expiry for a live token', async () => {
    const login = await loginAs(server.url, 'dave');
    expect(await createClient(server.url, login.token).checkSession.query()).toEqual({
      valid: true,
      expiresAt: login.expiresAt,
      userId: login.user.id,
    });
  });
});

describe('expired sessions', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ SESSION_TTL_SECONDS: '1', JWT_SECRET });
  });
  afterAll(() => server.close());

  it('answers expired once SESSION_TTL_SECONDS has passed', async () => {
    const login = await loginAs(server.url, 'erin');
    const client = createClient(server.url, login.token);
    expect(await client.getProfile.query()).toEqual(login.user);
    await new Promise((resolve) => setTimeout(resolve, Date.parse(login.expiresAt) - Date.now() + 1100));
    const error = await expectTRPCError(client.getProfile.query());
    expect(error.data?.reason).toBe('expired');
    expect(await client.checkSession.query()).toEqual({ valid: false, reason: 'expired' });
  });
});
