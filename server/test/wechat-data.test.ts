import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SESSION_KEY_CHECK_INTERVAL_MS } from '../src/wechat-data/session-key.ts';
import { createClient, expectTRPCError, loginAs, mintCode, startTestServer, type TestServer } from './support/server.ts';
import { startServerProcess, type ServerProcess } from './support/server-process.ts';
import { clearFaults, exchangeAtSimulator, expireAccessToken, mintPhoneCode, queueFaults, simulatorStats, werunPayload } from './support/wechat-sim.ts';

let clock = Date.now();
let server: TestServer;
beforeAll(async () => {
  // A short WeChat timeout so the delay faults below stay quick; a settable clock for the 10-minute memo.
  server = await startTestServer({ WECHAT_TIMEOUT_MS: '400' }, { now: () => clock });
});
afterAll(() => server.close());

let seq = 0;
const user = (base: string) => `${base}-${++seq}`;
const days = (...steps: number[]) => steps.map((s, i) => ({ date: `2026-11-${String(20 + i).padStart(2, '0')}`, steps: s }));

describe('bindPhone', () => {
  it('stores the number and answers the masked one; the full number never leaves the server', async () => {
    const name = user('phone');
    const login = await loginAs(server.url, name);
    const client = createClient(server.url, login.token);
    const profile = await client.bindPhone.mutate({ code: await mintPhoneCode(server.url, name, '13800138000') });
    expect(profile).toMatchObject({ id: login.user.id, phone: '138****8000' });
    expect((await client.getProfile.query()).phone).toBe('138****8000');
    expect(await server.db.query('SELECT phone_e164 AS e164 FROM users WHERE id = ?', login.user.id)).toEqual([{ e164: '+8613800138000' }]);
  });

  it('a used or unknown code is phone_code_invalid (400) with what to do', async () => {
    const name = user('phone');
    const client = createClient(server.url, (await loginAs(server.url, name)).token);
    const code = await mintPhoneCode(server.url, name, '13900139000');
    await client.bindPhone.mutate({ code });
    for (const bad of [code, 'never-issued-code']) {
      const error = await expectTRPCError(client.bindPhone.mutate({ code: bad }));
      expect(error.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400, reason: 'phone_code_invalid' });
      expect(error.message).toMatch(/tap/i);
    }
  });

  it('needs a session', async () => {
    const error = await expectTRPCError(createClient(server.url).bindPhone.mutate({ code: 'x' }));
    expect(error.data).toMatchObject({ code: 'UNAUTHORIZED', reason: 'missing' });
  });
});

describe('the access_token manager', () => {
  it('50 concurrent bindPhone calls with an empty token cache make exactly 1 stable_token call', async () => {
    const fresh = await startTestServer();
    try {
      const callers = await Promise.all(
        Array.from({ length: 50 }, async (_, i) => {
          const name = `cold-${i}`;
          const login = await loginAs(fresh.url, name);
          return { client: createClient(fresh.url, login.token), code: await mintPhoneCode(fresh.url, name, `1380013${String(i).padStart(4, '0')}`) };
        }),
      );
      expect((await simulatorStats(fresh.url)).stableTokenCalls).toBe(0);
      const results = await Promise.all(callers.map((c) => c.client.bindPhone.mutate({ code: c.code })));
      expect(results.every((p) => p.phone?.startsWith('138****'))).toBe(true);
      expect((await simulatorStats(fresh.url)).stableTokenCalls).toBe(1);
    } finally {
      await fresh.close();
    }
  });

  it('an expired token (42001) is refreshed once and the call succeeds', async () => {
    const name = user('expiry');
    const client = createClient(server.url, (await loginAs(server.url, name)).token);
    await client.bindPhone.mutate({ code: await mintPhoneCode(server.url, name, '13700137000') });
    const before = await simulatorStats(server.url);
    await expireAccessToken(server.url);
    const profile = await client.bindPhone.mutate({ code: await mintPhoneCode(server.url, name, '13700137001') });
    expect(profile.phone).toBe('137****7001');
    const after = await simulatorStats(server.url);
    expect(after.stableTokenCalls - before.stableTokenCalls).toBe(1);
    expect(after.phoneCalls - before.phoneCalls).toBe(2); // refused once, then answered
  });

  it('is kept sealed in the database, never in plain text', async () => {
    const [row] = await server.db.query<{ t: string }>('SELECT token_enc AS t FROM access_tokens');
    expect(row?.t).toMatch(/^v1\./);
  });
});

