import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SIMULATOR_APPID } from '../../src/wechat/simulator.ts';
import { configError } from '../support/config-error.ts';
import {
  allLogLines,
  createClient,
  expectTRPCError,
  findLeaks,
  issuedSecrets,
  mintCode,
  queueFaults,
  responseBodies,
  SIMULATOR_SECRET,
  startTestServer,
  type TestServer,
} from '../support/server.ts';
import { hardeningEnv, JWT_SECRET, trpcGet, trpcPost } from './support.ts';

// Suite 6 (issue 6): one file drives the whole flow (vitest runs each file in its own worker, so the scan covers
// exactly the traffic made here): simulator mode and real mode (a real-mode server calling a simulator over HTTP as
// it would call WeChat), at trace level, through logins, replays, every WeChat fault, every auth failure, bad input
// and logout. Then every response body, every log line and the decoded payload of every token is scanned for the
// openid / unionid / session_key values the simulator issued, the AppSecrets and the JWT secrets.

const REAL_JWT_SECRET = 'real-mode-jwt-secret-abcdefghijklmnopqrstuvwxyz-0123';
const WRONG_APP_SECRET = 'wrong-app-secret-never-printed-42';
const serverDir = fileURLToPath(new URL('../..', import.meta.url));

let simulatorSide: TestServer;
let realMode: TestServer;
let misconfigured: TestServer;

beforeAll(async () => {
  simulatorSide = await startTestServer(hardeningEnv({ LOG_LEVEL: 'trace' }));
  const realEnv = {
    WECHAT_APPID: SIMULATOR_APPID,
    WECHAT_API_BASE: `${simulatorSide.url}/__wechat`,
    LOG_LEVEL: 'trace',
    LOGIN_RATE_LIMIT_PER_MINUTE: '100000',
  };
  realMode = await startTestServer({ ...realEnv, WECHAT_SECRET: SIMULATOR_SECRET, JWT_SECRET: REAL_JWT_SECRET });
  misconfigured = await startTestServer({ ...realEnv, WECHAT_SECRET: WRONG_APP_SECRET, JWT_SECRET: REAL_JWT_SECRET });
});
afterAll(async () => {
  await Promise.all([realMode.close(), misconfigured.close()]);
  await simulatorSide.close();
});

/** The whole life of a user against one server; returns how many requests it made. */
async function exercise(server: TestServer, user: string) {
  const login = async () => createClient(server.url).login.mutate({ code: await mintCode(simulatorSide.url, user) });
  const first = await login();
  const second = await login();
  const client = createClient(server.url, second.token);
  await client.getProfile.query();
  await client.checkSession.query();
  await client.updateProfile.mutate({ nickname: `n-${user}`, avatarUrl: 'https://example.com/a.png' });
  await expectTRPCError(client.updateProfile.mutate({ nickname: '' }));

  // The same code twice (replay), then a fresh code against each WeChat fault, each retried once.
  const code = await mintCode(simulatorSide.url, user);
  await Promise.all([createClient(server.url).login.mutate({ code }), createClient(server.url).login.mutate({ code })]);
  for (const fault of [{ errcode: -1 }, { errcode: 40029 }, { errcode: 40163 }, { errcode: 40226 }, { errcode: 45011 }, { errcode: 40125 }, { errcode: 12345 }, { status: 502 }, { body: '<html>busy</html>' }, { body: '{"openid":"o' }]) {
    await queueFaults(simulatorSide.url, { count: 1, ...fault });
    const faultCode = await mintCode(simulatorSide.url, user);
    await expectTRPCError(createClient(server.url).login.mutate({ code: faultCode }));
    await expectTRPCError(createClient(server.url).login.mutate({ code: faultCode }));
  }

  // Auth failures of every kind.
  const [header, payload, signature] = second.token.split('.');
  await expectTRPCError(createClient(server.url, `${header}.${payload}x.${signature}`).getProfile.query());
  await expectTRPCError(createClient(server.url, 'garbage').getProfile.query());
  await expectTRPCError(createClient(server.url).getProfile.query());
  await trpcGet(server.url, 'getProfile', { headers: { authorization: `bearer ${first.token}` } });

  // A sample of generated bad input.
  await fc.assert(
    fc.asyncProperty(fc.jsonValue(), async (input) => {
      await trpcPost(server.url, 'login', { body: JSON.stringify(input) });
      await trpcPost(server.url, 'updateProfile', { body: JSON.stringify(input), headers: { authorization: `Bearer ${second.token}` } });
    }),
    { numRuns: 100 },
  );

  await client.logout.mutate();
  await expectTRPCError(client.getProfile.query());
  await createClient(server.url, first.token).logout.mutate();
}

/** Every JWT-shaped string in the response bodies, decoded: a token must not carry a secret either, even encoded. */
function decodedTokens(): string[] {
  const decoded: string[] = [];
  for (const body of responseBodies) {
    for (const token of body.match(/eyJ[\w-]+\.[\w-]+\.[\w-]*/g) ?? []) {
      const [h, p] = token.split('.');
      decoded.push(`${Buffer.from(h ?? '', 'base64url').toString('utf8')} ${Buffer.from(p ?? '', 'base64url').toString('utf8')}`);
    }
  }
  return decoded;
}

