import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SIMULATOR_SECRET } from '../src/app.ts';
import { appErrorFromWeChat } from '../src/trpc/app-error.ts';
import type { WeChatClient } from '../src/wechat/client.ts';
import { decryptWeChatData } from '../src/wechat/encrypted-data.ts';
import { reasonForErrcode, WeChatError, type WeChatApi, type WeChatFailureReason } from '../src/wechat/errors.ts';
import { SIMULATOR_APPID } from '../src/wechat/simulator.ts';
import { parseWeRunData } from '../src/wechat/werun.ts';
import { allLogLines, findLeaks, issuedSecrets, mintCode, startTestServer, type TestServer } from './support/server.ts';
import {
  clearFaults,
  expireAccessToken,
  mintPhoneCode,
  queueFaults,
  simulatorStats,
  startBareSimulator,
  wechatClientFor,
  werunPayload,
  type ApiFault,
  type BareSimulator,
} from './support/wechat-sim.ts';

// The app's WeChat client against the simulator over real HTTP: every call, every errcode → reason, in bounded time.

const TIMEOUT_MS = 300;
/** "Does not hang": far above the 300 ms timeout, far below the test timeout. */
const NO_HANG_MS = 5_000;

let sim: BareSimulator;
let client: WeChatClient;
beforeAll(async () => {
  sim = await startBareSimulator();
  client = wechatClientFor(sim.url, { timeoutMs: TIMEOUT_MS });
});
afterAll(async () => {
  client.close();
  await sim.close();
});
beforeEach(() => clearFaults(sim.url));

/** Awaits a call that must fail with a WeChatError, and returns it. */
async function wechatError(call: Promise<unknown>): Promise<WeChatError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof WeChatError) return error;
    throw error;
  }
  throw new Error('expected a WeChatError, but the call succeeded');
}

describe('the calls, against the simulator', () => {
  it('stableToken: a token and its lifetime; force_refresh replaces it', async () => {
    const first = await client.stableToken();
    expect(first.accessToken).toMatch(/^\d+_/);
    expect(first.expiresInSeconds).toBeGreaterThan(7000);
    expect((await client.stableToken({ forceRefresh: false })).accessToken).toBe(first.accessToken);
    const forced = await client.stableToken({ forceRefresh: true });
    expect(forced.accessToken).not.toBe(first.accessToken);
  });

  it('getPhoneNumber: phone_info with the watermark', async () => {
    const { accessToken } = await client.stableToken();
    const before = Math.floor(Date.now() / 1000);
    const info = await client.getPhoneNumber(accessToken, await mintPhoneCode(sim.url, 'alice', '13800138000'));
    expect(info).toEqual({
      phoneNumber: '13800138000',
      purePhoneNumber: '13800138000',
      countryCode: '86',
      watermarkAppId: SIMULATOR_APPID,
      watermarkTimestamp: expect.any(Number),
    });
    expect(info.watermarkTimestamp).toBeGreaterThanOrEqual(before - 1);
  });

  it('getPhoneNumber: a countryCode sent as a number (as in WeChat\'s doc example) reads as a string', async () => {
    await queueFaults(sim.url, {
      count: 1,
      api: 'getuserphonenumber',
      body: JSON.stringify({ errcode: 0, errmsg: 'ok', phone_info: { phoneNumber: '13800138000', purePhoneNumber: '13800138000', countryCode: 86, watermark: { timestamp: 1637744274, appid: 'wxother' } } }),
    });
    const info = await client.getPhoneNumber('any-token', 'any-code');
    expect(info.countryCode).toBe('86');
    expect(info.watermarkAppId).toBe('wxother'); // the caller compares it with our AppID
  });

  it('checkSessionKey: valid for the latest session_key, { valid: false } for one a newer login replaced', async () => {
    const { accessToken } = await client.stableToken();
    const first = await client.code2Session(await mintCode(sim.url, 'bob'));
    expect(await client.checkSessionKey(accessToken, first.openid, first.sessionKey)).toEqual({ valid: true });
    const second = await client.code2Session(await mintCode(sim.url, 'bob'));
    expect(second.openid).toBe(first.openid);
    expect(await client.checkSessionKey(accessToken, first.openid, first.sessionKey)).toEqual({ valid: false });
    expect(await client.checkSessionKey(accessToken, second.openid, second.sessionKey)).toEqual({ valid: true });
  });

  it('WeRun data from the simulator decrypts with the session_key from code2Session to the given days', async () => {
    const { sessionKey } = await client.code2Session(await mintCode(sim.url, 'carol'));
    const days = [
      { date: '2026-11-30', steps: 4_321 },
      { date: '2026-12-01', steps: 8_000 },
    ];
    const decrypted = decryptWeChatData({ sessionKey, appId: SIMULATOR_APPID, ...(await werunPayload(sim.url, 'carol', days)) });
    expect(decrypted.ok).toBe(true);
    if (decrypted.ok) expect(parseWeRunData(decrypted.data)).toEqual({ ok: true, days });
  });

  it('WeChat\'s own refusals map without faults: a used phone code, an expired token, a wrong AppSecret', async () => {
    const { accessToken } = await client.stableToken();
    const code = await mintPhoneCode(sim.url, 'dave', '13900139000');
    await client.getPhoneNumber(accessToken, code);
    expect(await wechatError(client.getPhoneNumber(accessToken, code))).toMatchObject({ reason: 'phone_code_invalid', errcode: 40029, api: 'getuserphonenumber' });

    await expireAccessToken(sim.url);
    expect(await wechatError(client.getPhoneNumber(accessToken, 'x'))).toMatchObject({ reason: 'access_token_invalid', errcode: 42001 });
    expect(await wechatError(client.checkSessionKey(accessToken, 'o', 'k'))).toMatchObject({ reason: 'access_token_invalid', errcode: 42001 });
    const renewed = await client.stableToken();
    expect(renewed.accessToken).not.toBe(accessToken);

    const misconfigured = wechatClientFor(sim.url, { timeoutMs: TIMEOUT_MS, secret: 'not-the-app-secret-0123' });
    try {
      const error = await wechatError(misconfigured.stableToken());
      expect(error).toMatchObject({ reason: 'wechat_config', errcode: 40125, api: 'stable_token' });
      expect(`${error.message} ${error.detail}`).not.toContain('not-the-app-secret-0123');
    } finally {
      misconfigured.close();
    }
  });
});

