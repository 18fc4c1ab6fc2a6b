import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';

// Issue 6, suite 4 (races), the client part: 100 concurrent calls through the app's auth link on a revoked token.
// Only the platform is mocked: requests go over real HTTP to a real server, codes come from its simulator.
vi.mock('@tarojs/taro', async () => (await import('./support/fake-taro.ts')).taroModule);

import { createClient, simulatorExchanges, startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { createApi, type Api } from '../src/api/create-api.ts';
import { createWeappPlatform } from '../src/auth/weapp-platform.ts';
import { platform } from './support/fake-taro.ts';

let server: TestServer;
let userSeq = 0;
let api: Api;

beforeAll(async () => {
  server = await startTestServer({ LOGIN_RATE_LIMIT_PER_MINUTE: '100000' });
});
afterAll(async () => {
  await server?.close();
});
beforeEach(() => {
  platform.reset(server.url, `race-user-${++userSeq}`);
  api = createApi({ apiUrl: server.url, platform: () => createWeappPlatform(), retryBackoffMs: 20 });
});

async function loggedInThenRevoked(): Promise<string> {
  await api.client.getProfile.query();
  const token = api.session.token();
  expect(token).toBeTruthy();
  await createClient(server.url, token!).logout.mutate();
  platform.requests = [];
  platform.loginCalls = 0;
  return token!;
}

describe('100 concurrent calls through the auth link on a revoked token', () => {
  it('batched as the link batches them: one re-login, 100 successes', async () => {
    const revoked = await loggedInThenRevoked();
    const exchanges = await simulatorExchanges(server.url);
    const results = await Promise.all(Array.from({ length: 100 }, () => api.client.getProfile.query()));
    expect(results).toHaveLength(100);
    expect(new Set(results.map((p) => p.id)).size).toBe(1);
    expect(platform.loginCalls).toBe(1);
    expect(platform.callsTo('login')).toBe(1);
    expect(await simulatorExchanges(server.url)).toBe(exchanges + 1);
    expect(api.session.token()).not.toBe(revoked);
  });

  it('each in its own request, all 401s arriving together: still one re-login, 100 successes', async () => {
    const revoked = await loggedInThenRevoked();
    const exchanges = await simulatorExchanges(server.url);
    // Hold every 401 until all 100 requests are out, so they all come back at once.
    const release = platform.hold((r) => r.path === 'getProfile' && r.authorization === `Bearer ${revoked}`);
    const calls: Array<Promise<{ id: string }>> = [];
    for (let i = 0; i < 100; i++) {
      calls.push(api.client.getProfile.query());
      await vi.waitFor(() => expect(platform.callsTo('getProfile')).toBe(i + 1));
    }
    release();
    const results = await Promise.all(calls);
    expect(results).toHaveLength(100);
    expect(platform.loginCalls).toBe(1);
    expect(platform.callsTo('login')).toBe(1);
    expect(await simulatorExchanges(server.url)).toBe(exchanges + 1);
  });
});