const secrets = () => [SIMULATOR_SECRET, JWT_SECRET, REAL_JWT_SECRET, WRONG_APP_SECRET];

describe('no secret in any response, log line or token of the whole flow', () => {
  it('simulator mode and real mode, at trace level', { timeout: 120_000 }, async () => {
    await exercise(simulatorSide, 'secret-sim');
    await exercise(realMode, 'secret-real');

    // Real mode with a wrong AppSecret: the client hears "configuration", the log names no value.
    const error = await expectTRPCError(createClient(misconfigured.url).login.mutate({ code: await mintCode(simulatorSide.url, 'secret-misconfigured') }));
    expect(error.data?.reason).toBe('wechat_config');
    expect(error.message).not.toContain(WRONG_APP_SECRET);
    // …and the operators, told to check the log, find the errcode there (at error level).
    expect(misconfigured.logs.filter((line) => line.includes('"level":50')).join('\n')).toMatch(/"errcode":40125.*WECHAT_APPID \/ WECHAT_SECRET/);

    // Real mode hides the simulator.
    expect((await fetch(`${realMode.url}/__wechat/dev/stats`)).status).toBe(404);
  });

  it('the scan has something to find: the simulator issued openids, unionids and session_keys', () => {
    // 2 users, at least 2 distinct session_keys each, plus one openid and one unionid per user.
    expect(issuedSecrets.size).toBeGreaterThanOrEqual(8);
    expect(responseBodies.length).toBeGreaterThan(500);
    expect(allLogLines.length).toBeGreaterThan(1000);
    expect(decodedTokens().length).toBeGreaterThanOrEqual(8);
  });

  it('the scan would catch a leak (a planted openid, a planted JWT secret)', () => {
    const openid = [...issuedSecrets].find((s) => s.startsWith('o'));
    expect(openid).toBeDefined();
    responseBodies.push(`{"planted":"${openid}"}`);
    allLogLines.push(`{"msg":"planted ${REAL_JWT_SECRET}"}`);
    try {
      expect(findLeaks(secrets())).toHaveLength(2);
    } finally {
      responseBodies.pop();
      allLogLines.pop();
    }
  });

  it('finds zero hits in response bodies, log lines and decoded tokens', () => {
    expect(findLeaks(secrets()).map((text) => text.slice(0, 300))).toEqual([]);
    const needles = [...issuedSecrets, ...secrets()];
    expect(decodedTokens().filter((text) => needles.some((needle) => text.includes(needle)))).toEqual([]);
  });
});

describe("real mode's configuration errors never echo a secret", () => {
  const APP_SECRET = 'app-secret-value-that-must-not-print-0001';
  const SHORT_JWT = 'short-jwt-secret-0002';
  const GOOD_JWT = 'good-jwt-secret-long-enough-0123456789-0003';
  const combos: Array<Record<string, string>> = [
    { WECHAT_SECRET: APP_SECRET },
    { WECHAT_SECRET: APP_SECRET, JWT_SECRET: GOOD_JWT },
    { WECHAT_APPID: 'wx123', WECHAT_SECRET: APP_SECRET },
    { WECHAT_APPID: 'wx123', WECHAT_SECRET: APP_SECRET, JWT_SECRET: SHORT_JWT },
    { WECHAT_APPID: 'wx123', WECHAT_SECRET: APP_SECRET, JWT_SECRET: GOOD_JWT, WECHAT_API_BASE: `ftp://${APP_SECRET}` },
    { WECHAT_APPID: 'wx123', WECHAT_SECRET: APP_SECRET, JWT_SECRET: GOOD_JWT, PORT: APP_SECRET, LOG_LEVEL: GOOD_JWT },
    { WECHAT_APPID: APP_SECRET, JWT_SECRET: SHORT_JWT, SESSION_TTL_SECONDS: GOOD_JWT, WECHAT_TIMEOUT_MS: SHORT_JWT },
  ];

  it('parseConfig: every problem line names the variable, never the value', () => {
    for (const env of combos) {
      const error = configError(env);
      expect(error.message).not.toMatch(new RegExp([APP_SECRET, SHORT_JWT, GOOD_JWT].join('|')));
      for (const line of error.problems) {
        expect(line).toMatch(/^[A-Z_]+: /);
        for (const secret of [APP_SECRET, SHORT_JWT, GOOD_JWT]) expect(line).not.toContain(secret);
      }
    }
  });

  it('the real entry point prints the problems to stderr and exits 1, without the values', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      cwd: serverDir,
      env: { PATH: process.env.PATH ?? '', DATABASE_PATH: ':memory:', PORT: APP_SECRET, WECHAT_APPID: 'wx123', WECHAT_SECRET: APP_SECRET, JWT_SECRET: SHORT_JWT, WECHAT_API_BASE: `ftp://${GOOD_JWT}` },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/PORT: /);
    expect(run.stderr).toMatch(/JWT_SECRET: is too short/);
    expect(run.stderr).toMatch(/WECHAT_API_BASE: /);
    for (const secret of [APP_SECRET, SHORT_JWT, GOOD_JWT]) expect(run.stderr + run.stdout).not.toContain(secret);
  });
});
