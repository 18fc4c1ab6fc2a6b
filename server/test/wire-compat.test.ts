import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTRPCClient, httpBatchLink, httpLink } from '@trpc/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenService } from '../src/auth/tokens.ts';
import type { AppRouter } from '../src/router.ts';
import { createClient, expectTRPCError, loginAs, mintCode, startTestServer, type TestServer } from './support/server.ts';

/**
 * The fast tRPC handler must be byte-compatible with tRPC's stock fastify adapter. Both serve one SQLite file with
 * one JWT secret, and the fast server exchanges codes with the stock server's simulator, so the same request yields
 * the same answer from both: a resubmitted code even returns the same session and token (the idempotent replay).
 */

const JWT_SECRET = 'wire-compat-secret-wire-compat-secret-0123456789';
/** Connection framing differs on purpose (the fast handler sends content-length, the stock one chunks); the rest must match. */
const FRAMING = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding', 'content-length']);

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

interface WireRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

/** node:http, not fetch: full control of methods, headers and bodies, and the raw answer back. */
function send(base: string, req: WireRequest): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const r = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: req.method,
        path: req.path,
        headers: { ...(req.body !== undefined ? { 'content-length': String(Buffer.byteLength(req.body)) } : {}), ...req.headers },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    r.on('error', reject);
    if (req.body !== undefined) r.write(req.body);
    r.end();
  });
}

function comparable(res: RawResponse) {
  const headers: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(res.headers)) if (!FRAMING.has(name)) headers[name] = value;
  let json: unknown;
  try {
    json = JSON.parse(res.body);
  } catch {
    json = undefined;
  }
  return { status: res.status, headers, body: res.body, json };
}

let dir: string;
let stock: TestServer;
let fast: TestServer;
let token: string;
let otherToken: string;
let expiredToken: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'wxkit-wire-'));
  const env = { DATABASE_PATH: join(dir, 'shared.db'), JWT_SECRET, LOGIN_RATE_LIMIT_PER_MINUTE: '100000' };
  stock = await startTestServer(env, { trpcAdapter: 'stock' });
  fast = await startTestServer({ ...env, WECHAT_API_BASE: `${stock.url}/__wechat` }, { trpcAdapter: 'fast' });
  token = (await loginAs(stock.url, 'wire-alice')).token;
  otherToken = (await loginAs(stock.url, 'wire-bob')).token;
  const login = await loginAs(stock.url, 'wire-carol');
  const claims = JSON.parse(Buffer.from(login.token.split('.')[1] as string, 'base64url').toString('utf8')) as { sid: string };
  expiredToken = await createTokenService(JWT_SECRET).sign({
    userId: login.user.id,
    sessionId: claims.sid,
    issuedAtMs: Date.now() - 7200_000,
    expiresAtMs: Date.now() - 3600_000,
  });
});

afterAll(async () => {
  await fast?.close();
  await stock?.close();
  rmSync(dir, { recursive: true, force: true });
});

const json = { 'content-type': 'application/json' };
const auth = (t: string) => ({ authorization: `Bearer ${t}` });
const q = (value: unknown) => encodeURIComponent(JSON.stringify(value));