describe('faults on each WeChat API map to the contract reasons in bounded time', () => {
  const cases: Array<[string, Parameters<typeof queueFaults>[1], string, number]> = [
    ['getuserphonenumber -1', { count: 1, api: 'getuserphonenumber', errcode: -1 }, 'wechat_unavailable', 503],
    ['getuserphonenumber 45011', { count: 1, api: 'getuserphonenumber', errcode: 45011 }, 'rate_limited', 429],
    ['getuserphonenumber HTTP 500', { count: 1, api: 'getuserphonenumber', status: 500 }, 'wechat_unavailable', 503],
    ['getuserphonenumber an HTML body', { count: 1, api: 'getuserphonenumber', body: '<html>busy</html>' }, 'wechat_unavailable', 503],
    ['getuserphonenumber slower than the timeout', { count: 1, api: 'getuserphonenumber', delayMs: 2_000 }, 'wechat_unavailable', 503],
    ['getuserphonenumber 48001 (no permission)', { count: 1, api: 'getuserphonenumber', errcode: 48001 }, 'wechat_config', 500],
  ];

  it.each(cases)('%s → %s', async (_label, fault, reason, status) => {
    const name = user('fault');
    const client = createClient(server.url, (await loginAs(server.url, name)).token);
    await client.bindPhone.mutate({ code: await mintPhoneCode(server.url, name, '13600136000') }); // token cached
    await queueFaults(server.url, fault);
    const started = performance.now();
    const error = await expectTRPCError(client.bindPhone.mutate({ code: await mintPhoneCode(server.url, name, '13600136001') }));
    expect(error.data).toMatchObject({ reason, httpStatus: status });
    expect(performance.now() - started).toBeLessThan(1_500); // WECHAT_TIMEOUT_MS is 400
    await clearFaults(server.url);
  });

  it('stable_token refusing our credentials (40013) → wechat_config (500), and a later call recovers', async () => {
    const fresh = await startTestServer();
    try {
      const client = createClient(fresh.url, (await loginAs(fresh.url, 'cfg')).token);
      await queueFaults(fresh.url, { count: 1, api: 'stable_token', errcode: 40013 });
      const error = await expectTRPCError(client.bindPhone.mutate({ code: await mintPhoneCode(fresh.url, 'cfg', '13500135000') }));
      expect(error.data).toMatchObject({ reason: 'wechat_config', httpStatus: 500 });
      expect((await client.bindPhone.mutate({ code: await mintPhoneCode(fresh.url, 'cfg', '13500135000') })).phone).toBe('135****5000');
    } finally {
      await fresh.close();
    }
  });
});

describe('WeRun: data encrypted with session_key', () => {
  it('syncWeRun decrypts and stores the days; getWeRun answers them newest first', async () => {
    const name = user('steps');
    const client = createClient(server.url, (await loginAs(server.url, name)).token);
    const out = await client.syncWeRun.mutate(await werunPayload(server.url, name, days(8000, 9500, 12000)));
    expect(out).toEqual({ days: 3, latest: { date: '2026-11-22', steps: 12000 } });
    expect(await client.getWeRun.query()).toEqual({
      days: [
        { date: '2026-11-22', steps: 12000 },
        { date: '2026-11-21', steps: 9500 },
        { date: '2026-11-20', steps: 8000 },
      ],
    });
    // A later sync updates a day.
    await client.syncWeRun.mutate(await werunPayload(server.url, name, [{ date: '2026-11-22', steps: 15000 }]));
    expect((await client.getWeRun.query()).days[0]).toEqual({ date: '2026-11-22', steps: 15000 });
  });

  it('session_key rotation: after a second login, data encrypted for the first is session_key_stale; fresh data works', async () => {
    const name = user('rotate');
    await loginAs(server.url, name);
    const old = await werunPayload(server.url, name, days(1000));
    const second = await loginAs(server.url, name);
    const client = createClient(server.url, second.token);
    const error = await expectTRPCError(client.syncWeRun.mutate(old));
    expect(error.data).toMatchObject({ code: 'UNAUTHORIZED', httpStatus: 401, reason: 'session_key_stale' });
    expect(error.message).toMatch(/log in again/);
    expect(await client.syncWeRun.mutate(await werunPayload(server.url, name, days(2000)))).toMatchObject({ days: 1 });
  });

  it('tampered data is session_key_stale, never a 500', async () => {
    const name = user('tamper');
    const client = createClient(server.url, (await loginAs(server.url, name)).token);
    const good = await werunPayload(server.url, name, days(5000, 6000));
    const bytes = Buffer.from(good.encryptedData, 'base64');
    bytes[bytes.length - 20] = (bytes[bytes.length - 20] ?? 0) ^ 0x01;
    const variants = [
      { encryptedData: bytes.toString('base64'), iv: good.iv },
      { encryptedData: good.encryptedData, iv: Buffer.alloc(16, 7).toString('base64') },
      { encryptedData: good.encryptedData.slice(0, 24), iv: good.iv },
    ];
    for (const variant of variants) {
      const error = await expectTRPCError(client.syncWeRun.mutate(variant));
      expect(error.data).toMatchObject({ httpStatus: 401, reason: 'session_key_stale' });
    }
    expect((await client.getWeRun.query()).days).toEqual([]);
  });

  it('a password session has no session_key: wechat_required', async () => {
    const account = await createClient(server.url).signUp.mutate({ username: user('pw').replace('-', ''), password: 'password 123' });
    const error = await expectTRPCError(createClient(server.url, account.token).syncWeRun.mutate({ encryptedData: 'AAAA', iv: 'AAAAAAAAAAAAAAAAAAAAAA==' }));
    expect(error.data).toMatchObject({ code: 'BAD_REQUEST', reason: 'wechat_required' });
  });
});

