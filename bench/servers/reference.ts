/**
 * The "straightforward" reference: the same procedures and outputs as our server, on today's schema, written the way
 * the libraries' docs show, with none of our hot-path work. Stock tRPC fastify adapter; context built per request in
 * `createContext`; jose `jwtVerify` with the raw secret bytes (jose imports the key on every call); drizzle's query
 * builder (the SQL is rebuilt on every call); WeChat reached over HTTP with fetch: the simulator at `WECHAT_API_BASE`
 * (a separate process in the bench) or, without it, mounted in this process.
 * Not reproduced, as the bench never reaches them: code replays and cross-process claims, sliding sessions, and
 * checkSession re-asking WeChat once its 10-minute answer is old (the answer stored at login is used).
 * Bundled by bench/run.mjs with esbuild and started as its own process.
 */
import { createCipheriv, createHash, hkdfSync, randomBytes, randomUUID } from 'node:crypto';
import { initTRPC, TRPCError } from '@trpc/server';
import { fastifyTRPCPlugin, type CreateFastifyContextOptions } from '@trpc/server/adapters/fastify';
import { checkSessionOutput, getProfileOutput, loginInput, loginOutput } from '@wxkit/shared';
import { eq } from 'drizzle-orm';
import Fastify from 'fastify';
import { jwtVerify, SignJWT } from 'jose';
import { passwordCredentials, sessions, users, wechatIdentities } from '../../server/src/db/schema.ts';
import { wechatSimulator } from '../../server/src/wechat/simulator.ts';
import { openBenchDb } from './bench-db.ts';

const APPID = process.env.WECHAT_APPID || 'wxreference000000';
const APPSECRET = process.env.WECHAT_SECRET || 'reference-secret';
const TTL_SECONDS = 7 * 24 * 3600;
const KEY_CHECK_INTERVAL_MS = 10 * 60_000;

const database = openBenchDb('wxkit-bench-reference-');
const { db } = database;

const secret = randomBytes(48).toString('base64url');
// WeChat's session_key is kept sealed (AES-256-GCM), as the security model requires of any implementation.
const sealKey = Buffer.from(hkdfSync('sha256', Buffer.from(secret), Buffer.alloc(0), 'session_key', 32));
function seal(plaintext: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', sealKey, iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [iv, ciphertext, cipher.getAuthTag()].map((b) => b.toString('base64url')).join('.');
}

type Auth =
  | { valid: true; userId: string; sessionId: string; expiresAt: number; stale: boolean }
  | { valid: false; reason: 'missing' | 'invalid' | 'expired' | 'revoked' };

async function authenticate(header: string | undefined): Promise<Auth> {
  if (!header) return { valid: false, reason: 'missing' };
  if (!header.startsWith('Bearer ')) return { valid: false, reason: 'invalid' };
  let sub: string;
  let sid: string;
  try {
    const { payload } = await jwtVerify(header.slice(7), new TextEncoder().encode(secret), { issuer: 'wxkit', audience: 'wxkit-client' });
    sub = payload.sub as string;
    sid = payload.sid as string;
  } catch (error) {
    return { valid: false, reason: (error as { code?: string }).code === 'ERR_JWT_EXPIRED' ? 'expired' : 'invalid' };
  }
  const session = db.select().from(sessions).where(eq(sessions.id, sid)).get();
  if (!session || session.userId !== sub) return { valid: false, reason: 'invalid' };
  if (session.revokedAt !== null) return { valid: false, reason: 'revoked' };
  if (session.expiresAt <= Date.now()) return { valid: false, reason: 'expired' };
  const checkedRecently = session.wechatCheckedAt !== null && Date.now() - session.wechatCheckedAt < KEY_CHECK_INTERVAL_MS;
  const stale = session.method === 'wechat' && checkedRecently && session.wechatCheckValid === false;
  return { valid: true, userId: session.userId, sessionId: session.id, expiresAt: session.expiresAt, stale };
}

async function createContext({ req }: CreateFastifyContextOptions) {
  return { auth: await authenticate(req.headers.authorization) };
}

const t = initTRPC.context<typeof createContext>().create();

const protectedProcedure = t.procedure.use(({ ctx, next }) => {
  if (!ctx.auth.valid) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'Not logged in' });
  return next({ ctx: { auth: ctx.auth } });
});