/** Requests whose answers do not depend on which server sees them first. `() =>` defers reading tokens until they exist. */
const corpus: Array<[name: string, request: () => WireRequest]> = [
  ['query, no token', () => ({ method: 'GET', path: '/trpc/getProfile' })],
  ['query with a token', () => ({ method: 'GET', path: '/trpc/getProfile', headers: auth(token) })],
  ['query, garbage token', () => ({ method: 'GET', path: '/trpc/getProfile', headers: auth('not.a.token') })],
  ['query, non-Bearer scheme', () => ({ method: 'GET', path: '/trpc/getProfile', headers: { authorization: `Basic ${token}` } })],
  ['query, expired token', () => ({ method: 'GET', path: '/trpc/getProfile', headers: auth(expiredToken) })],
  ['checkSession, no token', () => ({ method: 'GET', path: '/trpc/checkSession' })],
  ['checkSession with a token', () => ({ method: 'GET', path: '/trpc/checkSession', headers: auth(token) })],
  ['checkSession, expired token', () => ({ method: 'GET', path: '/trpc/checkSession', headers: auth(expiredToken) })],
  ['batch of one, as the client sends it', () => ({ method: 'GET', path: `/trpc/getProfile?batch=1&input=${q({})}`, headers: auth(token) })],
  ['batch of two', () => ({ method: 'GET', path: `/trpc/getProfile,checkSession?batch=1&input=${q({})}`, headers: auth(token) })],
  ['batch of two, 207 mixed', () => ({ method: 'GET', path: `/trpc/getProfile,checkSession?batch=1&input=${q({})}` })],
  ['batch with an encoded comma', () => ({ method: 'GET', path: '/trpc/getProfile%2CcheckSession?batch=1', headers: auth(token) })],
  ['batch without input', () => ({ method: 'GET', path: '/trpc/checkSession,checkSession?batch=1', headers: auth(otherToken) })],
  ['batch=0 is not a batch', () => ({ method: 'GET', path: '/trpc/checkSession?batch=0' })],
  ['duplicate batch parameter', () => ({ method: 'GET', path: '/trpc/checkSession?batch=1&batch=0&input=%7B%7D' })],
  ['unknown procedure', () => ({ method: 'GET', path: '/trpc/nope' })],
  ['unknown procedure in a batch', () => ({ method: 'GET', path: '/trpc/checkSession,nope?batch=1' })],
  ['prototype names are not procedures', () => ({ method: 'GET', path: '/trpc/toString' })],
  ['__proto__ is not a procedure', () => ({ method: 'GET', path: '/trpc/__proto__?batch=1' })],
  ['nested path', () => ({ method: 'GET', path: '/trpc/auth.login' })],
  ['query over POST: 405 with Allow', () => ({ method: 'POST', path: '/trpc/getProfile', headers: { ...json, ...auth(token) }, body: '{}' })],
  ['mutation over GET: 405 with Allow', () => ({ method: 'GET', path: `/trpc/login?input=${q({ code: 'x' })}` })],
  ['mutation over GET in a batch', () => ({ method: 'GET', path: `/trpc/login,login?batch=1&input=${q({ 0: { code: 'x' } })}` })],
  ['mixed query and mutation batch', () => ({ method: 'GET', path: '/trpc/getProfile,login?batch=1' })],
  ['bad input: empty code', () => ({ method: 'POST', path: '/trpc/login', headers: json, body: JSON.stringify({ code: '' }) })],
  ['bad input: wrong type', () => ({ method: 'POST', path: '/trpc/login', headers: json, body: JSON.stringify({ code: 42 }) })],
  ['bad input: no body', () => ({ method: 'POST', path: '/trpc/login', headers: json })],
  ['malformed JSON body', () => ({ method: 'POST', path: '/trpc/login', headers: json, body: '{"code":' })],
  ['malformed JSON in a batch', () => ({ method: 'POST', path: '/trpc/login,login?batch=1', headers: json, body: '{"0":' })],
  ['batch input that is not an object', () => ({ method: 'POST', path: '/trpc/login?batch=1', headers: json, body: '[{"code":"x"}]' })],
  ['batch input that is a string', () => ({ method: 'POST', path: '/trpc/login?batch=1', headers: json, body: '"x"' })],
  ['malformed ?input on a procedure without input', () => ({ method: 'GET', path: '/trpc/checkSession?input=%7Bbad' })],
  ['malformed ?input on a mutation over GET', () => ({ method: 'GET', path: '/trpc/updateProfile?input=%7Bbad', headers: auth(token) })],
  ['unknown code (WeChat 40029)', () => ({ method: 'POST', path: '/trpc/login?batch=1', headers: json, body: JSON.stringify({ 0: { code: 'never-minted' } }) })],
  ['json content type with charset', () => ({ method: 'POST', path: '/trpc/login', headers: { 'content-type': 'Application/JSON; charset=utf-8' }, body: '{"code":""}' })],
  ['updateProfile, valid', () => ({ method: 'POST', path: '/trpc/updateProfile', headers: { ...json, ...auth(token) }, body: JSON.stringify({ nickname: 'Wire' }) })],
  ['updateProfile, http avatar', () => ({ method: 'POST', path: '/trpc/updateProfile', headers: { ...json, ...auth(token) }, body: JSON.stringify({ avatarUrl: 'http://example.com/a.png' }) })],
  ['updateProfile, empty patch', () => ({ method: 'POST', path: '/trpc/updateProfile', headers: { ...json, ...auth(token) }, body: '{}' })],
  ['updateProfile, no token', () => ({ method: 'POST', path: '/trpc/updateProfile', headers: json, body: JSON.stringify({ nickname: 'x' }) })],
  [
    'updateProfile batch, one good one bad',
    () => ({ method: 'POST', path: '/trpc/updateProfile,updateProfile?batch=1', headers: { ...json, ...auth(token) }, body: JSON.stringify({ 0: { nickname: 'Wire' }, 1: { nickname: '' } }) }),
  ],
  ['POST without content type', () => ({ method: 'POST', path: '/trpc/login', body: '' })],
  ['POST with text/plain', () => ({ method: 'POST', path: '/trpc/login', headers: { 'content-type': 'text/plain' }, body: '{"code":"x"}' })],
  ['POST with octet-stream', () => ({ method: 'POST', path: '/trpc/login', headers: { 'content-type': 'application/octet-stream' }, body: 'x' })],
  ['body over the limit', () => ({ method: 'POST', path: '/trpc/login', headers: json, body: JSON.stringify({ code: 'x'.repeat(70_000) }) })],
  ['HEAD', () => ({ method: 'HEAD', path: '/trpc/checkSession' })],
  ['PUT', () => ({ method: 'PUT', path: '/trpc/checkSession', headers: json, body: '{}' })],
  ['streaming accept header', () => ({ method: 'GET', path: '/trpc/checkSession?batch=1', headers: { accept: 'application/jsonl' } })],
  ['trpc-accept header', () => ({ method: 'GET', path: '/trpc/checkSession?batch=1', headers: { 'trpc-accept': 'application/jsonl' } })],
  ['connectionParams', () => ({ method: 'GET', path: `/trpc/checkSession?connectionParams=${q({ a: 'b' })}` })],
  ['bad connectionParams', () => ({ method: 'GET', path: '/trpc/checkSession?connectionParams=%7B' })],
  ['bad percent-encoding in the path', () => ({ method: 'GET', path: '/trpc/check%E0%A4Session' })],
  ['plus and spaces in ?input', () => ({ method: 'GET', path: '/trpc/login?input=%7B%22code%22:%22a+b%22%7D' })],
  ['GET with a json content type', () => ({ method: 'GET', path: '/trpc/checkSession', headers: json })],
  ['GET with a form content type', () => ({ method: 'GET', path: '/trpc/checkSession', headers: { 'content-type': 'multipart/form-data; boundary=x' } })],
];

