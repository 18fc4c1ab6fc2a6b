import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintCode, queueFaults, simulatorExchanges, startTestServer, type TestServer } from '../support/server.ts';
import { envelopeError, expectNoLeaks, hardeningEnv, trpcPost } from './support.ts';

// Suite 2 (issue 6): every way WeChat can misbehave maps to the contract's code and reason within a bounded time,
// and a code is never sent to WeChat a second time after a failed exchange.

const TIMEOUT_MS = 300;
/** "No request hangs": generous, far above the 300 ms WeChat timeout, far below the test timeout. */
const NO_HANG_MS = 5_000;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer(hardeningEnv({ WECHAT_TIMEOUT_MS: String(TIMEOUT_MS) }));
});
afterAll(async () => {
  await server.close();
  expectNoLeaks();
});

const cases: Array<{ name: string; fault: Parameters<typeof queueFaults>[1]; status: number; code: string; reason: string }> = [
  { name: 'errcode -1 (system busy)', fault: { count: 1, errcode: -1 }, status: 503, code: 'SERVICE_UNAVAILABLE', reason: 'wechat_unavailable' },
  { name: 'no answer before the timeout', fault: { count: 1, delayMs: TIMEOUT_MS * 6 }, status: 503, code: 'SERVICE_UNAVAILABLE', reason: 'wechat_unavailable' },
  { name: 'HTTP 500', fault: { count: 1, status: 500, body: 'Internal Server Error' }, status: 503, code: 'SERVICE_UNAVAILABLE', reason: 'wechat_unavailable' },
  { name: 'HTTP 502 (default JSON body)', fault: { count: 1, status: 502 }, status: 503, code: 'SERVICE_UNAVAILABLE', reason: 'wechat_unavailable' },
  { name: 'HTTP 200 with an HTML body', fault: { count: 1, body: '<html><body><h1>502 Bad Gateway</h1></body></html>' }, status: 503, code: 'SERVICE_UNAVAILABLE', reason: 'wechat_unavailable' },
  { name: 'truncated JSON', fault: { count: 1, body: '{"openid":"oTRUNC' }, status: 503, code: 'SERVICE_UNAVAILABLE', reason: 'wechat_unavailable' },
  { name: 'JSON without openid/session_key', fault: { count: 1, body: '{"errcode":0}' }, status: 503, code: 'SERVICE_UNAVAILABLE', reason: 'wechat_unavailable' },
  { name: 'JSON that is not an object', fault: { count: 1, body: '[1,2,3]' }, status: 503, code: 'SERVICE_UNAVAILABLE', reason: 'wechat_unavailable' },
  { name: 'HTTP 404', fault: { count: 1, status: 404, body: 'not found' }, status: 503, code: 'SERVICE_UNAVAILABLE', reason: 'wechat_unavailable' },
  { name: 'errcode 45011 (WeChat rate limit)', fault: { count: 1, errcode: 45011 }, status: 429, code: 'TOO_MANY_REQUESTS', reason: 'rate_limited' },
  { name: 'errcode 40226 (high-risk user)', fault: { count: 1, errcode: 40226 }, status: 403, code: 'FORBIDDEN', reason: 'user_blocked' },
  { name: 'errcode 40029 (invalid code)', fault: { count: 1, errcode: 40029 }, status: 400, code: 'BAD_REQUEST', reason: 'code_invalid' },
  { name: 'errcode 40163 (code used)', fault: { count: 1, errcode: 40163 }, status: 400, code: 'BAD_REQUEST', reason: 'code_used' },
  { name: 'errcode 40125 (our AppSecret rejected)', fault: { count: 1, errcode: 40125 }, status: 500, code: 'INTERNAL_SERVER_ERROR', reason: 'wechat_config' },
  { name: 'an unknown errcode', fault: { count: 1, errcode: 99_999 }, status: 503, code: 'SERVICE_UNAVAILABLE', reason: 'wechat_unavailable' },
];

describe('each WeChat fault maps to the contract within a bounded time, and the code is never resent', () => {
  for (const c of cases) {
    it(c.name, async () => {
      const code = await mintCode(server.url, `fault-${c.reason}`);
      await queueFaults(server.url, c.fault);
      const before = await simulatorExchanges(server.url);

      const started = performance.now();
      const first = await trpcPost(server.url, 'login', { body: JSON.stringify({ code }) });
      expect(performance.now() - started).toBeLessThan(NO_HANG_MS);
      expect(first.status, first.text).toBe(c.status);
      const error = envelopeError(first.json);
      expect(error?.data.code).toBe(c.code);
      expect(error?.data.reason).toBe(c.reason);
      expect(error?.message).toMatch(/wx\.login|log in|try again|Operators/i);
      expect(await simulatorExchanges(server.url)).toBe(before + 1);

      // The client retries the same code (a network retry, a double tap): answered from memory, not resent.
      const again = await trpcPost(server.url, 'login', { body: JSON.stringify({ code }) });
      expect(again.status).toBe(c.status);
      expect(envelopeError(again.json)?.data.reason).toBe(c.reason);
      expect(await simulatorExchanges(server.url)).toBe(before + 1);

      // A fresh code (what the client does next) works once WeChat behaves again.
      const fresh = await trpcPost(server.url, 'login', { body: JSON.stringify({ code: await mintCode(server.url, `fault-${c.reason}`) }) });
      expect(fresh.status, fresh.text).toBe(200);
      expect(await simulatorExchanges(server.url)).toBe(before + 2);
    });
  }

  it('concurrent retries of a failing code share the one failed exchange', async () => {
    const code = await mintCode(server.url, 'fault-concurrent');
    await queueFaults(server.url, { count: 1, errcode: -1, delayMs: 100 });
    const before = await simulatorExchanges(server.url);
    const answers = await Promise.all(Array.from({ length: 10 }, () => trpcPost(server.url, 'login', { body: JSON.stringify({ code }) })));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(503));
    expect(await simulatorExchanges(server.url)).toBe(before + 1);
  });

  it('a burst of timeouts does not pile up: 20 logins against a silent WeChat all answer within the bound', async () => {
    await queueFaults(server.url, { count: 20, delayMs: TIMEOUT_MS * 6 });
    const codes = await Promise.all(Array.from({ length: 20 }, (_, i) => mintCode(server.url, `fault-burst-${i}`)));
    const started = performance.now();
    const answers = await Promise.all(codes.map((code) => trpcPost(server.url, 'login', { body: JSON.stringify({ code }) })));
    expect(performance.now() - started).toBeLessThan(NO_HANG_MS);
    expect(answers.map((a) => envelopeError(a.json)?.data.reason)).toEqual(Array(20).fill('wechat_unavailable'));
  });
});
