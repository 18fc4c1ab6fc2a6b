import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PASSWORD_LOCKOUT } from '../src/accounts/account-service.ts';
import { PRUNE_COUNTERS_AFTER_MS, PRUNE_SESSIONS_AFTER_MS } from '../src/db/store.ts';
import { createClient, loginAs, startTestServer, type TestServer } from './support/server.ts';

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer();
});
afterAll(() => server.close());

describe('pruning (every 5 minutes, in each process)', () => {
  it('deletes expired code claims, old counters and long-dead sessions, and keeps everything alive', async () => {
    const store = server.app.store;
    const now = Date.now();
    const live = await loginAs(server.url, 'prune-live');
    const revoked = await loginAs(server.url, 'prune-revoked');
    await createClient(server.url, revoked.token).logout.mutate();
    const sidOf = (token: string) => (JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as { sid: string }).sid;

    await store.claimCodeExchange('expired-claim', 'someone', now - 120_000, 60_000);
    await store.claimCodeExchange('pending-claim', 'someone', now, 60_000);
    await store.hitRateLimit('login:old', 60_000, now - PRUNE_COUNTERS_AFTER_MS - 1);
    await store.hitRateLimit('login:fresh', 60_000, now);
    await store.recordPasswordFailure('old-user', '10.0.0.9', now - PRUNE_COUNTERS_AFTER_MS - 1, PASSWORD_LOCKOUT);

    // A week and a day later, the revoked session is gone; the live one (used meanwhile) slid and stays.
    await server.db.query('UPDATE sessions SET revoked_at = ? WHERE id = ?', now - PRUNE_SESSIONS_AFTER_MS - 1, sidOf(revoked.token));
    const pruned = await store.prune(now);
    expect(pruned).toBe(4);
    expect(await store.codeExchange('expired-claim')).toBeUndefined();
    expect(await store.codeExchange('pending-claim')).toMatchObject({ state: 'pending' });
    expect(await server.db.count("SELECT count(*) AS n FROM rate_limits WHERE key = 'login:fresh'")).toBe(1);
    expect(await server.db.count('SELECT count(*) AS n FROM password_lockouts')).toBe(0);
    expect(await server.db.count('SELECT count(*) AS n FROM sessions WHERE id = ?', sidOf(revoked.token))).toBe(0);
    expect(await createClient(server.url, live.token).checkSession.query()).toMatchObject({ valid: true });
    expect(await createClient(server.url, revoked.token).checkSession.query()).toEqual({ valid: false, reason: 'invalid' });
  });
});
