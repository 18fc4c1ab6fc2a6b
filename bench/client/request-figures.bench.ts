// Client request figures for `npm run bench:client` (run by bench/client/run.mjs through vitest, which mocks
// `@tarojs/taro` with the client tests' fake platform): the app's real API client (tRPC client + auth link) against
// a real server on 127.0.0.1, counting what goes over the wire in three situations.
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it, vi } from 'vitest';

vi.mock('@tarojs/taro', async () => (await import('../../client/test/support/fake-taro.ts')).taroModule);

import { startTestServer, type TestServer } from '../../server/test/support/server.ts';
import { createApi, type Api } from '../../client/src/api/create-api.ts';
import { createWeappPlatform } from '../../client/src/auth/weapp-platform.ts';
import { platform } from '../../client/test/support/fake-taro.ts';

const TTL_SECONDS = 3600;
let server: TestServer;
let clockOffsetMs = 0;

beforeAll(async () => {
  server = await startTestServer(
    { LOGIN_RATE_LIMIT_PER_MINUTE: '100000', SESSION_TTL_SECONDS: String(TTL_SECONDS), LOG_LEVEL: 'warn' },
    { now: () => Date.now() + clockOffsetMs },
  );
});
afterAll(async () => {
  await server?.close();
});

interface Figure {
  situation: string;
  calls: number;
  httpRequests: number;
  trpcRequests: { path: string; status: 'ok' | 'aborted' }[];
  taroLogin: number;
  taroCheckSession: number;
  ms: number;
}

function newApi(): Api {
  return createApi({ apiUrl: server.url, platform: () => createWeappPlatform(), retryBackoffMs: 20 });
}

async function measure(situation: string, calls: number, run: () => Promise<unknown>): Promise<Figure> {
  platform.requests = [];
  platform.loginCalls = 0;
  platform.checkSessionCalls = 0;
  const started = performance.now();
  await run();
  const ms = Math.round((performance.now() - started) * 10) / 10;
  const trpc = platform.requests.filter((r) => r.url.includes('/trpc/'));
  return {
    situation,
    calls,
    httpRequests: trpc.length,
    trpcRequests: trpc.map((r) => ({ path: r.path, status: r.aborted ? 'aborted' : 'ok' })),
    taroLogin: platform.loginCalls,
    taroCheckSession: platform.checkSessionCalls,
    ms,
  };
}

it('measures cold start, steady state and expiry with 10 calls in flight', async () => {
  const figures: Figure[] = [];
  platform.reset(server.url, 'figures-user');
  let api = newApi();

  // Cold start: nothing stored; the first screen asks for the profile and the session together.
  figures.push(await measure('cold start (getProfile + checkSession, nothing stored)', 2, () => Promise.all([api.client.getProfile.query(), api.client.checkSession.query()])));

  // Relaunch with the token stored: the app shows, Taro.checkSession runs once, then the calls.
  api = newApi();
  figures.push(await measure('relaunch with a stored token (getProfile + checkSession)', 2, () => Promise.all([api.client.getProfile.query(), api.client.checkSession.query()])));

  // Steady state: 10 screens' worth of calls, one after another, and a burst of 10 in one tick.
  figures.push(
    await measure('steady state, 10 sequential getProfile', 10, async () => {
      for (let i = 0; i < 10; i++) await api.client.getProfile.query();
    }),
  );
  figures.push(await measure('steady state, 10 calls in one tick', 10, () => Promise.all(Array.from({ length: 10 }, () => api.client.getProfile.query()))));

  // Expiry: the server's clock passes the session's end while the app holds the token; 10 calls go out at once.
  clockOffsetMs += (TTL_SECONDS + 60) * 1000;
  figures.push(
    await measure('expiry, 10 calls in flight', 10, async () => {
      const results = await Promise.all(Array.from({ length: 10 }, (_, i) => (i % 2 ? api.client.checkSession.query() : api.client.getProfile.query())));
      expect(results).toHaveLength(10);
    }),
  );
  // Revocation (logout elsewhere), 10 calls in flight, spread over several ticks.
  const token = api.session.token();
  await fetch(`${server.url}/trpc/logout`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } });
  figures.push(
    await measure('revoked elsewhere, 10 calls over 10 ticks', 10, async () => {
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < 10; i++) {
        calls.push(api.client.getProfile.query());
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      await Promise.all(calls);
    }),
  );

  const out = process.env.CLIENT_FIGURES_OUT;
  if (out) writeFileSync(out, JSON.stringify(figures, null, 2));
  expect(figures[0]!.taroLogin).toBe(1);
});
