import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { z } from 'zod';
import { encryptWeChatData, sessionKeySignature } from './encrypted-data.ts';
import { wechatApis, type WeChatApi } from './errors.ts';
import { weRunTimestamp } from './werun.ts';

/**
 * A stand-in for WeChat's server API (code2Session, access tokens, getPhoneNumber, checkSessionKey) and for the
 * mini-program's side of it (wx.login, the getPhoneNumber button, wx.getWeRunData), speaking WeChat's wire format
 * over real HTTP: errors are HTTP 200 with `{ errcode, errmsg }`. Mounted at `/__wechat` in simulator mode only.
 *
 * access_token semantics (WeChat's, as documented for getStableAccessToken / getAccessToken):
 * - `POST /cgi-bin/stable_token`, normal mode: the same token while it is valid; in its last 5 minutes, or once it
 *   expired, a new one (an old one in its last 5 minutes stays valid until it expires).
 * - `force_refresh: true`: a new token; every earlier stable token answers 40001 ("not latest") from then on.
 *   WeChat's limit of 20 forced refreshes a day, 30 s apart, is not simulated.
 * - `GET /cgi-bin/token`: a new token on every call, isolated from the stable ones; the previous one keeps
 *   working for at most 5 more minutes.
 * - `POST /dev/expire-access-token`: every token issued so far answers 42001 from then on.
 */
export interface SimulatorOptions {
  appId: string;
  secret: string;
  /** For tests: how long a login code lives. WeChat: 5 minutes. */
  codeTtlMs?: number;
  /** WeChat allows 100 exchanges a minute per user. */
  ratePerMinute?: number;
  /** For tests: how long an access_token lives. WeChat: 7200 s. */
  accessTokenTtlSeconds?: number;
  /** For tests: how long a getPhoneNumber code lives. WeChat: 5 minutes. */
  phoneCodeTtlMs?: number;
}

export const SIMULATOR_APPID = 'wxsimulator0000000';

interface Fault {
  errcode?: number | undefined;
  delayMs?: number | undefined;
  status?: number | undefined;
  body?: string | undefined;
}

const faultInput = z.object({
  count: z.number().int().min(1).max(1000),
  api: z.enum(wechatApis).optional(),
  errcode: z.number().int().optional(),
  delayMs: z.number().int().min(0).max(120_000).optional(),
  status: z.number().int().min(100).max(599).optional(),
  body: z.string().max(1_000_000).optional(),
});

const userName = z.string().min(1).max(64).regex(/^[\w.@-]+$/, 'use letters, digits, _ . @ -');

const devLoginInput = z.object({ user: userName.optional() }).optional();

const devPhoneCodeInput = z
  .object({
    user: userName.optional(),
    phone: z.string().regex(/^\d{4,15}$/, 'digits only, without the country code, e.g. "13800138000"'),
    countryCode: z
      .union([z.string(), z.number().int()])
      .transform(String)
      .pipe(z.string().regex(/^[1-9]\d{0,3}$/, '1 to 4 digits without "+", e.g. "86"'))
      .optional(),
  })
  .refine((input) => (input.countryCode ?? '86') !== '86' || /^1[3-9]\d{9}$/.test(input.phone), {
    path: ['phone'],
    message: 'a mainland China mobile number has 11 digits and starts with 13–19, e.g. "13800138000"',
  });

const devWeRunInput = z.object({
  user: userName.optional(),
  days: z
    .array(
      z.object({
        date: z.string().refine((date) => weRunTimestamp(date) !== undefined, 'a calendar date as YYYY-MM-DD, e.g. "2026-12-01"'),
        steps: z.number().int().min(0).max(1_000_000),
      }),
    )
    .min(1)
    .max(31, 'WeChat hands out at most 31 days'),
});

const optionalString = z.string().optional().catch(undefined);

const jscode2sessionQuery = z.object({
  appid: optionalString,
  secret: optionalString,
  js_code: optionalString,
  grant_type: optionalString,
});

