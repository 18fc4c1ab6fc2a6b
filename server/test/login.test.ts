import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSessionOutput, loginOutput } from '@wxkit/shared';
import {
  createClient,
  findLeaks,
  issuedSecrets,
  loginAs,
  mintCode,
  responseBodies,
  simulatorExchanges,
  startTestServer,
  type TestServer,
} from './support/server.ts';

describe.each([
  ['a SQLite file', {}],
  ['an in-memory SQLite database', { DATABASE_PATH: ':memory:' }],
])('login with %s', (_label, env) => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer(env);
  });
  afterAll(() => server.close());

  it('creates a user on the first login and finds the same user on the next', async () => {
    const first = await loginAs(server.url, 'alice');
    expect(loginOutput.parse(first)).toEqual(first);
    expect(first.isNewUser).toBe(true);
    expect(first.user).toMatchObject({ nickname: null, avatarUrl: null });

    const second = await loginAs(server.url, 'alice');
    expect(second.isNewUser).toBe(false);
    expect(second.user.id).toBe(first.user.id);
    expect(second.token).not.toBe(first.token);

    const bob = await loginAs(server.url, 'bob');
    expect(bob.isNewUser).toBe(true);
    expect(bob.user.id).not.toBe(first.user.id);
  });

  it('returns a token that getProfile and checkSession accept', async () => {
    const login = await loginAs(server.url, 'carol');
    const client = createClient(server.url, login.token);
    expect(await client.getProfile.query()).toEqual(login.user);
    const session = checkSessionOutput.parse(await client.checkSession.query());
    expect(session).toEqual({ valid: true, expiresAt: login.expiresAt, userId: login.user.id });
  });

  it('sets expiresAt to now + SESSION_TTL_SECONDS (7 days by default)', async () => {
    const before = Date.now();
    const login = await loginAs(server.url, 'dave');
    const ttl = Date.parse(login.expiresAt) - before;
    expect(ttl).toBeGreaterThanOrEqual(604800_000);
    expect(ttl).toBeLessThan(604800_000 + 10_000);
  });
});

describe('the same code submitted twice', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('gets the same session back and reaches WeChat once, even at the same moment', async () => {
    const code = await mintCode(server.url, 'erin');
    const before = await simulatorExchanges(server.url);
    const client = createClient(server.url);
    const [a, b] = await Promise.all([client.login.mutate({ code }), client.login.mutate({ code })]);
    const c = await client.login.mutate({ code });
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    expect(await simulatorExchanges(server.url)).toBe(before + 1);
    expect(await createClient(server.url, c.token).getProfile.query()).toEqual(a.user);
  });
});

describe('secrets', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer();
  });
  afterAll(() => server.close());

  it('never sends openid, unionid or session_key in a response or a log line', async () => {
    const login = await loginAs(server.url, 'frank');
    await createClient(server.url, login.token).getProfile.query();
    expect(issuedSecrets.size).toBeGreaterThanOrEqual(3);
    expect(responseBodies.length).toBeGreaterThan(0);
    expect(findLeaks()).toEqual([]);
    // The token itself carries only our ids and times.
    const payload = JSON.parse(Buffer.from(login.token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
    expect(Object.keys(payload).sort()).toEqual(['aud', 'exp', 'iat', 'iss', 'sid', 'sub']);
  });

  it('has a scanner that does find a leak when one is there', () => {
    const [secret] = [...issuedSecrets];
    responseBodies.push(`{"oops":"${secret}"}`);
    try {
      expect(findLeaks()).toHaveLength(1);
    } finally {
      responseBodies.pop();
    }
  });
});
