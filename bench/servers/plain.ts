/**
 * Baseline: a plain Fastify route doing the work of getProfile / checkSession without tRPC, as the issue defines it:
 * the bearer token verified by jose on every call (HS256, the key imported once, no cache of verified tokens), the session row and, for getProfile,
 * the joined profile our Profile needs (users + password_credentials + wechat_identities), each read by primary key
 * through a better-sqlite3 prepared statement on today's schema (WAL, the same pragmas as ours), and the same JSON
 * answered (the envelope our client's batch request gets). `POST /fixture/login` makes a user and a session and
 * answers a token; it is only used before a measurement. Bundled by bench/run.mjs and started as its own process.
 */
import { randomBytes, randomUUID, webcrypto } from 'node:crypto';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { jwtVerify, SignJWT } from 'jose';
import { openBenchDb } from './bench-db.ts';

const TTL_MS = 7 * 24 * 3600_000;
const KEY_CHECK_INTERVAL_MS = 10 * 60_000;

const database = openBenchDb('wxkit-bench-plain-');
const { sqlite } = database;

// Imported into WebCrypto once (jose 6 would re-import a KeyObject on every call).
const key = await webcrypto.subtle.importKey('raw', randomBytes(48), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);

interface SessionRow {
  user_id: string;
  expires_at: number;
  revoked_at: number | null;
  method: string;
  wechat_checked_at: number | null;
  wechat_check_valid: number | null;
}
interface ProfileRow {
  id: string;
  nickname: string | null;
  avatar_url: string | null;
  phone_masked: string | null;
  created_at: number;
  username: string | null;
  wechat_bound: number;
}
const sessionById = sqlite.prepare<[string], SessionRow>(
  'select user_id, expires_at, revoked_at, method, wechat_checked_at, wechat_check_valid from sessions where id = ?',
);
const profileById = sqlite.prepare<[string], ProfileRow>(
  `select u.id, u.nickname, u.avatar_url, u.phone_masked, u.created_at, c.username, (w.openid is not null) as wechat_bound
   from users u left join password_credentials c on c.user_id = u.id left join wechat_identities w on w.user_id = u.id
   where u.id = ?`,
);

type Auth = { ok: true; sid: string; session: SessionRow } | { ok: false; reason: string };

async function authenticate(header: string | undefined): Promise<Auth> {
  if (!header?.startsWith('Bearer ')) return { ok: false, reason: header ? 'invalid' : 'missing' };
  let sub: string;
  let sid: string;
  try {
    const { payload } = await jwtVerify(header.slice(7), key, { algorithms: ['HS256'], issuer: 'wxkit', audience: 'wxkit-client', requiredClaims: ['sub', 'sid', 'exp'] });
    sub = payload.sub as string;
    sid = payload.sid as string;
  } catch (error) {
    return { ok: false, reason: (error as { code?: string }).code === 'ERR_JWT_EXPIRED' ? 'expired' : 'invalid' };
  }
  const session = sessionById.get(sid);
  if (!session || session.user_id !== sub) return { ok: false, reason: 'invalid' };
  if (session.revoked_at !== null) return { ok: false, reason: 'revoked' };
  if (session.expires_at <= Date.now()) return { ok: false, reason: 'expired' };
  return { ok: true, sid, session };
}

const unauthorized = (reply: FastifyReply, reason: string) =>
  reply.code(401).send([{ error: { message: 'Not logged in', code: -32001, data: { code: 'UNAUTHORIZED', httpStatus: 401, reason } } }]);

const app = Fastify();

app.get('/plain/getProfile', async (request: FastifyRequest, reply: FastifyReply) => {
  const auth = await authenticate(request.headers.authorization);
  if (!auth.ok) return unauthorized(reply, auth.reason);
  const row = profileById.get(auth.session.user_id);
  if (!row) return unauthorized(reply, 'invalid');
  const profile = {
    id: row.id,
    nickname: row.nickname,
    avatarUrl: row.avatar_url,
    createdAt: new Date(row.created_at).toISOString(),
    username: row.username,
    wechatBound: row.wechat_bound === 1,
    phone: row.phone_masked,
  };
  return [{ result: { data: profile } }];
});

app.get('/plain/checkSession', async (request: FastifyRequest) => {
  const auth = await authenticate(request.headers.authorization);
  if (!auth.ok) return [{ result: { data: { valid: false, reason: auth.reason } } }];
  const s = auth.session;
  const fresh = s.wechat_checked_at !== null && Date.now() - s.wechat_checked_at < KEY_CHECK_INTERVAL_MS;
  if (s.method === 'wechat' && fresh && s.wechat_check_valid === 0) return [{ result: { data: { valid: false, reason: 'session_key_stale' } } }];
  return [{ result: { data: { valid: true, expiresAt: new Date(s.expires_at).toISOString(), userId: s.user_id } } }];
});

const insertUser = sqlite.prepare('insert into users (id, created_at, updated_at) values (?, ?, ?)');
const insertIdentity = sqlite.prepare('insert into wechat_identities (openid, user_id, created_at, updated_at) values (?, ?, ?, ?)');
const insertSession = sqlite.prepare(
  "insert into sessions (id, user_id, method, created_at, expires_at, wechat_checked_at, wechat_check_valid) values (?, ?, 'wechat', ?, ?, ?, 1)",
);
app.post('/fixture/login', async () => {
  const now = Date.now();
  const userId = randomUUID();
  const sid = randomBytes(18).toString('base64url');
  sqlite.transaction(() => {
    insertUser.run(userId, now, now);
    insertIdentity.run(`o${randomBytes(12).toString('base64url')}`, userId, now, now);
    insertSession.run(sid, userId, now, now + TTL_MS, now);
  })();
  const token = await new SignJWT({ sid })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(userId)
    .setIssuer('wxkit')
    .setAudience('wxkit-client')
    .setIssuedAt(Math.floor(now / 1000))
    .setExpirationTime(Math.ceil((now + 4 * TTL_MS) / 1000))
    .sign(key);
  return { token };
});

const address = await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.stdout.write(`bench server ready: ${address}\n`);

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    void app.close().finally(() => {
      database.remove();
      process.exit(0);
    });
  });
}