type Row = [label: string, reason: WeChatFailureReason, fault: Omit<ApiFault, 'count' | 'api'>];

/** The faults every API shares: WeChat busy, rate limited, misconfigured, slow, broken. */
const commonRows: Row[] = [
  ['errcode -1 (system busy)', 'wechat_unavailable', { errcode: -1 }],
  ['errcode 45011 (minute quota)', 'rate_limited', { errcode: 45011 }],
  ['errcode 40013 (invalid appid)', 'wechat_config', { errcode: 40013 }],
  ['errcode 40164 (IP not whitelisted)', 'wechat_config', { errcode: 40164 }],
  ['an unknown errcode', 'wechat_unavailable', { errcode: 99_999 }],
  ['no answer before the timeout', 'wechat_unavailable', { delayMs: TIMEOUT_MS * 6 }],
  ['HTTP 500', 'wechat_unavailable', { status: 500, body: 'Internal Server Error' }],
  ['HTTP 502 with a JSON body', 'wechat_unavailable', { status: 502 }],
  ['HTTP 404', 'wechat_unavailable', { status: 404, body: 'not found' }],
  ['a body that is not JSON', 'wechat_unavailable', { body: '<html><body>502 Bad Gateway</body></html>' }],
  ['truncated JSON', 'wechat_unavailable', { body: '{"errcode":0,"access_tok' }],
  ['JSON that is not an object', 'wechat_unavailable', { body: '[1,2,3]' }],
  ['errcode 0 but the fields missing', 'wechat_unavailable', { body: '{"errcode":0,"errmsg":"ok"}' }],
];

const rowsByApi: Record<Exclude<WeChatApi, 'jscode2session'>, Row[]> = {
  stable_token: [
    ...commonRows,
    ['errcode 40125 (invalid appsecret)', 'wechat_config', { errcode: 40125 }],
    ['errcode 40001 (AppSecret wrong, no token involved)', 'wechat_config', { errcode: 40001 }],
    ['errcode 40002 (invalid grant_type)', 'wechat_config', { errcode: 40002 }],
  ],
  getuserphonenumber: [
    ...commonRows,
    ['errcode 40029 (invalid phone code)', 'phone_code_invalid', { errcode: 40029 }],
    ['errcode 40001 (token not latest)', 'access_token_invalid', { errcode: 40001 }],
    ['errcode 42001 (token expired)', 'access_token_invalid', { errcode: 42001 }],
    ['errcode 40014 (invalid token)', 'access_token_invalid', { errcode: 40014 }],
    ['errcode 48001 (API not permitted)', 'wechat_config', { errcode: 48001 }],
  ],
  checksession: [
    ...commonRows.filter(([label]) => !label.startsWith('errcode 0')), // checksession's success has no fields
    ['errcode 40001 (token not latest)', 'access_token_invalid', { errcode: 40001 }],
    ['errcode 42001 (token expired)', 'access_token_invalid', { errcode: 42001 }],
    ['errcode 40014 (invalid token)', 'access_token_invalid', { errcode: 40014 }],
  ],
};

