import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SIMULATOR_SECRET } from '../src/app.ts';
import { decryptWeChatData, sessionKeySignature } from '../src/wechat/encrypted-data.ts';
import { SIMULATOR_APPID } from '../src/wechat/simulator.ts';
import {
  clearFaults,
  exchangeAtSimulator,
  expireAccessToken,
  mintPhoneCode,
  queueFaults,
  simulatorStats,
  startBareSimulator,
  werunPayload,
  type BareSimulator,
} from './support/wechat-sim.ts';

// The simulator alone, spoken to in WeChat's wire format over real HTTP: what a real-mode server would see.

let sim: BareSimulator;
let base: string;
beforeAll(async () => {
  sim = await startBareSimulator({ phoneCodeTtlMs: 60_000 });
  base = `${sim.url}/__wechat`;
});
afterAll(() => sim.close());
beforeEach(() => clearFaults(sim.url));

type Answer = Record<string, unknown> & { errcode?: number; errmsg?: string };

async function json(response: Response): Promise<{ status: number; body: Answer }> {
  return { status: response.status, body: (await response.json()) as Answer };
}

const credentials = { grant_type: 'client_credential', appid: SIMULATOR_APPID, secret: SIMULATOR_SECRET };

async function stableToken(body: unknown = credentials) {
  return json(await fetch(`${base}/cgi-bin/stable_token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }));
}

async function freshToken(): Promise<string> {
  const { body } = await stableToken({ ...credentials, force_refresh: true });
  expect(body.access_token).toBeTypeOf('string');
  return body.access_token as string;
}

async function phoneNumber(accessToken: string | undefined, body: unknown) {
  const query = accessToken === undefined ? '' : `?access_token=${encodeURIComponent(accessToken)}`;
  return json(
    await fetch(`${base}/wxa/business/getuserphonenumber${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
  );
}

async function checkSession(params: Record<string, string>) {
  return json(await fetch(`${base}/wxa/checksession?${new URLSearchParams(params)}`));
}

describe('POST /cgi-bin/stable_token', () => {
  it("answers { access_token, expires_in } within WeChat's 7200 s, the same token while it is valid", async () => {
    const first = await stableToken();
    expect(first.status).toBe(200);
    expect(first.body.errcode).toBeUndefined();
    expect(first.body.access_token).toMatch(/^\d+_[\w-]{100,}$/);
    expect(first.body.expires_in).toBeGreaterThan(7000);
    expect(first.body.expires_in).toBeLessThanOrEqual(7200);
    const again = await stableToken({ ...credentials, force_refresh: false });
    expect(again.body.access_token).toBe(first.body.access_token);
  });

  it('force_refresh issues a new token; the previous one answers 40001 (not latest)', async () => {
    const old = (await stableToken()).body.access_token as string;
    const fresh = await freshToken();
    expect(fresh).not.toBe(old);
    expect((await stableToken()).body.access_token).toBe(fresh);
    expect((await phoneNumber(old, { code: 'whatever' })).body.errcode).toBe(40001);
    expect((await phoneNumber(fresh, { code: 'whatever' })).body.errcode).toBe(40029); // the token passed, the code did not
  });

  it.each([
    ['a wrong appid', { ...credentials, appid: 'wx0000000000000000' }, 40013],
    ['a wrong secret', { ...credentials, secret: 'nope' }, 40125],
    ['no appid', { grant_type: 'client_credential', secret: SIMULATOR_SECRET }, 41002],
    ['no secret', { grant_type: 'client_credential', appid: SIMULATOR_APPID }, 41004],
    ['a wrong grant_type', { ...credentials, grant_type: 'authorization_code' }, 40002],
    ['a body that is not an object', [credentials], 47001],
    ['force_refresh that is not a boolean', { ...credentials, force_refresh: 'yes' }, 47001],
  ])('%s → errcode %i in an HTTP 200', async (_label, body, errcode) => {
    const answer = await stableToken(body);
    expect(answer.status).toBe(200);
    expect(answer.body.errcode).toBe(errcode);
    expect(answer.body.errmsg).toMatch(/rid: [0-9a-f]+$/);
    expect(answer.body.access_token).toBeUndefined();
  });

  it('in a token\'s last 5 minutes, normal mode hands out a new one and the old one keeps working', async () => {
    const overlapping = await startBareSimulator({ accessTokenTtlSeconds: 300 });
    try {
      const post = (path: string, body: unknown) =>
        fetch(`${overlapping.url}/__wechat${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(
          (r) => r.json() as Promise<Answer>,
        );
      const first = (await post('/cgi-bin/stable_token', credentials)).access_token as string;
      const second = (await post('/cgi-bin/stable_token', credentials)).access_token as string;
      expect(second).not.toBe(first);
      expect((await post(`/wxa/business/getuserphonenumber?access_token=${first}`, { code: 'x' })).errcode).toBe(40029);
    } finally {
      await overlapping.close();
    }
  });

  it('GET is refused with 43002 (POST only)', async () => {
    expect((await json(await fetch(`${base}/cgi-bin/stable_token`))).body.errcode).toBe(43002);
  });
});

describe('GET /cgi-bin/token', () => {
  it('issues a new token per call, isolated from the stable one; the previous one keeps working for a while', async () => {
    const query = new URLSearchParams(credentials).toString();
    const first = (await json(await fetch(`${base}/cgi-bin/token?${query}`))).body;
    const second = (await json(await fetch(`${base}/cgi-bin/token?${query}`))).body;
    expect(first.access_token).toBeTypeOf('string');
    expect(second.access_token).not.toBe(first.access_token);
    expect(second.expires_in).toBeGreaterThan(7000);
    // Both answer like valid tokens (40029 is about the phone code, not the token).
    expect((await phoneNumber(first.access_token as string, { code: 'x' })).body.errcode).toBe(40029);
    expect((await phoneNumber(second.access_token as string, { code: 'x' })).body.errcode).toBe(40029);
    const stable = (await stableToken()).body.access_token;
    expect([first.access_token, second.access_token]).not.toContain(stable);
  });

  it('refuses a wrong secret with 40125 and a wrong grant_type with 40002', async () => {
    const wrong = new URLSearchParams({ ...credentials, secret: 'nope' });
    expect((await json(await fetch(`${base}/cgi-bin/token?${wrong}`))).body.errcode).toBe(40125);
    const grant = new URLSearchParams({ ...credentials, grant_type: 'password' });
    expect((await json(await fetch(`${base}/cgi-bin/token?${grant}`))).body.errcode).toBe(40002);
  });
});

describe('access_token expiry', () => {
  it('dev/expire-access-token: the current token answers 42001; the next stable_token (normal mode) hands out a new one', async () => {
    const token = await freshToken();
    expect(await expireAccessToken(sim.url)).toBeGreaterThanOrEqual(1);
    expect((await phoneNumber(token, { code: 'x' })).body.errcode).toBe(42001);
    const { errcode } = (await checkSession({ access_token: token, openid: 'o', signature: 'x', sig_method: 'hmac_sha256' })).body;
    expect(errcode).toBe(42001);
    const next = (await stableToken()).body.access_token as string;
    expect(next).not.toBe(token);
    expect((await phoneNumber(next, { code: 'x' })).body.errcode).toBe(40029);
  });

  it('a token past its lifetime answers 42001 by itself', async () => {
    const shortLived = await startBareSimulator({ accessTokenTtlSeconds: 1 });
    try {
      const answer = await fetch(`${shortLived.url}/__wechat/cgi-bin/stable_token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(credentials),
      });
      const { access_token: token } = (await answer.json()) as { access_token: string };
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      const expired = await fetch(`${shortLived.url}/__wechat/wxa/business/getuserphonenumber?access_token=${token}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{"code":"x"}',
      });
      expect(((await expired.json()) as Answer).errcode).toBe(42001);
    } finally {
      await shortLived.close();
    }
  });

  it('no token, or one WeChat never issued: 41001 / 40001', async () => {
    expect((await phoneNumber(undefined, { code: 'x' })).body.errcode).toBe(41001);
    expect((await phoneNumber('1_forged', { code: 'x' })).body.errcode).toBe(40001);
    expect((await checkSession({ access_token: '1_forged', openid: 'o', signature: 'x', sig_method: 'hmac_sha256' })).body.errcode).toBe(40001);
  });
});

describe('getPhoneNumber: POST /dev/phone-code, then POST /wxa/business/getuserphonenumber', () => {
  it("answers WeChat's phone_info with a watermark naming our AppID; the code works once", async () => {
    const token = await freshToken();
    const code = await mintPhoneCode(sim.url, 'alice', '13800138000');
    const before = Math.floor(Date.now() / 1000);
    const { status, body } = await phoneNumber(token, { code });
    expect(status).toBe(200);
    expect(body).toMatchObject({
      errcode: 0,
      errmsg: 'ok',
      phone_info: { phoneNumber: '13800138000', purePhoneNumber: '13800138000', countryCode: '86', watermark: { appid: SIMULATOR_APPID } },
    });
    const timestamp = (body.phone_info as { watermark: { timestamp: number } }).watermark.timestamp;
    expect(timestamp).toBeGreaterThanOrEqual(before - 1);
    expect((await phoneNumber(token, { code })).body.errcode).toBe(40029);
  });

  it('a number outside mainland China carries its country code in phoneNumber', async () => {
    const token = await freshToken();
    const code = await mintPhoneCode(sim.url, 'bob', '2025550123', '1');
    const { body } = await phoneNumber(token, { code });
    expect(body.phone_info).toMatchObject({ phoneNumber: '+12025550123', purePhoneNumber: '2025550123', countryCode: '1' });
  });

  it('an unknown code, a missing code, a non-object body, or a code of another user: WeChat errcodes', async () => {
    const token = await freshToken();
    expect((await phoneNumber(token, { code: 'never-issued' })).body.errcode).toBe(40029);
    expect((await phoneNumber(token, {})).body.errcode).toBe(41008);
    expect((await phoneNumber(token, ['code'])).body.errcode).toBe(47001);
    const code = await mintPhoneCode(sim.url, 'carol', '13900139000');
    const { openid } = await exchangeAtSimulator(sim.url, 'dave');
    expect((await phoneNumber(token, { code, openid })).body.errcode).toBe(40029);
  });

  it('a code older than its lifetime answers 40029', async () => {
    const shortLived = await startBareSimulator({ phoneCodeTtlMs: 200 });
    try {
      const post = (path: string, body: unknown) =>
        fetch(`${shortLived.url}/__wechat${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(
          (r) => r.json() as Promise<Answer>,
        );
      const { access_token: token } = await post('/cgi-bin/stable_token', credentials);
      const { code } = await post('/dev/phone-code', { user: 'erin', phone: '13700137000' });
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect((await post(`/wxa/business/getuserphonenumber?access_token=${token as string}`, { code })).errcode).toBe(40029);
    } finally {
      await shortLived.close();
    }
  });

  it.each([
    [{ user: 'alice', phone: '1380013800' }, /phone: a mainland China mobile number has 11 digits/],
    [{ user: 'alice', phone: '+8613800138000' }, /phone: digits only/],
    [{ user: 'alice', phone: '23800138000' }, /phone: a mainland China mobile number/],
    [{ user: 'alice', phone: '13800138000', countryCode: '+86' }, /countryCode: 1 to 4 digits/],
    [{ user: 'alice' }, /phone:/],
    [{ user: 'not a name', phone: '13800138000' }, /user: use letters/],
  ])('dev/phone-code refuses %j with a 400 naming the field', async (body, message) => {
    const response = await fetch(`${base}/dev/phone-code`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toMatch(message);
  });
});

describe('GET /wxa/checksession', () => {
  it("0 for the signature of the user's latest session_key; 87009 for an earlier one (a new login replaced it)", async () => {
    const token = await freshToken();
    const first = await exchangeAtSimulator(sim.url, 'frank');
    const sign = (sessionKey: string, openid = first.openid) => ({ access_token: token, openid, signature: sessionKeySignature(sessionKey), sig_method: 'hmac_sha256' });
    expect((await checkSession(sign(first.sessionKey))).body).toMatchObject({ errcode: 0, errmsg: 'ok' });

    const second = await exchangeAtSimulator(sim.url, 'frank');
    expect(second.openid).toBe(first.openid);
    expect(second.sessionKey).not.toBe(first.sessionKey);
    expect((await checkSession(sign(first.sessionKey))).body.errcode).toBe(87009);
    expect((await checkSession(sign(second.sessionKey))).body.errcode).toBe(0);
    // Upper-case hex is the same signature.
    expect((await checkSession({ ...sign(second.sessionKey), signature: sessionKeySignature(second.sessionKey).toUpperCase() })).body.errcode).toBe(0);
  });

  it('87009 for an openid that never logged in, another user\'s key, a missing signature or another sig_method', async () => {
    const token = await freshToken();
    const gina = await exchangeAtSimulator(sim.url, 'gina');
    const hank = await exchangeAtSimulator(sim.url, 'hank');
    const good = { access_token: token, openid: gina.openid, signature: sessionKeySignature(gina.sessionKey), sig_method: 'hmac_sha256' };
    expect((await checkSession(good)).body.errcode).toBe(0);
    for (const params of [
      { ...good, openid: 'oNeverLoggedIn' },
      { ...good, signature: sessionKeySignature(hank.sessionKey) },
      { ...good, signature: '' },
      { ...good, sig_method: 'sha1' },
    ]) {
      expect((await checkSession(params)).body.errcode).toBe(87009);
    }
  });
});

describe('POST /dev/werun', () => {
  const days = [
    { date: '2026-12-02', steps: 12_345 },
    { date: '2026-12-01', steps: 8000 },
  ];

  it("encrypts the days as wx.getWeRunData does, with the user's latest session_key", async () => {
    const { sessionKey } = await exchangeAtSimulator(sim.url, 'ivan');
    const before = Math.floor(Date.now() / 1000);
    const payload = await werunPayload(sim.url, 'ivan', days);
    const decrypted = decryptWeChatData({ sessionKey, appId: SIMULATOR_APPID, ...payload });
    expect(decrypted.ok).toBe(true);
    if (!decrypted.ok) return;
    expect(decrypted.data.stepInfoList).toEqual([
      { timestamp: Date.parse('2026-12-01T00:00:00+08:00') / 1000, step: 8000 },
      { timestamp: Date.parse('2026-12-02T00:00:00+08:00') / 1000, step: 12_345 },
    ]);
    expect(decrypted.data.watermark).toEqual({ timestamp: expect.any(Number), appid: SIMULATOR_APPID });
    expect((decrypted.data.watermark as { timestamp: number }).timestamp).toBeGreaterThanOrEqual(before - 1);
  });

  it('after a new login, a payload made earlier no longer decrypts with the new session_key, and a fresh one does', async () => {
    const first = await exchangeAtSimulator(sim.url, 'judy');
    const old = await werunPayload(sim.url, 'judy', days);
    const second = await exchangeAtSimulator(sim.url, 'judy');
    expect(decryptWeChatData({ sessionKey: second.sessionKey, appId: SIMULATOR_APPID, ...old }).ok).toBe(false);
    expect(decryptWeChatData({ sessionKey: first.sessionKey, appId: SIMULATOR_APPID, ...old }).ok).toBe(true);
    const fresh = await werunPayload(sim.url, 'judy', days);
    expect(decryptWeChatData({ sessionKey: second.sessionKey, appId: SIMULATOR_APPID, ...fresh }).ok).toBe(true);
  });

  it('400 with what to do when the user never logged in (no session_key yet)', async () => {
    const response = await fetch(`${base}/dev/werun`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'never-logged-in', days }) });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toMatch(/never-logged-in.*no session_key.*log in first/);
  });

  const dayOf = (i: number) => new Date(Date.UTC(2026, 10, 1 + i)).toISOString().slice(0, 10);
  it.each([
    ['a date that does not exist', { days: [{ date: '2026-02-30', steps: 1 }] }, /days\.0\.date: a calendar date/],
    ['negative steps', { days: [{ date: '2026-12-01', steps: -1 }] }, /days\.0\.steps/],
    ['a date twice', { days: [{ date: '2026-12-01', steps: 1 }, { date: '2026-12-01', steps: 2 }] }, /days\.1\.date: 2026-12-01 is listed twice/],
    ['no days', { days: [] }, /^days:/],
    ['32 days', { days: Array.from({ length: 32 }, (_, i) => ({ date: dayOf(i), steps: 1 })) }, /^days: WeChat hands out at most 31 days/],
  ])('refuses %s with a 400 naming the field', async (_label, body, message) => {
    await exchangeAtSimulator(sim.url, 'kim');
    const response = await fetch(`${base}/dev/werun`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'kim', ...body }) });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toMatch(message);
  });
});