const credentialQuery = z.object({ appid: optionalString, secret: optionalString, grant_type: optionalString });

const accessTokenQuery = z.object({ access_token: optionalString });

const checkSessionQuery = z.object({
  access_token: optionalString,
  openid: optionalString,
  signature: optionalString,
  sig_method: optionalString,
});

function stableId(prefix: string, ...parts: string[]): string {
  return prefix + createHash('sha256').update(parts.join('\0')).digest('base64url').slice(0, 27);
}

const MAX_LIVE_CODES = 100_000;
const MAX_REMEMBERED_TOKENS = 10_000;
/** WeChat hands out a new token in the old one's last 5 minutes, and keeps both valid meanwhile. */
const TOKEN_OVERLAP_MS = 5 * 60_000;

interface IssuedToken {
  kind: 'stable' | 'classic';
  expiresAt: number;
  /** superseded: a forced refresh replaced it (40001); expired: `dev/expire-access-token` (42001). */
  state: 'live' | 'superseded' | 'expired';
}

interface PhoneCode {
  user: string;
  phone: string;
  countryCode: string;
  expiresAt: number;
  used: boolean;
}

export const wechatSimulator: FastifyPluginAsync<SimulatorOptions> = async (app, options) => {
  const codeTtlMs = options.codeTtlMs ?? 5 * 60_000;
  const ratePerMinute = options.ratePerMinute ?? 100;
  const tokenTtlMs = (options.accessTokenTtlSeconds ?? 7200) * 1000;
  const phoneCodeTtlMs = options.phoneCodeTtlMs ?? 5 * 60_000;
  const codes = new Map<string, { user: string; expiresAt: number; used: boolean }>();
  const phoneCodes = new Map<string, PhoneCode>();
  const exchangesByUser = new Map<string, number[]>();
  /** Each openid's latest session_key: a new code exchange replaces it, as on WeChat. */
  const sessionKeys = new Map<string, string>();
  const tokens = new Map<string, IssuedToken>();
  let currentStable: string | undefined;
  let currentClassic: string | undefined;
  let tokenSerial = 0;
  const faults = new Map<WeChatApi, Fault[]>(wechatApis.map((api) => [api, []]));
  const stats = { exchanges: 0, stableTokenCalls: 0, tokenCalls: 0, phoneCalls: 0, checkSessionCalls: 0 };

  const openidFor = (user: string) => stableId('o', options.appId, 'openid', user);
  const unionidFor = (user: string) => stableId('u', 'unionid', user);

  function sweep<T extends { expiresAt: number }>(map: Map<string, T>, now: number) {
    for (const [key, entry] of map) {
      if (entry.expiresAt > now) break; // insertion order is expiry order
      map.delete(key);
    }
    while (map.size > MAX_LIVE_CODES) map.delete(map.keys().next().value as string);
  }

  function issueToken(kind: IssuedToken['kind'], now: number): string {
    // Shaped like WeChat's: a serial, an underscore, then opaque text (WeChat asks for 512 characters of room).
    const token = `${++tokenSerial}_${randomBytes(96).toString('base64url')}`;
    tokens.set(token, { kind, expiresAt: now + tokenTtlMs, state: 'live' });
    while (tokens.size > MAX_REMEMBERED_TOKENS) tokens.delete(tokens.keys().next().value as string);
    return token;
  }

  const tokenAnswer = (token: string, now: number) => ({
    access_token: token,
    expires_in: Math.max(1, Math.floor(((tokens.get(token)?.expiresAt ?? now) - now) / 1000)),
  });

  /** WeChat's checks of an access_token passed in the query: missing 41001, unknown or replaced 40001, expired 42001. */
  function tokenProblem(token: string | undefined, now: number) {
    if (!token) return wechatError(41001, 'access_token missing');
    const issued = tokens.get(token);
    if (!issued || issued.state === 'superseded') return wechatError(40001, 'invalid credential, access_token is invalid or not latest');
    if (issued.state === 'expired' || issued.expiresAt <= now) return wechatError(42001, 'access_token expired');
    return undefined;
  }

  /** The credential checks shared by jscode2session, stable_token and token. */
  function credentialProblem(input: { appid?: string | undefined; secret?: string | undefined; grant_type?: string | undefined }, grantType: string) {
    if (!input.appid) return wechatError(41002, 'appid missing');
    if (!input.secret) return wechatError(41004, 'appsecret missing');
    if (input.appid !== options.appId) return wechatError(40013, 'invalid appid');
    if (input.secret !== options.secret) return wechatError(40125, 'invalid appsecret');
    if (input.grant_type !== grantType) return wechatError(40002, 'invalid grant_type');
    return undefined;
  }

  /**
   * Applies the next fault queued for `api`: `{ answer }` to return instead, or undefined to answer normally. The
   * answer is wrapped because a FastifyReply is thenable: awaiting it would wait for the response to finish.
   */
  async function faulted(api: WeChatApi, reply: FastifyReply): Promise<{ answer: unknown } | undefined> {
    const fault = faults.get(api)?.shift();
    if (!fault) return undefined;
    if (fault.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    if (fault.status !== undefined || fault.body !== undefined) {
      return {
        answer: reply
          .code(fault.status ?? 200)
          .type(fault.body !== undefined ? 'text/html; charset=utf-8' : 'application/json')
          .send(fault.body ?? JSON.stringify({ errcode: -1, errmsg: 'system error' })),
      };
    }
    if (fault.errcode !== undefined) return { answer: wechatError(fault.errcode, errmsgs[fault.errcode] ?? 'simulated fault') };
    return undefined;
  }

  const badInput = (reply: FastifyReply, error: z.ZodError) => {
    const issue = error.issues[0];
    return reply.code(400).send({ error: `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}` });
  };

  // ---- the mini-program's side (dev helpers, not WeChat's API) ----

  app.post('/dev/login', async (request, reply) => {
    const parsed = devLoginInput.safeParse(request.body ?? undefined);
    if (!parsed.success) {
      return reply.code(400).send({ error: `user: ${parsed.error.issues[0]?.message ?? 'invalid'}; send {"user":"alice"} or no body` });
    }
    const user = parsed.data?.user ?? 'dev-user';
    const now = Date.now();
    sweep(codes, now);
    const code = randomBytes(24).toString('base64url').slice(0, 32);
    codes.set(code, { user, expiresAt: now + codeTtlMs, used: false });
    return { code };
  });

  /** Stands in for `<Button openType="getPhoneNumber">`: a single-use code for getuserphonenumber. */
  app.post('/dev/phone-code', async (request, reply) => {
    const parsed = devPhoneCodeInput.safeParse(request.body);
    if (!parsed.success) return badInput(reply, parsed.error);
    const now = Date.now();
    sweep(phoneCodes, now);
    const code = randomBytes(32).toString('hex');
    const { user = 'dev-user', phone, countryCode = '86' } = parsed.data;
    phoneCodes.set(code, { user, phone, countryCode, expiresAt: now + phoneCodeTtlMs, used: false });
    return { code };
  });

  /** Stands in for wx.getWeRunData: the given days, encrypted with the user's latest session_key. */
  app.post('/dev/werun', async (request, reply) => {
    const parsed = devWeRunInput.safeParse(request.body);
    if (!parsed.success) return badInput(reply, parsed.error);
    const user = parsed.data.user ?? 'dev-user';
    const sessionKey = sessionKeys.get(openidFor(user));
    if (!sessionKey) {
      return reply.code(400).send({
        error: `user "${user}" has no session_key yet: log in first (POST /__wechat/dev/login, then the app's login), then ask again`,
      });
    }
    const byTimestamp = new Map<number, number>();
    for (const [index, day] of parsed.data.days.entries()) {
      const timestamp = weRunTimestamp(day.date) as number;
      if (byTimestamp.has(timestamp)) return reply.code(400).send({ error: `days.${index}.date: ${day.date} is listed twice` });
      byTimestamp.set(timestamp, day.steps);
    }
    const stepInfoList = [...byTimestamp].sort(([a], [b]) => a - b).map(([timestamp, step]) => ({ timestamp, step }));
    return encryptWeChatData({ sessionKey, appId: options.appId, data: { stepInfoList }, timestamp: Math.floor(Date.now() / 1000) });
  });

  app.post('/dev/faults', async (request, reply) => {
    const parsed = faultInput.safeParse(request.body);
    if (!parsed.success) return badInput(reply, parsed.error);
    const { count, api = 'jscode2session', ...fault } = parsed.data;
    const queue = faults.get(api) ?? [];
    for (let i = 0; i < count; i++) queue.push(fault);
    faults.set(api, queue);
    return { api, queued: queue.length };
  });

  app.delete('/dev/faults', async () => {
    for (const queue of faults.values()) queue.length = 0;
    return { queued: 0 };
  });

  /** Makes every access_token issued so far answer 42001, as WeChat does once one expired. */
  app.post('/dev/expire-access-token', async () => {
    let expired = 0;
    const now = Date.now();
    for (const issued of tokens.values()) {
      if (issued.state === 'live' && issued.expiresAt > now) {
        issued.state = 'expired';
        expired++;
      }
    }
    return { expired };
  });

  /** Not in WeChat: lets tests count how many calls reached "WeChat". */
  app.get('/dev/stats', async () => ({
    exchanges: stats.exchanges,
    liveCodes: codes.size,
    queuedFaults: [...faults.values()].reduce((sum, queue) => sum + queue.length, 0),
    stableTokenCalls: stats.stableTokenCalls,
    tokenCalls: stats.tokenCalls,
    phoneCalls: stats.phoneCalls,
    checkSessionCalls: stats.checkSessionCalls,
  }));

  // ---- WeChat's server API ----

  app.get('/sns/jscode2session', async (request, reply) => {
    stats.exchanges++;
    const fault = await faulted('jscode2session', reply);
    if (fault) return fault.answer;

    const q = jscode2sessionQuery.parse(request.query);
    if (!q.appid) return wechatError(41002, 'appid missing');
    if (!q.secret) return wechatError(41004, 'appsecret missing');
    if (!q.js_code) return wechatError(41008, 'missing code');
    const problem = credentialProblem(q, 'authorization_code');
    if (problem) return problem;

    const now = Date.now();
    const entry = codes.get(q.js_code);
    if (!entry || entry.expiresAt <= now) return wechatError(40029, 'invalid code');
    if (entry.used) return wechatError(40163, 'code been used');

    const recent = (exchangesByUser.get(entry.user) ?? []).filter((t) => t > now - 60_000);
    if (recent.length >= ratePerMinute) {
      exchangesByUser.set(entry.user, recent);
      return wechatError(45011, 'api minute-quota reach limit');
    }
    recent.push(now);
    exchangesByUser.set(entry.user, recent);
    entry.used = true;

    const openid = openidFor(entry.user);
    const sessionKey = randomBytes(16).toString('base64');
    sessionKeys.set(openid, sessionKey);
    return { openid, session_key: sessionKey, unionid: unionidFor(entry.user) };
  });

  app.post('/cgi-bin/stable_token', async (request, reply) => {
    stats.stableTokenCalls++;
    const fault = await faulted('stable_token', reply);
    if (fault) return fault.answer;

    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return wechatError(47001, 'data format error');
    const b = body as Record<string, unknown>;
    const text = (value: unknown) => (typeof value === 'string' ? value : undefined);
    const problem = credentialProblem({ appid: text(b.appid), secret: text(b.secret), grant_type: text(b.grant_type) }, 'client_credential');
    if (problem) return problem;
    if (b.force_refresh !== undefined && typeof b.force_refresh !== 'boolean') return wechatError(47001, 'data format error: force_refresh');

    const now = Date.now();
    const current = currentStable === undefined ? undefined : tokens.get(currentStable);
    if (b.force_refresh === true) {
      for (const issued of tokens.values()) if (issued.kind === 'stable' && issued.state === 'live') issued.state = 'superseded';
    } else if (currentStable !== undefined && current?.state === 'live' && current.expiresAt - now > TOKEN_OVERLAP_MS) {
      return tokenAnswer(currentStable, now);
    }
    currentStable = issueToken('stable', now);
    return tokenAnswer(currentStable, now);
  });

  app.get('/cgi-bin/stable_token', async () => wechatError(43002, 'require POST method'));

  app.get('/cgi-bin/token', async (request) => {
    stats.tokenCalls++;
    const problem = credentialProblem(credentialQuery.parse(request.query), 'client_credential');
    if (problem) return problem;
    const now = Date.now();
    const previous = currentClassic === undefined ? undefined : tokens.get(currentClassic);
    if (previous) previous.expiresAt = Math.min(previous.expiresAt, now + TOKEN_OVERLAP_MS);
    currentClassic = issueToken('classic', now);
    return tokenAnswer(currentClassic, now);
  });

  app.post('/wxa/business/getuserphonenumber', async (request, reply) => {
    stats.phoneCalls++;
    const fault = await faulted('getuserphonenumber', reply);
    if (fault) return fault.answer;

    const now = Date.now();
    const problem = tokenProblem(accessTokenQuery.parse(request.query).access_token, now);
    if (problem) return problem;
    const body = request.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return wechatError(47001, 'data format error');
    const { code, openid } = body as Record<string, unknown>;
    if (typeof code !== 'string' || code === '') return wechatError(41008, 'missing code');
    const entry = phoneCodes.get(code);
    if (!entry || entry.used || entry.expiresAt <= now) return wechatError(40029, 'invalid code');
    // The optional openid must be the code's user (WeChat checks the binding when it is given).
    if (openid !== undefined && openid !== openidFor(entry.user)) return wechatError(40029, 'invalid code');
    entry.used = true;

    return {
      errcode: 0,
      errmsg: 'ok',
      phone_info: {
        // WeChat: "phoneNumber" carries the country code for numbers outside mainland China.
        phoneNumber: entry.countryCode === '86' ? entry.phone : `+${entry.countryCode}${entry.phone}`,
        purePhoneNumber: entry.phone,
        countryCode: entry.countryCode,
        watermark: { timestamp: Math.floor(now / 1000), appid: options.appId },
      },
    };
  });

  // Its query carries the openid (and a signature), which the app's URL redaction does not cover: no request log.
  app.get('/wxa/checksession', { logLevel: 'warn' }, async (request, reply) => {
    stats.checkSessionCalls++;
    const fault = await faulted('checksession', reply);
    if (fault) return fault.answer;

    const q = checkSessionQuery.parse(request.query);
    const problem = tokenProblem(q.access_token, Date.now());
    if (problem) return problem;
    const sessionKey = q.openid ? sessionKeys.get(q.openid) : undefined;
    if (!sessionKey || q.sig_method !== 'hmac_sha256' || !q.signature || !sameHex(q.signature, sessionKeySignature(sessionKey))) {
      return wechatError(87009, 'invalid signature');
    }
    return { errcode: 0, errmsg: 'ok' };
  });
};

function sameHex(given: string, expected: string): boolean {
  const a = Buffer.from(given.toLowerCase(), 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

const errmsgs: Record<number, string> = {
  [-1]: 'system error',
  40001: 'invalid credential, access_token is invalid or not latest',
  40013: 'invalid appid',
  40014: 'invalid access_token',
  40029: 'invalid code',
  40125: 'invalid appsecret',
  40163: 'code been used',
  40164: 'invalid ip, not in whitelist',
  40226: 'high risk user',
  42001: 'access_token expired',
  45011: 'api minute-quota reach limit',
  87009: 'invalid signature',
};

function wechatError(errcode: number, errmsg: string) {
  // WeChat answers errors with HTTP 200 and a JSON body.
  return { errcode, errmsg: `${errmsg}, rid: ${randomBytes(6).toString('hex')}` };
}
