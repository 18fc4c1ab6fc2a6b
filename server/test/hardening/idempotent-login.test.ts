import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { mintCode, simulatorExchanges, startTestServer, type TestServer } from '../support/server.ts';
import { envelopeError, expectNoLeaks, hardeningEnv, trpcPost, type RawResponse } from './support.ts';

// Suite 3 (issue 6): a double-submitted code gets the same session (one exchange at WeChat) for 5 minutes, then
// `code_used`. Time is a fake clock handed to buildApp, so "5 minutes later" takes no time.

let offsetMs = 0;
const clock = () => Date.now() + offsetMs;

let server: TestServer;
beforeAll(async () => {
  server = await startTestServer(hardeningEnv(), { now: clock });
});
beforeEach(() => {
  offsetMs = 0;
});
afterAll(async () => {
  await server.close();
  expectNoLeaks();
});

const login = (code: string) => trpcPost(server.url, 'login', { body: JSON.stringify({ code }) });
const data = (answer: RawResponse) => (answer.json as { result: { data: { token: string; expiresAt: string; isNewUser: boolean; user: { id: string } } } }).result.data;
const sessionRows = () => server.db.count('SELECT count(*) AS n FROM sessions');

describe('the same code submitted twice', () => {
  it('at the same moment → one exchange at WeChat, both callers get the same session', async () => {
    const code = await mintCode(server.url, 'idem-a');
    const before = await simulatorExchanges(server.url);
    const rowsBefore = await sessionRows();
    const [a, b] = await Promise.all([login(code), login(code)]);
    expect(a.status, a.text).toBe(200);
    expect(b.status, b.text).toBe(200);
    expect(data(b)).toEqual(data(a));
    expect(data(a).isNewUser).toBe(true);
    expect(await simulatorExchanges(server.url)).toBe(before + 1);
    expect(await sessionRows()).toBe(rowsBefore + 1);
  });

  it('20 at once, plus twice inside one batch → still one exchange and one session', async () => {
    const code = await mintCode(server.url, 'idem-b');
    const before = await simulatorExchanges(server.url);
    const rowsBefore = await sessionRows();
    const singles = Array.from({ length: 20 }, () => login(code));
    const batch = trpcPost(server.url, 'login,login', { query: 'batch=1', body: JSON.stringify({ 0: { code }, 1: { code } }) });
    const answers = await Promise.all(singles);
    const batched = await batch;
    expect(batched.status, batched.text).toBe(200);
    const tokens = new Set([...answers.map((a) => data(a).token), ...(batched.json as Array<{ result: { data: { token: string } } }>).map((r) => r.result.data.token)]);
    expect(tokens.size).toBe(1);
    expect(await simulatorExchanges(server.url)).toBe(before + 1);
    expect(await sessionRows()).toBe(rowsBefore + 1);
  });

  it('2 s later → the same session again, without asking WeChat', async () => {
    const code = await mintCode(server.url, 'idem-c');
    const first = await login(code);
    const before = await simulatorExchanges(server.url);
    offsetMs = 2_000;
    const second = await login(code);
    expect(second.status).toBe(200);
    expect(data(second)).toEqual(data(first));
    expect(await simulatorExchanges(server.url)).toBe(before);
    // The replayed token works.
    const profile = await fetch(`${server.url}/trpc/getProfile`, { headers: { authorization: `Bearer ${data(second).token}` } });
    expect(profile.status).toBe(200);
  });

  it('just under 5 minutes later → same session; at 5 minutes → code_used, still without asking WeChat', async () => {
    const code = await mintCode(server.url, 'idem-d');
    const first = await login(code);
    const before = await simulatorExchanges(server.url);
    offsetMs = 5 * 60_000 - 1_000;
    expect(data(await login(code)).token).toBe(data(first).token);
    offsetMs = 5 * 60_000 + 1_000;
    const late = await login(code);
    expect(late.status).toBe(400);
    expect(envelopeError(late.json)?.data.reason).toBe('code_used');
    expect(envelopeError(late.json)?.message).toMatch(/wx\.login/);
    expect(await simulatorExchanges(server.url)).toBe(before);
    // The session itself is untouched by the late resubmission.
    const profile = await fetch(`${server.url}/trpc/getProfile`, { headers: { authorization: `Bearer ${data(first).token}` } });
    expect(profile.status).toBe(200);
  });

  it('after the session was logged out → code_used: a replay never resurrects a revoked session', async () => {
    const code = await mintCode(server.url, 'idem-e');
    const first = await login(code);
    const out = await trpcPost(server.url, 'logout', { headers: { authorization: `Bearer ${data(first).token}` } });
    expect(out.status).toBe(200);
    const again = await login(code);
    expect(again.status).toBe(400);
    expect(envelopeError(again.json)?.data.reason).toBe('code_used');
  });

  it('a second login of the same user with a new code is a new session (isNewUser false)', async () => {
    const first = await login(await mintCode(server.url, 'idem-f'));
    const second = await login(await mintCode(server.url, 'idem-f'));
    expect(data(second).user.id).toBe(data(first).user.id);
    expect(data(second).isNewUser).toBe(false);
    expect(data(second).token).not.toBe(data(first).token);
  });
});