describe('faults aimed per API, and the counters', () => {
  it('a fault queued for one API leaves the others alone, and is used once', async () => {
    const token = await freshToken();
    await queueFaults(sim.url, { count: 1, api: 'getuserphonenumber', errcode: 45011 });
    expect((await simulatorStats(sim.url)).queuedFaults).toBe(1);
    expect((await stableToken()).body.access_token).toBe(token);
    expect((await checkSession({ access_token: token, openid: 'o', signature: 'x', sig_method: 'hmac_sha256' })).body.errcode).toBe(87009);
    await exchangeAtSimulator(sim.url, 'leo');
    expect((await phoneNumber(token, { code: 'x' })).body.errcode).toBe(45011);
    expect((await phoneNumber(token, { code: 'x' })).body.errcode).toBe(40029);
    expect((await simulatorStats(sim.url)).queuedFaults).toBe(0);
  });

  it('each API takes an errcode, a raw body or an HTTP status; no api means jscode2session', async () => {
    await queueFaults(sim.url, { count: 1, api: 'stable_token', errcode: -1 });
    await queueFaults(sim.url, { count: 1, api: 'checksession', status: 502 });
    await queueFaults(sim.url, { count: 1, api: 'getuserphonenumber', body: '<html>busy</html>' });
    await queueFaults(sim.url, { count: 1, errcode: 40226 });
    expect((await stableToken()).body.errcode).toBe(-1);
    expect((await fetch(`${base}/wxa/checksession`)).status).toBe(502);
    const raw = await fetch(`${base}/wxa/business/getuserphonenumber`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(await raw.text()).toBe('<html>busy</html>');
    const { code } = (await (await fetch(`${base}/dev/login`, { method: 'POST' })).json()) as { code: string };
    const login = await fetch(`${base}/sns/jscode2session?${new URLSearchParams({ appid: SIMULATOR_APPID, secret: SIMULATOR_SECRET, js_code: code, grant_type: 'authorization_code' })}`);
    expect(((await login.json()) as Answer).errcode).toBe(40226);
  });

  it('a faulted call is answered by the fault alone: the request behind it has no effect (the phone code still works)', async () => {
    const token = await freshToken();
    const code = await mintPhoneCode(sim.url, 'nina', '13500135000');
    for (const fault of [{ status: 500, body: 'Internal Server Error' }, { errcode: -1 }, { body: '{"truncated' }]) {
      await queueFaults(sim.url, { count: 1, api: 'getuserphonenumber', ...fault });
      const answer = await fetch(`${base}/wxa/business/getuserphonenumber?access_token=${token}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
      expect(await answer.text()).not.toContain('13500135000');
    }
    expect((await phoneNumber(token, { code })).body.phone_info).toMatchObject({ purePhoneNumber: '13500135000' });
  });

  it('DELETE /dev/faults clears every queue', async () => {
    await queueFaults(sim.url, { count: 3, api: 'stable_token', errcode: -1 });
    await queueFaults(sim.url, { count: 2, api: 'checksession', errcode: -1 });
    await queueFaults(sim.url, { count: 1, errcode: -1 });
    expect((await simulatorStats(sim.url)).queuedFaults).toBe(6);
    await clearFaults(sim.url);
    expect((await simulatorStats(sim.url)).queuedFaults).toBe(0);
    expect((await stableToken()).body.access_token).toBeTypeOf('string');
  });

  it('refuses an unknown api with a 400 naming it', async () => {
    const response = await fetch(`${base}/dev/faults`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ count: 1, api: 'getWeRunData' }) });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toMatch(/^api:/);
  });

  it('counts stable_token, getuserphonenumber and checksession calls (faulted ones too), next to exchanges', async () => {
    const before = await simulatorStats(sim.url);
    const token = await freshToken();
    await queueFaults(sim.url, { count: 1, api: 'checksession', errcode: -1 });
    await checkSession({ access_token: token, openid: 'o', signature: 'x', sig_method: 'hmac_sha256' });
    await checkSession({ access_token: token, openid: 'o', signature: 'x', sig_method: 'hmac_sha256' });
    await phoneNumber(token, { code: 'x' });
    await exchangeAtSimulator(sim.url, 'mia');
    const after = await simulatorStats(sim.url);
    expect(after).toMatchObject({
      stableTokenCalls: before.stableTokenCalls + 1,
      checkSessionCalls: before.checkSessionCalls + 2,
      phoneCalls: before.phoneCalls + 1,
      exchanges: before.exchanges + 1,
      queuedFaults: 0,
    });
    expect(after.liveCodes).toBeGreaterThanOrEqual(1);
  });
});
