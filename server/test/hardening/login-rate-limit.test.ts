import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, expectTRPCError, mintCode, simulatorExchanges, startTestServer, type TestServer } from '../support/server.ts';
import { envelopeError, expectNoLeaks, JWT_SECRET, loginRaw, trpcGet, trpcPost } from './support.ts';

// Suite 7 (issue 6): LOGIN_RATE_LIMIT_PER_MINUTE logins per client address per minute, then 429 + Retry-After +
// reason rate_limited in the tRPC envelope. Other procedures are never counted nor refused.

const LIMIT = 5;

describe('login rate limit per client address', () => {
  let server: TestServer;
  let token: string;
  beforeAll(async () => {
    server = await startTestServer({ JWT_SECRET, LOGIN_RATE_LIMIT_PER_MINUTE: String(LIMIT) });
  });
  afterAll(() => server.close());

  it(`allows ${LIMIT} logins a minute, then answers 429 with Retry-After and reason rate_limited, without asking WeChat`, async () => {
    for (let i = 0; i < LIMIT; i++) {
      const answer = await loginRaw(server.url, `limit-${i}`);
      expect(answer.status, answer.text).toBe(200);
      token ??= (answer.json as { result: { data: { token: string } } }).result.data.token;
    }
    const exchanges = await simulatorExchanges(server.url);
    const refused = await loginRaw(server.url, 'limit-over');
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const error = envelopeError(refused.json);
    expect(error?.data).toMatchObject({ code: 'TOO_MANY_REQUESTS', httpStatus: 429, reason: 'rate_limited', path: 'login' });
    expect(error?.message).toMatch(/wait \d+ s.*Retry-After/);
    expect(await simulatorExchanges(server.url)).toBe(exchanges);
  });

  it('the real tRPC client sees TOO_MANY_REQUESTS with reason rate_limited', async () => {
    const error = await expectTRPCError(createClient(server.url).login.mutate({ code: await mintCode(server.url, 'limit-client') }));
    expect(error.data?.code).toBe('TOO_MANY_REQUESTS');
    expect(error.data?.httpStatus).toBe(429);
    expect(error.data?.reason).toBe('rate_limited');
  });

  it('refuses login however it is spelled: GET, invalid input, URL-encoded path', async () => {
    expect((await trpcGet(server.url, 'login', { input: { code: 'x' } })).status).toBe(429);
    expect((await trpcPost(server.url, 'login', { body: '{"code":""}' })).status).toBe(429);
    expect((await trpcPost(server.url, 'log%69n', { body: '{"code":"x"}' })).status).toBe(429);
    expect((await trpcPost(server.url, 'log%2569n', { body: '{"code":"x"}' })).status).toBe(429);
    expect((await trpcPost(server.url, 'getProfile,login', { query: 'batch=1', body: '{"1":{"code":"x"}}' })).status).toBe(429);
  });

  it('leaves every other procedure alone while login is limited', async () => {
    const headers = { authorization: `Bearer ${token}` };
    for (let i = 0; i < LIMIT * 4; i++) {
      expect((await trpcGet(server.url, 'getProfile', { headers })).status).toBe(200);
      expect((await trpcGet(server.url, 'checkSession', { headers })).status).toBe(200);
      expect((await trpcPost(server.url, 'updateProfile', { headers, body: JSON.stringify({ nickname: `n${i}` }) })).status).toBe(200);
    }
    const batch = await trpcGet(server.url, 'getProfile,checkSession', { query: 'batch=1', headers });
    expect(batch.status).toBe(200);
    expect(batch.headers.get('retry-after')).toBeNull();
    expect((await fetch(`${server.url}/healthz`)).status).toBe(200);
  });

  it('a batch holding login is refused whole while login is limited (every call reports rate_limited)', async () => {
    const headers = { authorization: `Bearer ${token}` };
    const answer = await trpcPost(server.url, 'login,updateProfile', {
      query: 'batch=1',
      headers,
      body: JSON.stringify({ 0: { code: await mintCode(server.url, 'limit-batch') }, 1: { nickname: 'b' } }),
    });
    expect(answer.status).toBe(429);
    expect(answer.headers.get('retry-after')).not.toBeNull();
    expect(envelopeError(answer.json)?.data.reason).toBe('rate_limited');
  });
});

describe('batches cannot multiply the allowance', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ JWT_SECRET, LOGIN_RATE_LIMIT_PER_MINUTE: String(LIMIT) });
  });
  afterAll(() => server.close());

  it(`each login in a batch counts: after one batch of ${LIMIT} logins the next login is refused`, async () => {
    const codes = await Promise.all(Array.from({ length: LIMIT }, (_, i) => mintCode(server.url, `limit-b-${i}`)));
    const body = Object.fromEntries(codes.map((code, i) => [i, { code }]));
    const ok = await trpcPost(server.url, Array(LIMIT).fill('login').join(','), { query: 'batch=1', body: JSON.stringify(body) });
    expect(ok.status, ok.text).toBe(200);
    expect((await loginRaw(server.url, 'limit-b-next')).status).toBe(429);
  });
});

describe('the limit is per address and configurable', () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ JWT_SECRET, LOGIN_RATE_LIMIT_PER_MINUTE: '2' });
  });
  afterAll(async () => {
    await server.close();
    expectNoLeaks();
  });

  it('another client address has its own allowance', async () => {
    expect((await loginRaw(server.url, 'addr-1')).status).toBe(200);
    expect((await loginRaw(server.url, 'addr-2')).status).toBe(200);
    expect((await loginRaw(server.url, 'addr-3')).status).toBe(429);
    // Same app, same limiter, another socket address (light-my-request sets it; the simulator is still reached over HTTP).
    const fromElsewhere = (code: string) =>
      server.app.inject({ method: 'POST', url: '/trpc/login', remoteAddress: '10.1.2.3', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ code }) });
    expect((await fromElsewhere(await mintCode(server.url, 'addr-4'))).statusCode).toBe(200);
    expect((await fromElsewhere(await mintCode(server.url, 'addr-5'))).statusCode).toBe(200);
    expect((await fromElsewhere(await mintCode(server.url, 'addr-6'))).statusCode).toBe(429);
    expect((await loginRaw(server.url, 'addr-7')).status).toBe(429);
  });
});
