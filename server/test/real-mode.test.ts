import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIMULATOR_APPID } from '../src/wechat/simulator.ts';
import { createClient, expectTRPCError, mintCode, SIMULATOR_SECRET, startTestServer, type TestServer } from './support/server.ts';

const JWT_SECRET = 'real-mode-jwt-secret-0123456789-abcdefghijkl';

// "WeChat" is another server's simulator, reached over HTTP through WECHAT_API_BASE, as api.weixin.qq.com would be.
let wechat: TestServer;
let real: TestServer;
let misconfigured: TestServer;
beforeAll(async () => {
  wechat = await startTestServer();
  const base = { WECHAT_APPID: SIMULATOR_APPID, WECHAT_API_BASE: `${wechat.url}/__wechat`, JWT_SECRET };
  real = await startTestServer({ ...base, WECHAT_SECRET: SIMULATOR_SECRET });
  misconfigured = await startTestServer({ ...base, WECHAT_SECRET: 'not-the-app-secret-of-this-appid' });
});
afterAll(async () => {
  await Promise.all([real.close(), misconfigured.close()]);
  await wechat.close();
});

describe('real mode (WECHAT_APPID and WECHAT_SECRET set)', () => {
  it('exchanges codes with the configured WeChat API and logs the user in', async () => {
    expect(real.config.wechat.kind).toBe('real');
    const code = await mintCode(wechat.url, 'alice');
    const login = await createClient(real.url).login.mutate({ code });
    expect(login.isNewUser).toBe(true);
    expect(await createClient(real.url, login.token).getProfile.query()).toEqual(login.user);
  });

  it('has no simulator: /__wechat paths answer 404', async () => {
    for (const [method, path] of [['POST', '/__wechat/dev/login'], ['GET', '/__wechat/sns/jscode2session'], ['POST', '/__wechat/dev/faults']] as const) {
      expect((await fetch(`${real.url}${path}`, { method })).status).toBe(404);
    }
  });

  it('answers wechat_config (500) when WeChat rejects our AppSecret, without naming it', async () => {
    const error = await expectTRPCError(createClient(misconfigured.url).login.mutate({ code: await mintCode(wechat.url, 'bob') }));
    expect(error.data).toMatchObject({ code: 'INTERNAL_SERVER_ERROR', httpStatus: 500, reason: 'wechat_config' });
    expect(error.message).not.toContain('not-the-app-secret-of-this-appid');
    expect(misconfigured.logs.join('')).toMatch(/WeChat rejected our credentials/);
    expect(misconfigured.logs.join('')).not.toContain('not-the-app-secret-of-this-appid');
  });
});
