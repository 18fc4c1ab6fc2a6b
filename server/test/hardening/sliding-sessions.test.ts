import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SESSION_MAX_AGE_TTLS } from '../../src/auth/auth-service.ts';
import { createClient, loginAs, startTestServer, type TestServer } from '../support/server.ts';
import { expectNoLeaks, hardeningEnv } from './support.ts';

// Sessions slide (issue 6, "Also"): a session used when less than half its lifetime is left is extended to a full
// lifetime from now, up to SESSION_MAX_AGE_TTLS lifetimes after login (the token's exp). checkSession returns the
// new expiry. Time is a fake clock handed to buildApp.

const DAY = 86_400_000;
const TTL_DAYS = 7;
let offsetMs = 0;
const clock = () => Date.now() + offsetMs;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer(hardeningEnv({ SESSION_TTL_SECONDS: String(TTL_DAYS * 86_400) }), { now: clock });
});
beforeEach(() => {
  offsetMs = 0;
});
afterAll(async () => {
  await server.close();
  expectNoLeaks();
});

const rowExpiry = async (token: string) => {
  const sid = (JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { sid: string }).sid;
  return (await server.db.query<{ e: number }>('SELECT expires_at AS e FROM sessions WHERE id = ?', sid))[0]!.e;
};

async function check(token: string) {
  return createClient(server.url, token).checkSession.query();
}

describe('sliding sessions', () => {
  it('is not extended while more than half its lifetime is left', async () => {
    const login = await loginAs(server.url, 'slide-a');
    offsetMs = 3 * DAY;
    expect(await check(login.token)).toMatchObject({ valid: true, expiresAt: login.expiresAt });
    expect(await rowExpiry(login.token)).toBe(Date.parse(login.expiresAt));
  });

  it('is extended to a full lifetime from now when used after half its lifetime; checkSession returns the new expiry', async () => {
    const login = await loginAs(server.url, 'slide-b');
    offsetMs = 4 * DAY;
    const checked = await check(login.token);
    if (!checked.valid) throw new Error(`expected a valid session, got ${checked.reason}`);
    const newExpiry = Date.parse(checked.expiresAt);
    expect(newExpiry).toBeGreaterThan(Date.parse(login.expiresAt));
    expect(Math.abs(newExpiry - (clock() + TTL_DAYS * DAY))).toBeLessThan(60_000);
    expect(await rowExpiry(login.token)).toBe(newExpiry);
    // The same token keeps working past its first expiry: nothing to re-issue.
    offsetMs = 8 * DAY;
    expect(await createClient(server.url, login.token).getProfile.query()).toMatchObject({ id: login.user.id });
  });

  it('any protected call slides it, not only checkSession', async () => {
    const login = await loginAs(server.url, 'slide-c');
    offsetMs = 5 * DAY;
    await createClient(server.url, login.token).getProfile.query();
    expect(await rowExpiry(login.token)).toBeGreaterThan(Date.parse(login.expiresAt));
  });

  it('an idle session still expires, and a later use does not revive it', async () => {
    const login = await loginAs(server.url, 'slide-d');
    offsetMs = TTL_DAYS * DAY + 1_000;
    expect(await check(login.token)).toEqual({ valid: false, reason: 'expired' });
    expect(await rowExpiry(login.token)).toBe(Date.parse(login.expiresAt));
  });

  it('a revoked session is never extended', async () => {
    const login = await loginAs(server.url, 'slide-e');
    await createClient(server.url, login.token).logout.mutate();
    offsetMs = 5 * DAY;
    expect(await check(login.token)).toEqual({ valid: false, reason: 'revoked' });
    expect(await rowExpiry(login.token)).toBe(Date.parse(login.expiresAt));
  });

  it(`an active user slides up to ${SESSION_MAX_AGE_TTLS} lifetimes after login (the token's exp), then must log in again`, async () => {
    const login = await loginAs(server.url, 'slide-f');
    const claims = JSON.parse(Buffer.from(login.token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { iat: number; exp: number };
    const cap = claims.exp * 1000;
    expect(Math.abs(cap - (Date.parse(login.user.createdAt) + SESSION_MAX_AGE_TTLS * TTL_DAYS * DAY))).toBeLessThan(2_000);
    // Used every 3 days: never logged out until the cap.
    for (let day = 3; day * DAY < cap - Date.now(); day += 3) {
      offsetMs = day * DAY;
      const checked = await check(login.token);
      expect(checked.valid, `day ${day}`).toBe(true);
      if (checked.valid) expect(Date.parse(checked.expiresAt)).toBeLessThanOrEqual(cap);
    }
    offsetMs = cap - Date.now() + 1_000;
    expect(await check(login.token)).toEqual({ valid: false, reason: 'expired' });
  });
});
