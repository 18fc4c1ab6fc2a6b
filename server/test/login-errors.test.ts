import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  createClient,
  expectTRPCError,
  mintCode,
  queueFaults,
  simulatorExchanges,
  startTestServer,
  type Fault,
  type TestServer,
} from './support/server.ts';

const TIMEOUT_MS = 300;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer({ WECHAT_TIMEOUT_MS: String(TIMEOUT_MS) });
});
afterAll(() => server.close());
beforeEach(async () => {
  await fetch(`${server.url}/__wechat/dev/faults`, { method: 'DELETE' });
});

async function loginError(code: string) {
  return expectTRPCError(createClient(server.url).login.mutate({ code }));
}

describe('login maps every WeChat failure to the contract', () => {
  it('answers code_invalid (400) for a code WeChat never issued', async () => {
    const error = await loginError('never-issued-code');
    expect(error.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400, reason: 'code_invalid' });
    expect(error.message).toMatch(/login again|new code/i);
  });

  it('answers code_used (400) for a code already exchanged by someone else (WeChat 40163)', async () => {
    const code = await mintCode(server.url, 'alice');
    // Burn the code at "WeChat" directly, as another server would.
    const burn = await fetch(
      `${server.url}/__wechat/sns/jscode2session?appid=wxsimulator0000000&secret=simulator-secret-not-for-production&js_code=${code}&grant_type=authorization_code`,
    );
    expect(((await burn.json()) as { openid?: string }).openid).toBeTypeOf('string');
    const error = await loginError(code);
    expect(error.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400, reason: 'code_used' });
  });

  const rows: Array<[string, Fault, string, number, string]> = [
    ['WeChat -1 (system busy)', { count: 1, errcode: -1 }, 'SERVICE_UNAVAILABLE', 503, 'wechat_unavailable'],
    ['WeChat 40226 (high-risk user)', { count: 1, errcode: 40226 }, 'FORBIDDEN', 403, 'user_blocked'],
    ['WeChat 45011 (rate limit)', { count: 1, errcode: 45011 }, 'TOO_MANY_REQUESTS', 429, 'rate_limited'],
    ['WeChat 40013 (bad appid)', { count: 1, errcode: 40013 }, 'INTERNAL_SERVER_ERROR', 500, 'wechat_config'],
    ['WeChat 40125 (bad secret)', { count: 1, errcode: 40125 }, 'INTERNAL_SERVER_ERROR', 500, 'wechat_config'],
    ['WeChat 41002 (appid missing)', { count: 1, errcode: 41002 }, 'INTERNAL_SERVER_ERROR', 500, 'wechat_config'],
    ['an answer slower than the timeout', { count: 1, delayMs: TIMEOUT_MS * 5 }, 'SERVICE_UNAVAILABLE', 503, 'wechat_unavailable'],
    ['HTTP 500', { count: 1, status: 500, body: 'Internal Server Error' }, 'SERVICE_UNAVAILABLE', 503, 'wechat_unavailable'],
    ['a body that is not JSON', { count: 1, body: '<html>busy</html>' }, 'SERVICE_UNAVAILABLE', 503, 'wechat_unavailable'],
  ];

  it.each(rows)('%s → %s', async (_label, fault, code, httpStatus, reason) => {
    const loginCode = await mintCode(server.url, 'bob');
    await queueFaults(server.url, fault);
    const before = await simulatorExchanges(server.url);
    const started = Date.now();
    const error = await loginError(loginCode);
    expect(error.data).toMatchObject({ code, httpStatus, reason });
    expect(error.message.length).toBeGreaterThan(20);
    expect(Date.now() - started).toBeLessThan(TIMEOUT_MS + 5_000);

    // The server never resends a code after a failure: the same code again is answered without calling WeChat.
    const again = await loginError(loginCode);
    expect(again.data?.reason).toBe(reason);
    expect(await simulatorExchanges(server.url)).toBe(before + 1);

    // …and a fresh code works once WeChat behaves.
    const ok = await createClient(server.url).login.mutate({ code: await mintCode(server.url, 'bob') });
    expect(ok.token).toBeTypeOf('string');
  });

  it('does not say which config value is wrong to the client, only that the server must be fixed', async () => {
    await queueFaults(server.url, { count: 1, errcode: 40125 });
    const error = await loginError(await mintCode(server.url, 'carol'));
    expect(error.message).toMatch(/configuration/);
    expect(error.message).not.toMatch(/simulator-secret/);
  });

  it('rejects input that does not match the schema with invalid_input, naming the field', async () => {
    for (const code of ['', 'x'.repeat(129)]) {
      const error = await loginError(code);
      expect(error.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400, reason: 'invalid_input' });
      expect(error.message).toMatch(/code/);
    }
    const response = await fetch(`${server.url}/trpc/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ code: 42 }),
    });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { message: string; data: { reason: string } } };
    expect(body.error.data.reason).toBe('invalid_input');
    expect(body.error.message).toMatch(/code must be a string/);
  });
});