describe('checkSession and a stale session_key', () => {
  it('asks WeChat at most once per session per 10 minutes, and answers session_key_stale once WeChat says so', async () => {
    const name = user('check');
    const login = await loginAs(server.url, name);
    const client = createClient(server.url, login.token);
    const before = (await simulatorStats(server.url)).checkSessionCalls;
    // Just logged in: the session_key is brand new, nothing to ask.
    expect(await client.checkSession.query()).toMatchObject({ valid: true });
    expect((await simulatorStats(server.url)).checkSessionCalls).toBe(before);

    clock += SESSION_KEY_CHECK_INTERVAL_MS + 1000;
    expect(await client.checkSession.query()).toMatchObject({ valid: true });
    expect(await client.checkSession.query()).toMatchObject({ valid: true });
    expect((await simulatorStats(server.url)).checkSessionCalls).toBe(before + 1);

    // The user's session_key changes at WeChat without this server (e.g. wx.login elsewhere): ours is stale.
    await exchangeAtSimulator(server.url, name);
    expect(await client.checkSession.query()).toMatchObject({ valid: true }); // remembered for 10 minutes
    clock += SESSION_KEY_CHECK_INTERVAL_MS + 1000;
    expect(await client.checkSession.query()).toEqual({ valid: false, reason: 'session_key_stale' });
    expect(await client.checkSession.query()).toEqual({ valid: false, reason: 'session_key_stale' });
    expect((await simulatorStats(server.url)).checkSessionCalls).toBe(before + 2);

    // A new login brings a new session_key: valid again.
    const again = await loginAs(server.url, name);
    expect(await createClient(server.url, again.token).checkSession.query()).toMatchObject({ valid: true });
  });

  it('when WeChat cannot answer, the session is not called stale', async () => {
    const name = user('check-fault');
    const client = createClient(server.url, (await loginAs(server.url, name)).token);
    clock += SESSION_KEY_CHECK_INTERVAL_MS + 1000;
    await queueFaults(server.url, { count: 1, api: 'checksession', errcode: -1 });
    expect(await client.checkSession.query()).toMatchObject({ valid: true });
    await clearFaults(server.url);
  });

  it('password sessions are never asked about', async () => {
    const account = await createClient(server.url).signUp.mutate({ username: user('pwcheck').replace('-', ''), password: 'password 123' });
    const before = (await simulatorStats(server.url)).checkSessionCalls;
    clock += SESSION_KEY_CHECK_INTERVAL_MS + 1000;
    expect(await createClient(server.url, account.token).checkSession.query()).toMatchObject({ valid: true });
    expect((await simulatorStats(server.url)).checkSessionCalls).toBe(before);
  });
});

describe('two server processes on one SQLite file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wxkit-two-processes-'));
  const processes: ServerProcess[] = [];
  afterAll(async () => {
    await Promise.all(processes.map((p) => p.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('refreshing the access_token at once: 1 stable_token call between them', { timeout: 60_000 }, async () => {
    const a = await startServerProcess({ DATABASE_PATH: join(dir, 'app.db') });
    processes.push(a);
    // B uses A's simulator as its WeChat, so both count at one place.
    const b = await startServerProcess({ DATABASE_PATH: join(dir, 'app.db'), WECHAT_API_BASE: `${a.url}/__wechat` });
    processes.push(b);

    const callers = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const target = i % 2 === 0 ? a : b;
        const name = `two-${i}`;
        const login = await createClient(target.url).login.mutate({ code: await mintCode(a.url, name) });
        return { client: createClient(target.url, login.token), code: await mintPhoneCode(a.url, name, `1390013${String(i).padStart(4, '0')}`) };
      }),
    );
    const results = await Promise.all(callers.map((c) => c.client.bindPhone.mutate({ code: c.code })));
    expect(results.every((p) => p.phone?.startsWith('139****'))).toBe(true);
    expect((await simulatorStats(a.url)).stableTokenCalls).toBe(1);
  });
});