/** Outside the fast path on purpose: the fast handler hands these to the stock adapter. */
const answeredByStock = new Set([
  'mixed query and mutation batch',
  'POST without content type',
  'POST with text/plain',
  'HEAD',
  'PUT',
  'streaming accept header',
  'trpc-accept header',
  'connectionParams',
  'bad connectionParams',
  'GET with a form content type',
]);
/** Refused by Fastify before any tRPC handler runs (same code for both). */
const answeredByFastify = new Set(['POST with octet-stream', 'body over the limit', 'bad percent-encoding in the path']);

describe('the fast handler answers like the stock adapter', () => {
  it.each(corpus)('%s', async (name, build) => {
    const request = build();
    const a = await send(stock.url, request);
    const b = await send(fast.url, request);
    expect(comparable(b)).toEqual(comparable(a));
    // Which code answered: the fast handler sends content-length, the stock adapter chunks, Fastify answers some first.
    const via = answeredByStock.has(name) ? 'stock' : answeredByFastify.has(name) ? 'fastify' : 'fast';
    if (via === 'fast') {
      expect(a.headers['transfer-encoding']).toBe('chunked');
      expect(Number(b.headers['content-length'])).toBe(Buffer.byteLength(b.body));
    } else if (via === 'stock') {
      expect(b.headers['content-length']).toBeUndefined();
    } else {
      expect(a.headers['content-length']).toBeDefined();
    }
  });

  it('covers success, client errors and server-side rejections (the corpus is not all errors)', async () => {
    const statuses = new Set<number>();
    for (const [, build] of corpus) statuses.add((await send(fast.url, build())).status);
    for (const status of [200, 207, 400, 401, 404, 405, 413, 415]) expect(statuses).toContain(status);
  });

  it('returns the same session for a resubmitted code, on either server, in the same bytes', async () => {
    const code = await mintCode(stock.url, 'wire-dave');
    const request = { method: 'POST', path: '/trpc/login?batch=1', headers: json, body: JSON.stringify({ 0: { code } }) };
    const first = await send(stock.url, request);
    expect(first.status).toBe(200);
    const again = await send(fast.url, request);
    expect(comparable(again)).toEqual(comparable(first));
    // And the other way round for a fresh code.
    const code2 = await mintCode(stock.url, 'wire-erin');
    const single = { method: 'POST', path: '/trpc/login', headers: json, body: JSON.stringify({ code: code2 }) };
    const fromFast = await send(fast.url, single);
    expect(fromFast.status).toBe(200);
    expect(comparable(await send(stock.url, single))).toEqual(comparable(fromFast));
  });

  it('answers logout and a revoked token alike', async () => {
    const a = (await loginAs(stock.url, 'wire-frank')).token;
    const b = (await loginAs(stock.url, 'wire-frank')).token;
    const logoutA = await send(stock.url, { method: 'POST', path: '/trpc/logout', headers: { ...json, ...auth(a) }, body: '' });
    const logoutB = await send(fast.url, { method: 'POST', path: '/trpc/logout', headers: { ...json, ...auth(b) }, body: '' });
    expect(comparable(logoutB)).toEqual(comparable(logoutA));
    expect(logoutA.status).toBe(200);
    for (const t of [a, b]) {
      const request = { method: 'GET', path: `/trpc/getProfile,checkSession?batch=1&input=${q({})}`, headers: auth(t) };
      const fromStock = comparable(await send(stock.url, request));
      expect(comparable(await send(fast.url, request))).toEqual(fromStock);
      expect(fromStock.json).toMatchObject([{ error: { data: { reason: 'revoked' } } }, { result: { data: { valid: false, reason: 'revoked' } } }]);
    }
  });
});

