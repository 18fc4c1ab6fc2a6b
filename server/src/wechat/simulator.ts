import { createHash, randomBytes } from 'node:crypto';
import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';

/**
 * A stand-in for WeChat's `auth.code2Session` and `wx.login`, speaking WeChat's wire format over real HTTP.
 * It is mounted at `/__wechat` in simulator mode only.
 */
export interface SimulatorOptions {
  appId: string;
  secret: string;
  /** For tests: how long a code lives. WeChat: 5 minutes. */
  codeTtlMs?: number;
  /** WeChat allows 100 exchanges a minute per user. */
  ratePerMinute?: number;
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
  errcode: z.number().int().optional(),
  delayMs: z.number().int().min(0).max(120_000).optional(),
  status: z.number().int().min(100).max(599).optional(),
  body: z.string().max(1_000_000).optional(),
});

const devLoginInput = z
  .object({ user: z.string().min(1).max(64).regex(/^[\w.@-]+$/, 'use letters, digits, _ . @ -').optional() })
  .optional();

const jscode2sessionQuery = z.object({
  appid: z.string().optional(),
  secret: z.string().optional(),
  js_code: z.string().optional(),
  grant_type: z.string().optional(),
});

function stableId(prefix: string, ...parts: string[]): string {
  return prefix + createHash('sha256').update(parts.join('\0')).digest('base64url').slice(0, 27);
}

const MAX_LIVE_CODES = 100_000;

export const wechatSimulator: FastifyPluginAsync<SimulatorOptions> = async (app, options) => {
  const codeTtlMs = options.codeTtlMs ?? 5 * 60_000;
  const ratePerMinute = options.ratePerMinute ?? 100;
  const codes = new Map<string, { user: string; expiresAt: number; used: boolean }>();
  const exchangesByUser = new Map<string, number[]>();
  const faults: Fault[] = [];
  let exchanges = 0;

  const openidFor = (user: string) => stableId('o', options.appId, 'openid', user);
  const unionidFor = (user: string) => stableId('u', 'unionid', user);

  function sweep(now: number) {
    for (const [code, entry] of codes) {
      if (entry.expiresAt > now) break; // insertion order is expiry order
      codes.delete(code);
    }
    while (codes.size > MAX_LIVE_CODES) codes.delete(codes.keys().next().value as string);
  }

  app.post('/dev/login', async (request, reply) => {
    const parsed = devLoginInput.safeParse(request.body ?? undefined);
    if (!parsed.success) {
      return reply.code(400).send({ error: `user: ${parsed.error.issues[0]?.message ?? 'invalid'}; send {"user":"alice"} or no body` });
    }
    const user = parsed.data?.user ?? 'dev-user';
    const now = Date.now();
    sweep(now);
    const code = randomBytes(24).toString('base64url').slice(0, 32);
    codes.set(code, { user, expiresAt: now + codeTtlMs, used: false });
    return { code };
  });

  app.post('/dev/faults', async (request, reply) => {
    const parsed = faultInput.safeParse(request.body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      return reply.code(400).send({ error: `${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}` });
    }
    const { count, ...fault } = parsed.data;
    for (let i = 0; i < count; i++) faults.push(fault);
    return { queued: faults.length };
  });

  app.delete('/dev/faults', async () => {
    faults.length = 0;
    return { queued: 0 };
  });

  /** Not in WeChat: lets tests count how many exchanges reached "WeChat". */
  app.get('/dev/stats', async () => ({ exchanges, liveCodes: codes.size, queuedFaults: faults.length }));

  app.get('/sns/jscode2session', async (request, reply) => {
    exchanges++;
    const fault = faults.shift();
    if (fault?.delayMs) await new Promise((resolve) => setTimeout(resolve, fault.delayMs));
    if (fault && (fault.status !== undefined || fault.body !== undefined)) {
      return reply
        .code(fault.status ?? 200)
        .type(fault.body !== undefined ? 'text/html; charset=utf-8' : 'application/json')
        .send(fault.body ?? JSON.stringify({ errcode: -1, errmsg: 'system error' }));
    }
    if (fault?.errcode !== undefined) return wechatError(fault.errcode, errmsgs[fault.errcode] ?? 'simulated fault');

    const q = jscode2sessionQuery.parse(request.query);
    if (!q.appid) return wechatError(41002, 'appid missing');
    if (!q.secret) return wechatError(41004, 'appsecret missing');
    if (!q.js_code) return wechatError(41008, 'missing code');
    if (q.appid !== options.appId) return wechatError(40013, 'invalid appid');
    if (q.secret !== options.secret) return wechatError(40125, 'invalid appsecret');
    if (q.grant_type !== 'authorization_code') return wechatError(40002, 'invalid grant_type');

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

    return {
      openid: openidFor(entry.user),
      session_key: randomBytes(16).toString('base64'),
      unionid: unionidFor(entry.user),
    };
  });
};

const errmsgs: Record<number, string> = {
  [-1]: 'system error',
  40029: 'invalid code',
  40163: 'code been used',
  40226: 'high risk user',
  45011: 'api minute-quota reach limit',
};

function wechatError(errcode: number, errmsg: string) {
  // WeChat answers errors with HTTP 200 and a JSON body.
  return { errcode, errmsg: `${errmsg}, rid: ${randomBytes(6).toString('hex')}` };
}
