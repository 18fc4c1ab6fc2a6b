import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

// Only the platform is mocked: requests go over real HTTP to a real server, codes come from its simulator.
vi.mock('@tarojs/taro', async () => (await import('./support/fake-taro.ts')).taroModule);

import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TRPCClientError } from '@trpc/client';
import { createClient, loginAs, queueFaults, simulatorExchanges, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { createApi, type Api } from '../src/api/create-api.ts';
import { reasonOf } from '../src/auth/errors.ts';
import { createWeappPlatform } from '../src/auth/weapp-platform.ts';
import { expectApiError, loggedIn } from './support/api-helpers.ts';
import { platform } from './support/fake-taro.ts';

let server: TestServer;
/** The server's clock: moved forward to expire sessions. */
let clockOffsetMs = 0;
let userSeq = 0;

beforeAll(async () => {
  server = await startTestServer({ LOGIN_RATE_LIMIT_PER_MINUTE: '100000' }, { now: () => Date.now() + clockOffsetMs });
});
afterAll(async () => {
  await server?.close();
});

let api: Api;
beforeEach(() => {
  clockOffsetMs = 0;
  // A user per test: the simulator's per-user rate limit never couples tests.
  platform.reset(server.url, `link-user-${++userSeq}`);
  api = newApi();
});

function newApi(url = server.url): Api {
  return createApi({ apiUrl: url, platform: () => createWeappPlatform(), retryBackoffMs: 20 });
}

const storedToken = () => api.session.token();
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

/** The call ended because it was cancelled (not by a timeout or a server error). */
function isCancelled(error: unknown): boolean {
  if (!(error instanceof TRPCClientError)) return false;
  const cause = error.cause as Error | undefined;
  return cause?.name === 'AbortError' || error.name === 'AbortError' || /aborted|cancelled/i.test(error.message);
}

async function revokeOnServer(token: string) {
  await createClient(server.url, token).logout.mutate();
}

describe('1–2. token on every call; no token → login first', () => {
  it('cold start: one Taro.login, one login request, then the call with Authorization: Bearer', async () => {
    const profile = await api.client.getProfile.query();
    expect(profile.id).toMatch(/.+/);
    expect(platform.loginCalls).toBe(1);
    expect(platform.callsTo('login')).toBe(1);
    expect(platform.callsTo('getProfile')).toBe(1);
    const call = platform.requests.find((r) => r.path === 'getProfile')!;
    expect(call.authorization).toBe(`Bearer ${storedToken()}`);
    // The login request itself carries no token.
    expect(platform.requests.find((r) => r.path === 'login')!.authorization).toBeUndefined();
  });

  it('steady state: a stored token is used as is, one request per batch, no login', async () => {
    const token = await loggedIn(api);
    await Promise.all([api.client.getProfile.query(), api.client.checkSession.query()]);
    await api.client.getProfile.query();
    expect(platform.loginCalls).toBe(0);
    expect(platform.httpRequests()).toBe(2);
    expect(platform.requests.every((r) => r.authorization === `Bearer ${token}`)).toBe(true);
  });

  it('the token is read from storage when the request is sent', async () => {
    await loggedIn(api);
    // Another session of the same user replaces the stored one (e.g. written by another page).
    const other = await loginAs(server.url, platform.user);
    platform.storage.set('wxkit.session', { token: other.token, expiresAt: other.expiresAt, userId: other.user.id });
    const newToken = storedToken();
    expect(newToken).toBe(other.token);
    await api.client.getProfile.query();
    expect(platform.requests.at(-1)!.authorization).toBe(`Bearer ${newToken}`);
  });
});

describe('3. Taro.checkSession once per app show', () => {
  it('is called at most once per show, however many calls', async () => {
    await api.client.getProfile.query(); // launch: logged in, so no check needed
    expect(platform.checkSessionCalls).toBe(0);
    api.session.appShown();
    await Promise.all([api.client.getProfile.query(), api.client.getProfile.query()]);
    await api.client.checkSession.query();
    expect(platform.checkSessionCalls).toBe(1);
    api.session.appShown();
    await api.client.getProfile.query();
    expect(platform.checkSessionCalls).toBe(2);
  });

  it('when it rejects, the token is dropped and a login happens before the call (no 401 round trip)', async () => {
    const oldToken = await loggedIn(api);
    platform.checkSessionValid = false;
    api.session.appShown();
    await api.client.getProfile.query();
    expect(platform.checkSessionCalls).toBe(1);
    expect(platform.loginCalls).toBe(1);
    expect(platform.callsTo('login')).toBe(1);
    expect(platform.callsTo('getProfile')).toBe(1);
    expect(platform.requests.map((r) => r.path)).toEqual(['login', 'getProfile']);
    expect(storedToken()).not.toBe(oldToken);
  });

  it('a fresh process checks the stored session on its first call', async () => {
    await loggedIn(api);
    const relaunched = newApi(); // same storage, new app process
    platform.checkSessionValid = false;
    await relaunched.client.getProfile.query();
    expect(platform.checkSessionCalls).toBe(1);
    expect(platform.loginCalls).toBe(1);
  });
});

describe('4–5. UNAUTHORIZED → one login for everyone, each call retried once', () => {
  it('the server revoking the session mid-use: the next call logs in again and succeeds', async () => {
    const token = await loggedIn(api);
    await revokeOnServer(token);
    const profile = await api.client.getProfile.query();
    expect(profile.id).toMatch(/.+/);
    expect(platform.loginCalls).toBe(1);
    expect(platform.requests.map((r) => r.path)).toEqual(['getProfile', 'login', 'getProfile']);
    expect(storedToken()).not.toBe(token);
  });

  it('10 calls in flight on a revoked token: exactly 1 Taro.login and 1 login request, all 10 succeed', async () => {
    const token = await loggedIn(api);
    await revokeOnServer(token);
    const exchangesBefore = await simulatorExchanges(server.url);
    const results = await Promise.all(Array.from({ length: 10 }, () => api.client.getProfile.query()));
    expect(results).toHaveLength(10);
    expect(new Set(results.map((p) => p.id)).size).toBe(1);
    expect(platform.loginCalls).toBe(1);
    expect(platform.callsTo('login')).toBe(1);
    expect(await simulatorExchanges(server.url)).toBe(exchangesBefore + 1);
    // Batched: one request that gets ten 401s, the login, one retry request.
    expect(platform.httpRequests()).toBe(3);
  });

  it('10 calls in flight, each in its own request, on an expired token: still exactly 1 login', async () => {
    const token = await loggedIn(api);
    clockOffsetMs = 8 * 24 * 3600 * 1000; // past the 7-day session lifetime
    // Hold the ten 401s until all ten requests are out.
    const release = platform.hold((r) => r.path === 'getProfile' && r.authorization === `Bearer ${token}`);
    const calls: Promise<unknown>[] = [];
    for (let i = 0; i < 10; i++) {
      calls.push(api.client.getProfile.query());
      await vi.waitFor(() => expect(platform.callsTo('getProfile')).toBe(i + 1)); // a request per call
    }
    release();
    const results = await Promise.all(calls);
    expect(results).toHaveLength(10);
    expect(platform.loginCalls).toBe(1);
    expect(platform.callsTo('login')).toBe(1);
    const retries = platform.requests.filter((r) => r.path.split(',').includes('getProfile') && r.authorization !== `Bearer ${token}`);
    expect(retries.length).toBeGreaterThanOrEqual(1);
    expect(retries.every((r) => r.authorization === `Bearer ${storedToken()}`)).toBe(true);
  });

  it('a 401 for a token that already changed retries with the new token, without another login', async () => {
    const oldToken = await loggedIn(api);
    await revokeOnServer(oldToken);
    // b is sent with the old token; its 401 is held back until after another call re-logged in.
    const releaseB = platform.hold((r) => r.path === 'getProfile' && r.authorization === `Bearer ${oldToken}`);
    const b = api.client.getProfile.query();
    await vi.waitFor(() => expect(platform.callsTo('getProfile')).toBe(1));
    await api.client.updateProfile.mutate({ nickname: 'changed' }); // 401 → login → retry
    expect(platform.loginCalls).toBe(1);
    const newToken = storedToken();
    releaseB(); // b's 401 is about a token that is no longer stored: retried at once with the new one
    expect((await b).nickname).toBe('changed');
    expect(platform.loginCalls).toBe(1);
    expect(platform.callsTo('login')).toBe(1);
    expect(platform.requests.at(-1)!.authorization).toBe(`Bearer ${newToken}`);
  });

  it('a second UNAUTHORIZED after the retry reaches the caller: no loop', async () => {
    const token = await loggedIn(api);
    await revokeOnServer(token);
    // The new session is revoked as soon as it is issued: the retry gets 401 too.
    platform.afterLoginResponse = (newToken) => revokeOnServer(newToken);
    const error = await expectApiError(api.client.getProfile.query());
    expect(error.data).toMatchObject({ code: 'UNAUTHORIZED', reason: 'revoked' });
    expect(reasonOf(error)).toBe('revoked');
    expect(platform.loginCalls).toBe(1);
    expect(platform.callsTo('getProfile')).toBe(2);
  });
});

describe('6. login never goes through re-login; fresh code on code errors', () => {
  it('login called through the client passes straight through: its error reaches the caller, no Taro.login', async () => {
    const error = await expectApiError(api.client.login.mutate({ code: 'not-a-real-code' }));
    expect(error.data).toMatchObject({ code: 'BAD_REQUEST', reason: 'code_invalid' });
    expect(platform.loginCalls).toBe(0);
    expect(platform.callsTo('login')).toBe(1);
  });

  for (const [errcode, reason] of [
    [40029, 'code_invalid'],
    [40163, 'code_used'],
    [-1, 'wechat_unavailable'],
  ] as const) {
    it(`${reason} (WeChat ${errcode}) once: a fresh code and one more try, the call succeeds`, async () => {
      await queueFaults(server.url, { count: 1, errcode });
      const profile = await api.client.getProfile.query();
      expect(profile.id).toMatch(/.+/);
      expect(platform.loginCalls).toBe(2);
      expect(platform.callsTo('login')).toBe(2);
    });
  }

  it('wechat_unavailable twice: exactly two tries, then the typed error reaches the caller', async () => {
    await queueFaults(server.url, { count: 2, errcode: -1 });
    const error = await expectApiError(api.client.getProfile.query());
    expect(error.data).toMatchObject({ code: 'SERVICE_UNAVAILABLE', reason: 'wechat_unavailable' });
    expect(error.message).toMatch(/fresh code/);
    expect(platform.loginCalls).toBe(2);
    expect(platform.callsTo('login')).toBe(2);
    expect(platform.callsTo('getProfile')).toBe(0);
  });

  for (const [errcode, reason, code] of [
    [40226, 'user_blocked', 'FORBIDDEN'],
    [45011, 'rate_limited', 'TOO_MANY_REQUESTS'],
  ] as const) {
    it(`${reason} reaches the caller as a typed error, with no retry`, async () => {
      await queueFaults(server.url, { count: 1, errcode });
      const error = await expectApiError(api.client.getProfile.query());
      expect(error.data).toMatchObject({ code, reason });
      expect(reasonOf(error)).toBe(reason);
      expect(platform.loginCalls).toBe(1);
      expect(platform.callsTo('login')).toBe(1);
      expect(storedToken()).toBeUndefined();
    });
  }

  it('Taro.login failing: a clear error, no hang, nothing sent', async () => {
    platform.loginFailure = 'system error';
    const error = await expectApiError(api.client.getProfile.query());
    expect(reasonOf(error)).toBe('code_unavailable');
    expect(error.message).toMatch(/wx\.login failed \(login:fail system error\): check the network/);
    expect(platform.httpRequests()).toBe(0);
    // The failure is not sticky: the next call logs in.
    platform.loginFailure = undefined;
    await api.client.getProfile.query();
    expect(platform.loginCalls).toBe(2);
  });

  it('all calls waiting on a failing login get its error', async () => {
    platform.loginFailure = 'system error';
    const errors = await Promise.all(Array.from({ length: 3 }, () => expectApiError(api.client.getProfile.query())));
    expect(errors.map(reasonOf)).toEqual(['code_unavailable', 'code_unavailable', 'code_unavailable']);
    expect(platform.loginCalls).toBe(1);
  });
});

describe('7. network errors are not auth errors', () => {
  it('offline: the error reaches the caller unchanged, no login, the token is kept', async () => {
    const token = await loggedIn(api);
    platform.offline = true;
    const error = await expectApiError(api.client.getProfile.query());
    expect(reasonOf(error)).toBe('network');
    expect(error.data).toBeFalsy();
    expect(error.message).toMatch(/failed before any answer.*check the network/);
    expect(platform.loginCalls).toBe(0);
    expect(storedToken()).toBe(token);
    platform.offline = false;
    await api.client.getProfile.query();
    expect(platform.loginCalls).toBe(0);
  });

  it('no server at the address: the login request fails with a network error, not an auth error', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));
    const dead = newApi(`http://127.0.0.1:${port}`);
    const error = await expectApiError(dead.client.getProfile.query());
    expect(reasonOf(error)).toBe('network');
    expect(platform.loginCalls).toBe(1);
    expect(platform.callsTo('login')).toBe(1);
  });

  it('a non-JSON answer (a proxy error page) is a network error naming the status, not an auth error', async () => {
    await loggedIn(api);
    const proxy = createServer((_req, res) => {
      res.writeHead(502, { 'content-type': 'text/html' });
      res.end('<html><body>Bad Gateway</body></html>');
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = proxy.address() as AddressInfo;
      const viaProxy = newApi(`http://127.0.0.1:${port}`);
      const error = await expectApiError(viaProxy.client.getProfile.query());
      expect(reasonOf(error)).toBe('network');
      expect(error.message).toMatch(/HTTP 502 with a body that is not JSON/);
      expect(platform.loginCalls).toBe(0);
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});

describe('8. unsubscribing cancels what the call waits on', () => {
  it('while waiting for a login it is the only one to need: the login is abandoned, nothing is sent', async () => {
    const releaseLogin = platform.holdLogin();
    const controller = new AbortController();
    const call = api.client.getProfile.query(undefined, { signal: controller.signal });
    await tick();
    expect(platform.loginCalls).toBe(1);
    controller.abort();
    const error = await call.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isCancelled(error)).toBe(true);
    releaseLogin();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(platform.callsTo('login')).toBe(0);
    expect(storedToken()).toBeUndefined();
    // Nothing is left behind: the next call starts a fresh login and succeeds.
    await api.client.getProfile.query();
    expect(platform.callsTo('login')).toBe(1);
  });

  it('one of two waiters leaving does not cancel the login the other waits for', async () => {
    const releaseLogin = platform.holdLogin();
    const controller = new AbortController();
    const leaving = api.client.getProfile.query(undefined, { signal: controller.signal }).catch((e: unknown) => e);
    const staying = api.client.checkSession.query();
    await tick();
    controller.abort();
    releaseLogin();
    expect((await staying).valid).toBe(true);
    expect(isCancelled(await leaving)).toBe(true);
    expect(platform.loginCalls).toBe(1);
    expect(platform.callsTo('login')).toBe(1);
    expect(platform.callsTo('getProfile')).toBe(0);
  });

  it('while its request is in flight: the request task is aborted', async () => {
    await loggedIn(api);
    const release = platform.hold((r) => r.path === 'getProfile');
    const controller = new AbortController();
    const call = api.client.getProfile.query(undefined, { signal: controller.signal }).catch((e: unknown) => e);
    await vi.waitFor(() => expect(platform.callsTo('getProfile')).toBe(1));
    controller.abort();
    expect(isCancelled(await call)).toBe(true);
    const request = platform.requests.find((r) => r.path === 'getProfile')!;
    expect(request.aborted).toBe(true);
    release();
    await vi.waitFor(() => expect(platform.openRequests()).toBe(0));
  });

  it('while waiting in the backoff before the retry: the timer is cleared, no second try', async () => {
    const slow = createApi({ apiUrl: server.url, platform: () => createWeappPlatform(), retryBackoffMs: 60_000 });
    await queueFaults(server.url, { count: 1, errcode: -1 });
    const controller = new AbortController();
    const call = slow.client.getProfile.query(undefined, { signal: controller.signal }).catch((e: unknown) => e);
    await vi.waitFor(() => expect(platform.callsTo('login')).toBe(1));
    await vi.waitFor(() => expect(platform.openRequests()).toBe(0));
    controller.abort();
    // Rejects as cancelled, not after the 60 s backoff: the wait was cancelled, not left to run.
    expect(isCancelled(await call)).toBe(true);
    expect(platform.loginCalls).toBe(1);
    // A later call starts afresh.
    await slow.client.getProfile.query();
    expect(platform.callsTo('login')).toBe(2);
  });
});
