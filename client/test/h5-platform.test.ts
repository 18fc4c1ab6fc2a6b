import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

vi.mock('@tarojs/taro', async () => (await import('./support/fake-taro.ts')).taroModule);

import { createClient, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { createApi, type Api } from '../src/api/create-api.ts';
import { reasonOf } from '../src/auth/errors.ts';
import { createH5Platform, simulatedUser } from '../src/auth/h5-platform.ts';
import { platform } from './support/fake-taro.ts';

// The H5 code source and session check, on the same in-memory platform (real HTTP) as the link tests.
let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ LOGIN_RATE_LIMIT_PER_MINUTE: '100000' });
});
afterAll(async () => {
  await server?.close();
});

let seq = 0;
function h5Api(url: string, user: string): Api {
  return createApi({ apiUrl: url, platform: (deps) => createH5Platform({ ...deps, user }), retryBackoffMs: 20 });
}

describe('simulatedUser', () => {
  it('reads ?user= from the query, or from the hash route, default dev-user', () => {
    expect(simulatedUser({ search: '?user=alice', hash: '#/pages/index/index' })).toBe('alice');
    expect(simulatedUser({ search: '', hash: '#/pages/index/index?user=bob' })).toBe('bob');
    expect(simulatedUser({ search: '?x=1', hash: '' })).toBe('dev-user');
    expect(simulatedUser(undefined)).toBe('dev-user');
  });
});

describe('H5 platform', () => {
  let user: string;
  beforeEach(() => {
    user = `h5-user-${++seq}`;
    platform.reset(server.url, 'unused');
  });

  it('logs in with a simulator code for ?user=, never Taro.login, and keeps the session per user', async () => {
    const api = h5Api(server.url, user);
    const profile = await api.client.getProfile.query();
    expect(platform.loginCalls).toBe(0);
    expect(platform.requests.map((r) => r.path)).toEqual(['/__wechat/dev/login', 'login', 'getProfile']);
    expect(platform.storage.get(`wxkit.session.${user}`)).toMatchObject({ userId: profile.id });
    // Another simulated user is another account, with its own stored session.
    const other = await h5Api(server.url, `${user}-b`).client.getProfile.query();
    expect(other.id).not.toBe(profile.id);
  });

  it('checks the session with the server once per show; a revoked one means a login before the call', async () => {
    const api = h5Api(server.url, user);
    await api.client.getProfile.query();
    const token = api.session.token()!;
    platform.requests = [];
    api.session.appShown();
    await api.client.getProfile.query();
    await api.client.getProfile.query();
    expect(platform.requests.map((r) => r.path)).toEqual(['checkSession', 'getProfile', 'getProfile']);
    expect(platform.requests[0]!.authorization).toBe(`Bearer ${token}`);

    await createClient(server.url, token).logout.mutate();
    platform.requests = [];
    api.session.appShown();
    await api.client.getProfile.query();
    expect(platform.requests.map((r) => r.path)).toEqual(['checkSession', '/__wechat/dev/login', 'login', 'getProfile']);
    expect(api.session.token()).not.toBe(token);
  });

  it('against a server in real mode (no simulator): a clear error saying so', async () => {
    const real = await startTestServer({
      WECHAT_APPID: 'wx0123456789abcdef',
      WECHAT_SECRET: 'not-used-in-this-test',
      JWT_SECRET: 'a-test-secret-that-is-at-least-32-bytes-long',
    });
    try {
      const error = await h5Api(real.url, user).client.getProfile.query().catch((e: unknown) => e);
      expect(reasonOf(error)).toBe('code_unavailable');
      expect((error as Error).message).toMatch(/not in simulator mode.*unset WECHAT_APPID/);
    } finally {
      await real.close();
    }
  });
});
