/**
 * The "straightforward" reference: the same procedures and outputs as our server, written the way the libraries'
 * docs show, with none of our hot-path work. Stock tRPC fastify adapter; context built per request in
 * `createContext`; jose `jwtVerify` with the raw secret bytes (jose imports the key on every call); drizzle's query
 * builder (the SQL is rebuilt on every call); the WeChat simulator in-process, reached over HTTP with fetch.
 * Bundled by bench/run.mjs with esbuild and started as its own process.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initTRPC, TRPCError } from '@trpc/server';
import { fastifyTRPCPlugin, type CreateFastifyContextOptions } from '@trpc/server/adapters/fastify';
import { checkSessionOutput, getProfileOutput, loginInput, loginOutput } from '@wxkit/shared';
import Database from 'better-sqlite3';
import { eq } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/better-sqlite3';
import { migrate } from 'drizzle-orm/better-sqlite3/migrator';
import Fastify from 'fastify';
import { jwtVerify, SignJWT } from 'jose';
import { sessions, users } from '../../server/src/db/schema.ts';
import { wechatSimulator } from '../../server/src/wechat/simulator.ts';

const APPID = 'wxreference000000';
const APPSECRET = 'reference-secret';
const TTL_SECONDS = 7 * 24 * 3600;
const migrationsFolder = process.env.MIGRATIONS_FOLDER ?? join(process.cwd(), 'server/drizzle/sqlite');

const dir = mkdtempSync(join(tmpdir(), 'wxkit-bench-reference-'));
const sqlite = new Database(join(dir, 'app.db'));
sqlite.pragma('journal_mode = WAL');
sqlite.pragma('synchronous = NORMAL');
sqlite.pragma('foreign_keys = ON');
const db = drizzle(sqlite);
migrate(db, { migrationsFolder });

const secret = randomBytes(48).toString('base64url');

type Auth = { valid: true; userId: string; sessionId: string; expiresAt: number } | { valid: false; reason: 'missing' | 'invalid' | 'expired' | 'revoked' };

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
  return { valid: true, userId: session.userId, sessionId: session.id, expiresAt: session.expiresAt };
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
    .select({ id: users.id, nickname: users.nickname, avatarUrl: users.avatarUrl, createdAt: users.createdAt })
    .from(users)
    .where(eq(users.id, userId))
    .get();
  if (!row) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'No such user' });
  return { ...row, createdAt: new Date(row.createdAt).toISOString() };
}

let baseUrl = '';

const appRouter = t.router({
  login: t.procedure
    .input(loginInput)
    .output(loginOutput)
    .mutation(async ({ input }) => {
      const url = `${baseUrl}/__wechat/sns/jscode2session?appid=${APPID}&secret=${APPSECRET}&js_code=${encodeURIComponent(input.code)}&grant_type=authorization_code`;
      const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
      const body = (await response.json()) as { openid?: string; session_key?: string; unionid?: string; errcode?: number };
      if (!body.openid || !body.session_key) throw new TRPCError({ code: 'BAD_REQUEST', message: `WeChat errcode ${body.errcode}` });
      const now = Date.now();
      let user = db.select().from(users).where(eq(users.openid, body.openid)).get();
      const isNewUser = !user;
      if (!user) {
        user = db
          .insert(users)
          .values({ id: randomUUID(), openid: body.openid, unionid: body.unionid ?? null, createdAt: now, updatedAt: now })
          .returning()
          .get();
      }
      const sessionId = randomBytes(18).toString('base64url');
      const expiresAt = now + TTL_SECONDS * 1000;
      db.insert(sessions)
        .values({
          id: sessionId,
          userId: user.id,
          sessionKey: body.session_key,
          codeHash: createHash('sha256').update(input.code).digest('base64url'),
          createdAt: now,
          expiresAt,
        })
        .run();
      const token = await new SignJWT({ sid: sessionId })
        .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
        .setSubject(user.id)
        .setIssuer('wxkit')
        .setAudience('wxkit-client')
        .setIssuedAt(Math.floor(now / 1000))
        .setExpirationTime(Math.ceil(expiresAt / 1000))
        .sign(new TextEncoder().encode(secret));
      return {
        token,
        expiresAt: new Date(expiresAt).toISOString(),
        isNewUser,
        user: { id: user.id, nickname: user.nickname, avatarUrl: user.avatarUrl, createdAt: new Date(user.createdAt).toISOString() },
      };
    }),

  checkSession: t.procedure.output(checkSessionOutput).query(({ ctx }) => {
    if (!ctx.auth.valid) return { valid: false as const, reason: ctx.auth.reason };
    return { valid: true as const, expiresAt: new Date(ctx.auth.expiresAt).toISOString(), userId: ctx.auth.userId };
  }),

  getProfile: protectedProcedure.output(getProfileOutput).query(({ ctx }) => profileOf(ctx.auth.userId)),
});

const app = Fastify({ routerOptions: { maxParamLength: 5000 } });
await app.register(wechatSimulator, { prefix: '/__wechat', appId: APPID, secret: APPSECRET });
await app.register(fastifyTRPCPlugin, { prefix: '/trpc', trpcOptions: { router: appRouter, createContext } });

baseUrl = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`bench server ready: ${baseUrl}\n`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    void app.close().finally(() => {
      sqlite.close();
      rmSync(dir, { recursive: true, force: true });
      process.exit(0);
    });
  });
}