const callFor: Record<keyof typeof rowsByApi, () => Promise<unknown>> = {
  stable_token: () => client.stableToken(),
  getuserphonenumber: () => client.getPhoneNumber('1_token', 'phone-code'),
  checksession: () => client.checkSessionKey('1_token', 'oOpenid', 'c2Vzc2lvbmtleTEyMzQ1Ng=='),
};

describe('faults aimed at each API map to their reason in bounded time', () => {
  for (const [api, rows] of Object.entries(rowsByApi) as Array<[keyof typeof rowsByApi, Row[]]>) {
    describe(api, () => {
      it.each(rows)('%s → %s', async (_label, reason, fault) => {
        await queueFaults(sim.url, { count: 1, api, ...fault });
        const before = await simulatorStats(sim.url);
        const started = performance.now();
        const error = await wechatError(callFor[api]());
        expect(performance.now() - started).toBeLessThan(NO_HANG_MS);
        expect(error.reason).toBe(reason);
        expect(error.api).toBe(api);
        if (fault.errcode !== undefined) expect(error.errcode).toBe(fault.errcode);
        // The fault was used by this API, not by another.
        expect((await simulatorStats(sim.url)).queuedFaults).toBe(before.queuedFaults - 1);
      });
    });
  }

  it('checksession 87009 is an answer, not a failure', async () => {
    await queueFaults(sim.url, { count: 1, api: 'checksession', errcode: 87009 });
    expect(await client.checkSessionKey('1_token', 'oOpenid', 'c2Vzc2lvbmtleTEyMzQ1Ng==')).toEqual({ valid: false });
  });

  it('a burst of calls against a silent WeChat all answer within the bound', async () => {
    await queueFaults(sim.url, { count: 10, api: 'stable_token', delayMs: TIMEOUT_MS * 6 });
    const started = performance.now();
    const errors = await Promise.all(Array.from({ length: 10 }, () => wechatError(client.stableToken())));
    expect(performance.now() - started).toBeLessThan(NO_HANG_MS);
    expect(errors.map((e) => e.reason)).toEqual(Array(10).fill('wechat_unavailable'));
  });

  it('code2Session keeps its mapping, and a fault without api still aims at it', async () => {
    for (const [errcode, reason] of [
      [40029, 'code_invalid'],
      [40163, 'code_used'],
      [40226, 'user_blocked'],
      [40001, 'wechat_config'],
      [45011, 'rate_limited'],
    ] as const) {
      await queueFaults(sim.url, { count: 1, errcode });
      expect(await wechatError(client.code2Session(await mintCode(sim.url, 'erin')))).toMatchObject({ reason, errcode, api: 'jscode2session' });
    }
  });
});

describe('no secret in an error', () => {
  it("an errmsg echoing the access_token, the AppSecret or the code is redacted from the error's message and detail", async () => {
    const token = `77_${'T'.repeat(120)}`;
    await queueFaults(sim.url, { count: 1, api: 'getuserphonenumber', body: JSON.stringify({ errcode: 40001, errmsg: `bad ${token}` }) });
    const phoneError = await wechatError(client.getPhoneNumber(token, 'phone-code-secret'));
    expect(phoneError.reason).toBe('access_token_invalid');
    expect(phoneError.detail).toContain('[REDACTED]');
    await queueFaults(sim.url, { count: 1, api: 'stable_token', body: JSON.stringify({ errcode: 40125, errmsg: `bad secret ${SIMULATOR_SECRET}` }) });
    const tokenError = await wechatError(client.stableToken());
    await queueFaults(sim.url, { count: 1, api: 'getuserphonenumber', body: JSON.stringify({ errcode: 40029, errmsg: 'bad code phone-code-secret' }) });
    const codeError = await wechatError(client.getPhoneNumber(token, 'phone-code-secret'));
    for (const error of [phoneError, tokenError, codeError]) {
      const text = `${error.message} ${error.detail} ${JSON.stringify(error)}`;
      expect(text).not.toContain(token.slice(3));
      expect(text).not.toContain(SIMULATOR_SECRET);
      expect(text).not.toContain('phone-code-secret');
    }
  });

  it('a malformed phone_info is wechat_unavailable and its detail never quotes the phone number', async () => {
    await queueFaults(sim.url, {
      count: 1,
      api: 'getuserphonenumber',
      body: JSON.stringify({ errcode: 0, phone_info: { phoneNumber: '13812345678', purePhoneNumber: '13812345678', countryCode: '86' } }),
    });
    const error = await wechatError(client.getPhoneNumber('1_token', 'c'));
    expect(error.reason).toBe('wechat_unavailable');
    expect(error.detail).toMatch(/watermark/);
    expect(`${error.message} ${error.detail}`).not.toContain('13812345678');
  });
});

