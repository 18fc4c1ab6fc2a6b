import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

// The auth layer's rules for accounts, WeChat's encrypted data and uploads. As in auth-link.test.ts, only the
// platform is mocked: requests and uploads go over real HTTP to a real server, codes and WeRun data come from its
// simulator.
vi.mock('@tarojs/taro', async () => (await import('./support/fake-taro.ts')).taroModule);

import { TRPCClientError } from '@trpc/client';
import { createClient, loginAs, simulatorExchanges, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { queueFaults as queueApiFaults, werunPayload } from '../../server/test/support/wechat-sim.ts';
import { createApi, type Api } from '../src/api/create-api.ts';
import { withSession } from '../src/api/with-session.ts';
import { isSessionFailure, reasonOf, retryAfterOf } from '../src/auth/errors.ts';
import { retryWithFreshInput } from '../src/auth/fresh-input.ts';
import { createWeappPlatform } from '../src/auth/weapp-platform.ts';
import { expectApiError, loggedIn } from './support/api-helpers.ts';
import { platform } from './support/fake-taro.ts';
import { makePng } from '../../server/test/support/png.ts';

let server: TestServer;
let seq = 0;
let api: Api;
/** The server's clock: moved forward past the server's 10-minute memory of a session_key check. */
let clockOffsetMs = 0;

beforeAll(async () => {
  server = await startTestServer({ LOGIN_RATE_LIMIT_PER_MINUTE: '100000' }, { now: () => Date.now() + clockOffsetMs });
});
afterAll(async () => {
  await server?.close();
});
beforeEach(() => {
  clockOffsetMs = 0;
  // A user per test: the simulator's per-user rate limit and the password lockout never couple tests.
  platform.reset(server.url, `layer-user-${++seq}`);
  api = createApi({ apiUrl: server.url, platform: () => createWeappPlatform(), retryBackoffMs: 20 });
});

const PASSWORD = 'correct horse battery';
const token = () => api.session.token();

/** An account made elsewhere (the web shop…): a password and no WeChat identity. */
async function existingAccount(): Promise<{ username: string; id: string }> {
  const username = `acct-${seq}-${Math.random().toString(36).slice(2, 8)}`;
  const out = await createClient(server.url).signUp.mutate({ username, password: PASSWORD });
  return { username, id: out.user.id };
}

const calls = (path: string) => platform.requests.filter((r) => r.path === path);

describe('which 401s are session failures', () => {
  const error = (data: Record<string, unknown> | undefined) =>
    TRPCClientError.from({ error: { message: 'x', code: -32001, ...(data ? { data } : {}) } });
  it('missing, invalid, expired, revoked, session_key_stale and a 401 without a reason; not credentials_invalid', () => {
    for (const reason of ['missing', 'invalid', 'expired', 'revoked', 'session_key_stale']) {
      expect(isSessionFailure(error({ code: 'UNAUTHORIZED', httpStatus: 401, reason })), reason).toBe(true);
    }
    expect(isSessionFailure(error({ code: 'UNAUTHORIZED', httpStatus: 401 }))).toBe(true);
    expect(isSessionFailure(error({ code: 'UNAUTHORIZED', httpStatus: 401, reason: 'credentials_invalid' }))).toBe(false);
    expect(isSessionFailure(error({ code: 'FORBIDDEN', httpStatus: 403, reason: 'revoked' }))).toBe(false);
    expect(isSessionFailure(new Error('offline'))).toBe(false);
  });
});

describe('credentials_invalid reaches the caller: never a re-login, never a retry', () => {
  it('bindAccount with a wrong password: one request, the typed 401, the session kept', async () => {
    const account = await existingAccount();
    const before = await loggedIn(api);
    const exchanges = await simulatorExchanges(server.url);
    const error = await expectApiError(api.client.bindAccount.mutate({ username: account.username, password: 'wrong password' }));
    expect(error.data).toMatchObject({ code: 'UNAUTHORIZED', httpStatus: 401, reason: 'credentials_invalid' });
    expect(reasonOf(error)).toBe('credentials_invalid');
    expect(calls('bindAccount')).toHaveLength(1);
    expect(platform.loginCalls).toBe(0);
    expect(calls('login')).toHaveLength(0);
    expect(await simulatorExchanges(server.url)).toBe(exchanges);
    // The session is untouched and still works.
    expect(token()).toBe(before);
    expect((await api.client.getProfile.query()).username).toBeNull();
    expect(platform.loginCalls).toBe(0);
  });

  it('loginWithPassword with a wrong password: no WeChat login first, no retry, nothing stored', async () => {
    const account = await existingAccount();
    const error = await expectApiError(api.client.loginWithPassword.mutate({ username: account.username, password: 'wrong password' }));
    expect(reasonOf(error)).toBe('credentials_invalid');
    expect(platform.loginCalls).toBe(0);
    expect(platform.requests.map((r) => r.path)).toEqual(['loginWithPassword']);
    expect(token()).toBeUndefined();
  });

  it('changePassword with a wrong current password: the typed 401, the session kept', async () => {
    // signUp through the app: the session it answers is stored (no WeChat login at all).
    const username = `self-${seq}`;
    await api.client.signUp.mutate({ username, password: PASSWORD });
    const own = token();
    expect(own).toBeTruthy();
    const error = await expectApiError(api.client.changePassword.mutate({ currentPassword: 'not it at all', newPassword: 'a new password' }));
    expect(reasonOf(error)).toBe('credentials_invalid');
    expect(platform.loginCalls).toBe(0);
    expect(calls('changePassword')).toHaveLength(1);
    expect(token()).toBe(own);
  });

  it('five wrong passwords lock the username: too_many_attempts with the seconds to wait, still no re-login', async () => {
    const account = await existingAccount();
    await loggedIn(api);
    for (let i = 0; i < 5; i++) {
      expect(reasonOf(await expectApiError(api.client.bindAccount.mutate({ username: account.username, password: `wrong ${i} password` })))).toBe('credentials_invalid');
    }
    const locked = await expectApiError(api.client.bindAccount.mutate({ username: account.username, password: PASSWORD }));
    expect(reasonOf(locked)).toBe('too_many_attempts');
    expect(locked.data).toMatchObject({ httpStatus: 429 });
    expect(retryAfterOf(locked)).toBeGreaterThan(60);
    expect(platform.loginCalls).toBe(0);
  });
});

describe('session_key_stale: one re-login (a new session_key), one retry with fresh input', () => {
  const days = [
    { date: '2026-12-01', steps: 8000 },
    { date: '2026-12-02', steps: 9500 },
  ];

  it('a payload encrypted for an older login: exactly one Taro.login, one exchange, one fresh getWeRunData, one retry', async () => {
    const old = await loggedIn(api);
    const stale = await werunPayload(server.url, platform.user, days);
    // The user logs in somewhere else: the server now decrypts with that login's session_key.
    await loginAs(server.url, platform.user);
    const exchanges = await simulatorExchanges(server.url);
    platform.weRunDays = days;

    const out = await api.client.syncWeRun.mutate(stale, retryWithFreshInput((signal) => api.wechat.weRunData(signal)));
    expect(out).toEqual({ days: 2, latest: { date: '2026-12-02', steps: 9500 } });
    expect(platform.loginCalls).toBe(1);
    expect(await simulatorExchanges(server.url)).toBe(exchanges + 1);
    expect(platform.weRunCalls).toBe(1);
    const syncs = calls('syncWeRun');
    expect(syncs.map((r) => r.status)).toEqual([401, 200]);
    expect(syncs[0]!.authorization).toBe(`Bearer ${old}`);
    expect(syncs[1]!.authorization).toBe(`Bearer ${token()}`);
    expect(token()).not.toBe(old);
    expect((await api.client.getWeRun.query()).days).toHaveLength(2);
  });

  it("the app's syncWeRun: the data went stale in flight, WeChat is asked again after the re-login", async () => {
    await loggedIn(api);
    platform.weRunDays = days;
    // Hold the first sync until another login made its data stale.
    const release = platform.holdSend((r) => r.path === 'syncWeRun');
    const sync = api.syncWeRun();
    await vi.waitFor(() => expect(calls('syncWeRun')).toHaveLength(1));
    platform.sendHolds = [];
    await loginAs(server.url, platform.user);
    const exchanges = await simulatorExchanges(server.url);
    release();
    expect((await sync).days).toBe(2);
    expect(platform.weRunCalls).toBe(2);
    expect(platform.loginCalls).toBe(1);
    expect(await simulatorExchanges(server.url)).toBe(exchanges + 1);
    expect(calls('syncWeRun').map((r) => r.status)).toEqual([401, 200]);
  });

  it('without fresh input the retry resends the same data: session_key_stale reaches the caller after one re-login', async () => {
    await loggedIn(api);
    const stale = await werunPayload(server.url, platform.user, days);
    await loginAs(server.url, platform.user);
    const error = await expectApiError(api.client.syncWeRun.mutate(stale));
    expect(error.data).toMatchObject({ code: 'UNAUTHORIZED', reason: 'session_key_stale' });
    expect(platform.loginCalls).toBe(1);
    expect(calls('syncWeRun').map((r) => r.status)).toEqual([401, 401]);
  });

  it('fresh input that cannot be had (WeRun denied) ends the call with that reason, no loop', async () => {
    await loggedIn(api);
    const stale = await werunPayload(server.url, platform.user, days);
    await loginAs(server.url, platform.user);
    platform.weRunFailure = 'auth deny';
    const error = await expectApiError(api.client.syncWeRun.mutate(stale, retryWithFreshInput((signal) => api.wechat.weRunData(signal))));
    expect(reasonOf(error)).toBe('user_denied');
    expect(error.message).toMatch(/allow WeRun/);
    expect(platform.loginCalls).toBe(1);
    expect(calls('syncWeRun')).toHaveLength(1);
  });
});

describe('checkSession says the session_key went stale', () => {
  it('the page load renews the session (one Taro.login) and shows the new session as valid', async () => {
    const old = await loggedIn(api);
    // WeChat says the stored session_key is no longer valid (its checksession answers 87009, once).
    await queueApiFaults(server.url, { api: 'checksession', count: 1, errcode: 87009 });
    clockOffsetMs = 11 * 60_000; // the login's own check is remembered for 10 minutes
    const [profile, session] = await withSession(api, api.client.getProfile.query());
    expect(profile.username).toBeNull();
    expect(session.valid).toBe(true);
    expect(platform.loginCalls).toBe(1);
    expect(token()).not.toBe(old);
    // The first answers were about the old session; the last one about the new.
    const checks = calls('checkSession');
    expect(checks.length).toBeGreaterThanOrEqual(2);
    expect(checks.at(-1)!.authorization).toBe(`Bearer ${token()}`);
  });
});

describe('bindAccount: the granted session is used at once', () => {
  it('stores the token bindAccount answers: no extra login, and a call sent on the old token succeeds on the new one', async () => {
    const account = await existingAccount();
    const old = await loggedIn(api);
    // A call already on its way with the old token (held before it reaches the server).
    const release = platform.holdSend((r) => r.path === 'getProfile');
    const inFlight = api.client.getProfile.query();
    await vi.waitFor(() => expect(calls('getProfile')).toHaveLength(1));
    expect(calls('getProfile')[0]!.authorization).toBe(`Bearer ${old}`);
    platform.sendHolds = [];

    const bound = await api.client.bindAccount.mutate({ username: account.username, password: PASSWORD });
    expect(bound.user).toMatchObject({ id: account.id, username: account.username, wechatBound: true });
    // Stored before the caller saw the answer.
    expect(token()).toBe(bound.token);

    release(); // reaches the server after the bind revoked the old session: 401, retried on the new token
    expect((await inFlight).id).toBe(account.id);
    expect(calls('getProfile').map((r) => [r.status, r.authorization])).toEqual([
      [401, `Bearer ${old}`],
      [200, `Bearer ${bound.token}`],
    ]);
    expect(platform.loginCalls).toBe(0);
    expect(calls('login')).toHaveLength(0);
    // And the next silent login from this WeChat user lands on the account.
    expect((await loginAs(server.url, platform.user)).user.id).toBe(account.id);
  });

  it('a 401 that arrives while bindAccount is still answering waits for it instead of logging in', async () => {
    const account = await existingAccount();
    const old = await loggedIn(api);
    // The server has bound (and revoked the old session), but its answer is held back.
    const releaseBind = platform.hold((r) => r.path === 'bindAccount');
    const bind = api.client.bindAccount.mutate({ username: account.username, password: PASSWORD });
    await vi.waitFor(() => expect(calls('bindAccount')[0]?.status).toBe(200));
    const profile = api.client.getProfile.query();
    await vi.waitFor(() => expect(calls('getProfile')[0]?.status).toBe(401));
    expect(calls('getProfile')[0]!.authorization).toBe(`Bearer ${old}`);
    releaseBind();
    const bound = await bind;
    expect((await profile).id).toBe(account.id);
    expect(calls('getProfile')[1]!.authorization).toBe(`Bearer ${bound.token}`);
    expect(platform.loginCalls).toBe(0);
    expect(calls('login')).toHaveLength(0);
  });

  it('loginWithPassword stores its session too: the next calls are that account, with no WeChat login', async () => {
    const account = await existingAccount();
    const out = await api.client.loginWithPassword.mutate({ username: account.username, password: PASSWORD });
    expect(token()).toBe(out.token);
    expect((await api.client.getProfile.query()).id).toBe(account.id);
    expect(platform.loginCalls).toBe(0);
    expect(calls('login')).toHaveLength(0);
  });
});

describe('uploads through the same auth layer', () => {
  const avatar = 'wxfile://tmp/avatar.png';
  beforeEach(() => {
    platform.files.set(avatar, { bytes: new Uint8Array(makePng(80, 60)), type: 'image/png' });
  });
  const mediaUrl = /^http:\/\/127\.0\.0\.1:\d+\/media\/[0-9a-f]{64}\.(?:png|jpg|jpeg|webp)$/;

  it('injects the token and answers the typed Profile with the new avatar URL', async () => {
    const own = await loggedIn(api);
    const profile = await api.uploadAvatar(avatar);
    expect(profile.avatarUrl).toMatch(mediaUrl);
    expect(platform.uploads().map((r) => [r.path, r.status, r.authorization])).toEqual([['/media/avatar', 200, `Bearer ${own}`]]);
    expect((await api.client.getProfile.query()).avatarUrl).toBe(profile.avatarUrl);
  });

  it('with a revoked token: one re-login, one retry, success', async () => {
    const revoked = await loggedIn(api);
    await createClient(server.url, revoked).logout.mutate();
    const exchanges = await simulatorExchanges(server.url);
    const profile = await api.uploadAvatar(avatar);
    expect(profile.avatarUrl).toMatch(mediaUrl);
    expect(platform.loginCalls).toBe(1);
    expect(await simulatorExchanges(server.url)).toBe(exchanges + 1);
    expect(calls('login')).toHaveLength(1);
    expect(platform.uploads().map((r) => [r.status, r.authorization])).toEqual([
      [401, `Bearer ${revoked}`],
      [200, `Bearer ${token()}`],
    ]);
  });

  it('with nothing stored: logs in first, then uploads once', async () => {
    const profile = await api.uploadAvatar(avatar);
    expect(profile.avatarUrl).toMatch(mediaUrl);
    expect(platform.loginCalls).toBe(1);
    expect(platform.requests.map((r) => r.path)).toEqual(['login', '/media/avatar']);
  });

  it("the server's refusals become the same typed errors: invalid_input (400), too_large (413), no re-login", async () => {
    await loggedIn(api);
    platform.files.set('wxfile://tmp/not-an-image.png', { bytes: new TextEncoder().encode('just some text, not a picture'), type: 'image/png' });
    const invalid = await expectApiError(api.uploadAvatar('wxfile://tmp/not-an-image.png'));
    expect(invalid.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400, reason: 'invalid_input' });
    expect(invalid.message.length).toBeGreaterThan(10);

    const big = new Uint8Array(3 * 1024 * 1024);
    big.set(makePng(8, 8));
    platform.files.set('wxfile://tmp/huge.png', { bytes: big, type: 'image/png' });
    const tooLarge = await expectApiError(api.uploadAvatar('wxfile://tmp/huge.png'));
    expect(reasonOf(tooLarge)).toBe('too_large');
    expect(tooLarge.data).toMatchObject({ httpStatus: 413 });
    expect(platform.loginCalls).toBe(0);
    expect(platform.uploads()).toHaveLength(2);
  });

  it('offline: a network error, the token kept', async () => {
    const own = await loggedIn(api);
    platform.offline = true;
    const error = await expectApiError(api.uploadAvatar(avatar));
    expect(reasonOf(error)).toBe('network');
    expect(error.message).toMatch(/failed before any answer/);
    expect(token()).toBe(own);
    expect(platform.loginCalls).toBe(0);
  });
});