/** The official client against both adapters: every procedure, batched and unbatched links. */
describe.each(['stock', 'fast'] as const)('@trpc/client against the %s adapter', (adapter) => {
  const server = () => (adapter === 'stock' ? stock : fast);
  const unbatched = (t?: string) =>
    createTRPCClient<AppRouter>({ links: [httpLink({ url: `${server().url}/trpc`, headers: () => (t ? auth(t) : {}) })] });

  it('runs every procedure through httpBatchLink', async () => {
    const login = await createClient(server().url).login.mutate({ code: await mintCode(stock.url, `client-${adapter}`) });
    expect(login.isNewUser).toBe(true);
    const client = createClient(server().url, login.token);
    const [session, profile] = await Promise.all([client.checkSession.query(), client.getProfile.query()]);
    expect(session).toEqual({ valid: true, expiresAt: login.expiresAt, userId: login.user.id });
    expect(profile).toEqual(login.user);
    const updated = await client.updateProfile.mutate({ nickname: `Nick ${adapter}`, avatarUrl: 'https://example.com/a.png' });
    expect(updated).toEqual({ ...login.user, nickname: `Nick ${adapter}`, avatarUrl: 'https://example.com/a.png' });
    expect(await client.getProfile.query()).toEqual(updated);
    expect(await client.logout.mutate()).toEqual({ ok: true });
    expect(await client.checkSession.query()).toEqual({ valid: false, reason: 'revoked' });
    const error = await expectTRPCError(client.getProfile.query());
    expect(error.data).toMatchObject({ code: 'UNAUTHORIZED', httpStatus: 401, reason: 'revoked', path: 'getProfile' });
  });

  it('runs every procedure through httpLink (no batching)', async () => {
    const login = await unbatched().login.mutate({ code: await mintCode(stock.url, `client-${adapter}-2`) });
    const client = unbatched(login.token);
    expect(await client.checkSession.query()).toMatchObject({ valid: true, userId: login.user.id });
    expect(await client.getProfile.query()).toEqual(login.user);
    expect(await client.updateProfile.mutate({ nickname: 'Solo' })).toMatchObject({ nickname: 'Solo' });
    const bad = await expectTRPCError(client.updateProfile.mutate({}));
    expect(bad.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400, reason: 'invalid_input' });
    expect(await client.logout.mutate()).toEqual({ ok: true });
    const gone = await expectTRPCError(client.logout.mutate());
    expect(gone.data).toMatchObject({ code: 'UNAUTHORIZED', reason: 'revoked' });
  });

  it('reports login errors with their reasons', async () => {
    const client = createClient(server().url);
    const invalid = await expectTRPCError(client.login.mutate({ code: 'never-minted-code' }));
    expect(invalid.data).toMatchObject({ code: 'BAD_REQUEST', httpStatus: 400, reason: 'code_invalid' });
    const input = await expectTRPCError(client.login.mutate({ code: '' }));
    expect(input.data).toMatchObject({ code: 'BAD_REQUEST', reason: 'invalid_input' });
    const missing = await expectTRPCError(client.getProfile.query());
    expect(missing.data).toMatchObject({ code: 'UNAUTHORIZED', reason: 'missing' });
  });
});