function profileOf(userId: string) {
  const row = db
    .select({
      id: users.id,
      nickname: users.nickname,
      avatarUrl: users.avatarUrl,
      createdAt: users.createdAt,
      username: passwordCredentials.username,
      openid: wechatIdentities.openid,
      phone: users.phoneMasked,
    })
    .from(users)
    .leftJoin(passwordCredentials, eq(passwordCredentials.userId, users.id))
    .leftJoin(wechatIdentities, eq(wechatIdentities.userId, users.id))
    .where(eq(users.id, userId))
    .get();
  if (!row) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'No such user' });
  return {
    id: row.id,
    nickname: row.nickname,
    avatarUrl: row.avatarUrl,
    createdAt: new Date(row.createdAt).toISOString(),
    username: row.username,
    wechatBound: row.openid !== null,
    phone: row.phone,
  };
}

let wechatBase = process.env.WECHAT_API_BASE ?? '';

const appRouter = t.router({
  login: t.procedure
    .input(loginInput)
    .output(loginOutput)
    .mutation(async ({ input }) => {
      const url = `${wechatBase}/sns/jscode2session?appid=${APPID}&secret=${APPSECRET}&js_code=${encodeURIComponent(input.code)}&grant_type=authorization_code`;
      const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
      const body = (await response.json()) as { openid?: string; session_key?: string; unionid?: string; errcode?: number };
      if (!body.openid || !body.session_key) throw new TRPCError({ code: 'BAD_REQUEST', message: `WeChat errcode ${body.errcode}` });
      const { openid, session_key: sessionKey, unionid } = body;
      const now = Date.now();
      const sessionId = randomBytes(18).toString('base64url');
      const expiresAt = now + TTL_SECONDS * 1000;
      const { userId, isNewUser } = db.transaction((tx) => {
        const identity = tx.select().from(wechatIdentities).where(eq(wechatIdentities.openid, openid)).get();
        let id: string;
        if (identity) {
          id = identity.userId;
          tx.update(wechatIdentities)
            .set({ sessionKeyEnc: seal(sessionKey), sessionKeyAt: now, unionid: unionid ?? identity.unionid, updatedAt: now })
            .where(eq(wechatIdentities.openid, openid))
            .run();
        } else {
          id = randomUUID();
          tx.insert(users).values({ id, createdAt: now, updatedAt: now }).run();
          tx.insert(wechatIdentities)
            .values({ openid, userId: id, unionid: unionid ?? null, sessionKeyEnc: seal(sessionKey), sessionKeyAt: now, createdAt: now, updatedAt: now })
            .run();
        }
        tx.insert(sessions)
          .values({
            id: sessionId,
            userId: id,
            method: 'wechat',
            codeHash: createHash('sha256').update(input.code).digest('base64url'),
            createdAt: now,
            expiresAt,
            wechatCheckedAt: now,
            wechatCheckValid: true,
          })
          .run();
        return { userId: id, isNewUser: !identity };
      });
      const token = await new SignJWT({ sid: sessionId })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(userId)
        .setIssuer('wxkit')
        .setAudience('wxkit-client')
        .setIssuedAt(Math.floor(now / 1000))
        .setExpirationTime(Math.ceil((now + 4 * TTL_SECONDS * 1000) / 1000))
        .sign(new TextEncoder().encode(secret));
      return { token, expiresAt: new Date(expiresAt).toISOString(), isNewUser, user: profileOf(userId) };
    }),

  checkSession: t.procedure.output(checkSessionOutput).query(({ ctx }) => {
    if (!ctx.auth.valid) return { valid: false as const, reason: ctx.auth.reason };
    if (ctx.auth.stale) return { valid: false as const, reason: 'session_key_stale' as const };
    return { valid: true as const, expiresAt: new Date(ctx.auth.expiresAt).toISOString(), userId: ctx.auth.userId };
  }),

  getProfile: protectedProcedure.output(getProfileOutput).query(({ ctx }) => profileOf(ctx.auth.userId)),
});

const app = Fastify({ routerOptions: { maxParamLength: 5000 } });
if (!wechatBase) await app.register(wechatSimulator, { prefix: '/__wechat', appId: APPID, secret: APPSECRET });
await app.register(fastifyTRPCPlugin, { prefix: '/trpc', trpcOptions: { router: appRouter, createContext } });

const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
if (!wechatBase) wechatBase = `${address}/__wechat`;
process.stdout.write(`bench server ready: ${address}\n`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    void app.close().finally(() => {
      database.remove();
      process.exit(0);
    });
  });
}