describe('errcode → reason is one table (errors.ts)', () => {
  it.each([
    [40029, 'jscode2session', 'code_invalid'],
    [40029, 'getuserphonenumber', 'phone_code_invalid'],
    [40029, 'stable_token', 'wechat_unavailable'],
    [40001, 'jscode2session', 'wechat_config'],
    [40001, 'stable_token', 'wechat_config'],
    [40001, 'checksession', 'access_token_invalid'],
    [42001, 'getuserphonenumber', 'access_token_invalid'],
    [42001, 'jscode2session', 'wechat_unavailable'],
    [45011, 'checksession', 'rate_limited'],
    [-1, 'stable_token', 'wechat_unavailable'],
    [41004, 'stable_token', 'wechat_config'],
    [41001, 'getuserphonenumber', 'wechat_config'],
  ] as const)('%i from %s → %s', (errcode, api, reason) => {
    expect(reasonForErrcode(errcode, api)).toBe(reason);
  });
});

describe('WeChat failures as tRPC errors (app-error.ts)', () => {
  it('phone_code_invalid is a 400 that says to tap the button again', () => {
    const error = appErrorFromWeChat(new WeChatError('phone_code_invalid', 'errcode 40029', 40029, 'getuserphonenumber'));
    expect(error).toMatchObject({ code: 'BAD_REQUEST', reason: 'phone_code_invalid' });
    expect(error.message).toMatch(/tap .* again/);
  });

  it('access_token_invalid (after the manager\'s one retry) reaches clients as wechat_unavailable, 503', () => {
    const error = appErrorFromWeChat(new WeChatError('access_token_invalid', 'errcode 40001', 40001, 'getuserphonenumber'));
    expect(error).toMatchObject({ code: 'SERVICE_UNAVAILABLE', reason: 'wechat_unavailable' });
    expect(error.message).toMatch(/try again/);
  });

  it('failures of calls other than login do not tell the user to log in again', () => {
    for (const reason of ['wechat_unavailable', 'rate_limited', 'wechat_config'] as const) {
      const login = appErrorFromWeChat(new WeChatError(reason, 'x'));
      const phone = appErrorFromWeChat(new WeChatError(reason, 'x', undefined, 'getuserphonenumber'));
      expect(phone.code).toBe(login.code);
      expect(phone.reason).toBe(reason);
      expect(phone.message).not.toMatch(/log in|login code/i);
    }
  });
});

describe('the leak scan covers access tokens, phone numbers and session_keys in any encoding', () => {
  let server: TestServer;
  let appClient: WeChatClient;
  beforeAll(async () => {
    server = await startTestServer();
    appClient = wechatClientFor(server.url);
  });
  afterAll(async () => {
    appClient.close();
    await server.close();
  });

  it('records what the embedded simulator issued, and finds none of it in responses or logs', async () => {
    const { accessToken } = await appClient.stableToken();
    const phone = await appClient.getPhoneNumber(accessToken, await mintPhoneCode(server.url, 'frank', '13712345678'));
    const login = await appClient.code2Session(await mintCode(server.url, 'frank'));
    expect(await appClient.checkSessionKey(accessToken, login.openid, login.sessionKey)).toEqual({ valid: true });
    await werunPayload(server.url, 'frank', [{ date: '2026-12-01', steps: 1 }]);
    await appClient.getPhoneNumber(accessToken, 'used-or-unknown').catch(() => undefined);

    expect(issuedSecrets).toContain(accessToken);
    expect(issuedSecrets).toContain(phone.phoneNumber);
    expect(issuedSecrets).toContain(login.sessionKey);
    // The simulator's request log lines carry the URL with access_token=: redacted.
    expect(server.logs.some((line) => line.includes('access_token=[REDACTED]'))).toBe(true);
    expect(findLeaks()).toEqual([]);
  });

  it('would catch a leak of each: the access_token, the phone number, a session_key as base64, hex or base64url', async () => {
    const { accessToken } = await appClient.stableToken();
    const phone = await appClient.getPhoneNumber(accessToken, await mintPhoneCode(server.url, 'gina', '13612345678'));
    const { sessionKey } = await appClient.code2Session(await mintCode(server.url, 'gina'));
    const key = Buffer.from(sessionKey, 'base64');
    const planted = [accessToken, phone.purePhoneNumber, sessionKey, key.toString('hex'), key.toString('hex').toUpperCase(), key.toString('base64url')];
    for (const secret of planted) {
      allLogLines.push(`{"msg":"planted ${secret}"}`);
      try {
        expect(findLeaks(), `a planted ${secret.slice(0, 6)}… is found`).toHaveLength(1);
      } finally {
        allLogLines.pop();
      }
    }
    expect(findLeaks()).toEqual([]);
  });
});
