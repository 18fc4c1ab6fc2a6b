import { createHmac, randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginAs, startTestServer, type TestServer } from '../support/server.ts';
import { countProcedureCalls, envelopeError, expectNoLeaks, hardeningEnv, JWT_SECRET, rawHttp, trpcGet, trpcPost } from './support.ts';

// Suite 1 (issue 6): every forged, tampered, stale or malformed credential is a 401 with the right reason, and no
// procedure body runs for it.

const b64 = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const secretKey = new TextEncoder().encode(JWT_SECRET);
const nowSeconds = () => Math.floor(Date.now() / 1000);

interface Session {
  token: string;
  userId: string;
  sessionId: string;
}

function claimsOf(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** Signs header.payload with HMAC-SHA256 and our secret, whatever the header claims. */
function hmacToken(header: Record<string, unknown>, payload: Record<string, unknown>, hash = 'sha256'): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac(hash, JWT_SECRET).update(input).digest('base64url')}`;
}

function validClaims(session: Session, overrides: Record<string, unknown> = {}) {
  return { sid: session.sessionId, sub: session.userId, iss: 'wxkit', aud: 'wxkit-client', iat: nowSeconds(), exp: nowSeconds() + 3600, ...overrides };
}

function ourJwt(session: Session) {
  return new SignJWT({ sid: session.sessionId })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(session.userId)
    .setIssuer('wxkit')
    .setAudience('wxkit-client')
    .setIssuedAt();
}

let server: TestServer;
let procedureCalls: ReturnType<typeof countProcedureCalls>;
let alice: Session;
let bob: Session;

async function session(user: string): Promise<Session> {
  const login = await loginAs(server.url, user);
  return { token: login.token, userId: login.user.id, sessionId: String(claimsOf(login.token).sid) };
}

beforeAll(async () => {
  server = await startTestServer(hardeningEnv());
  alice = await session('attack-alice');
  bob = await session('attack-bob');
  procedureCalls = countProcedureCalls(server.app);
});
afterAll(async () => {
  await server.close();
  expectNoLeaks();
});

/** Every protected procedure answers 401 + reason, checkSession reports the same reason, and no procedure ran. */
async function expectRejected(authorization: string | undefined, reason: string) {
  procedureCalls.reset();
  const headers: Record<string, string> = authorization === undefined ? {} : { authorization };
  const answers = [
    await trpcGet(server.url, 'getProfile', { headers }),
    await trpcPost(server.url, 'updateProfile', { body: JSON.stringify({ nickname: 'pwned' }), headers }),
    await trpcPost(server.url, 'logout', { headers }),
  ];
  for (const answer of answers) {
    expect(answer.status, answer.text).toBe(401);
    const error = envelopeError(answer.json);
    expect(error?.data.code).toBe('UNAUTHORIZED');
    expect(error?.data.reason).toBe(reason);
    expect(error?.message).toMatch(/log in|Authorization/i);
  }
  const check = await trpcGet(server.url, 'checkSession', { headers });
  expect(check.status).toBe(200);
  expect(check.json).toEqual({ result: { data: { valid: false, reason } } });
  expect(procedureCalls.calls, 'a procedure body ran for a rejected credential').toBe(0);
}

describe('control: the counter sees procedures run', () => {
  it('counts a real updateProfile, so a zero below means the procedure was never reached', async () => {
    procedureCalls.reset();
    const answer = await trpcPost(server.url, 'updateProfile', { body: JSON.stringify({ nickname: 'Alice' }), headers: { authorization: `Bearer ${alice.token}` } });
    expect(answer.status).toBe(200);
    expect(procedureCalls.calls).toBeGreaterThan(0);
  });
});

describe('forged and tampered tokens → invalid', () => {
  it('alg none (with and without a signature part)', async () => {
    const unsigned = `${b64({ alg: 'none', typ: 'JWT' })}.${b64(validClaims(alice))}`;
    await expectRejected(`Bearer ${unsigned}.`, 'invalid');
    await expectRejected(`Bearer ${unsigned}.${b64('x')}`, 'invalid');
    await expectRejected(`Bearer ${b64({ alg: 'None' })}.${b64(validClaims(alice))}.${b64('x')}`, 'invalid');
  });

  it('HS256 signed with another key', async () => {
    const other = await ourJwt(alice).setExpirationTime('1h').sign(randomBytes(48));
    await expectRejected(`Bearer ${other}`, 'invalid');
  });

  it('algorithm confusion: RS256 / ES256 / PS256 headers with our secret as the "public key"', async () => {
    for (const alg of ['RS256', 'ES256', 'PS256', 'EdDSA']) {
      await expectRejected(`Bearer ${hmacToken({ alg, typ: 'JWT' }, validClaims(alice))}`, 'invalid');
    }
  });

  it('other HMAC strengths signed with our own secret (only HS256 is accepted)', async () => {
    await expectRejected(`Bearer ${hmacToken({ alg: 'HS384' }, validClaims(alice), 'sha384')}`, 'invalid');
    await expectRejected(`Bearer ${hmacToken({ alg: 'HS512' }, validClaims(alice), 'sha512')}`, 'invalid');
  });

  it('payload edited after signing (sub, sid, exp)', async () => {
    const [header, , signature] = alice.token.split('.');
    for (const edit of [{ sub: bob.userId }, { sid: bob.sessionId }, { exp: nowSeconds() + 10 * 365 * 86400 }]) {
      await expectRejected(`Bearer ${header}.${b64({ ...claimsOf(alice.token), ...edit })}.${signature}`, 'invalid');
    }
  });

  it('signature stripped or of another token', async () => {
    const [header, payload] = alice.token.split('.');
    await expectRejected(`Bearer ${header}.${payload}.`, 'invalid');
    await expectRejected(`Bearer ${header}.${payload}.${bob.token.split('.')[2]}`, 'invalid');
  });

  it('a critical header extension we do not understand', async () => {
    await expectRejected(`Bearer ${hmacToken({ alg: 'HS256', crit: ['x-wxkit'], 'x-wxkit': 1 }, validClaims(alice))}`, 'invalid');
  });
});

describe('well signed, wrong claims', () => {
  it('expired → expired', async () => {
    const token = await ourJwt(alice).setIssuedAt(nowSeconds() - 7200).setExpirationTime(nowSeconds() - 60).sign(secretKey);
    await expectRejected(`Bearer ${token}`, 'expired');
  });

  it('not yet valid (nbf in the future) → invalid', async () => {
    const token = await ourJwt(alice).setNotBefore(nowSeconds() + 3600).setExpirationTime('2h').sign(secretKey);
    await expectRejected(`Bearer ${token}`, 'invalid');
  });

  it('wrong iss, wrong aud, missing sid, missing exp → invalid', async () => {
    await expectRejected(`Bearer ${await ourJwt(alice).setIssuer('evil').setExpirationTime('1h').sign(secretKey)}`, 'invalid');
    await expectRejected(`Bearer ${await ourJwt(alice).setAudience('other-app').setExpirationTime('1h').sign(secretKey)}`, 'invalid');
    const { sid: _sid, ...noSid } = validClaims(alice);
    await expectRejected(`Bearer ${hmacToken({ alg: 'HS256' }, noSid)}`, 'invalid');
    const { exp: _exp, ...noExp } = validClaims(alice);
    await expectRejected(`Bearer ${hmacToken({ alg: 'HS256' }, noExp)}`, 'invalid');
  });

  it('claims of the wrong type (sid a number, sub an object) → invalid', async () => {
    await expectRejected(`Bearer ${hmacToken({ alg: 'HS256' }, validClaims(alice, { sid: 42 }))}`, 'invalid');
    await expectRejected(`Bearer ${hmacToken({ alg: 'HS256' }, validClaims(alice, { sub: { id: alice.userId } }))}`, 'invalid');
  });

  it('a session of another user (sid and sub mismatched) → invalid', async () => {
    const token = await ourJwt(alice).setSubject(alice.userId).setExpirationTime('1h').sign(secretKey);
    expect((await trpcGet(server.url, 'getProfile', { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    const mixed = hmacToken({ alg: 'HS256', typ: 'JWT' }, validClaims(alice, { sid: bob.sessionId }));
    await expectRejected(`Bearer ${mixed}`, 'invalid');
    const unknownSession = hmacToken({ alg: 'HS256', typ: 'JWT' }, validClaims(alice, { sid: 'no-such-session' }));
    await expectRejected(`Bearer ${unknownSession}`, 'invalid');
  });

  it('a valid token whose session was revoked → revoked', async () => {
    const victim = await session('attack-revoked');
    expect((await trpcPost(server.url, 'logout', { headers: { authorization: `Bearer ${victim.token}` } })).status).toBe(200);
    await expectRejected(`Bearer ${victim.token}`, 'revoked');
  });

  it('a valid token of a deleted user → invalid', async () => {
    const victim = await session('attack-deleted');
    expect((await trpcGet(server.url, 'getProfile', { headers: { authorization: `Bearer ${victim.token}` } })).status).toBe(200);
    await server.db.query('DELETE FROM users WHERE id = ?', victim.userId);
    await expectRejected(`Bearer ${victim.token}`, 'invalid');
  });
});

describe('malformed Authorization headers', () => {
  it('empty → missing; no header → missing', async () => {
    await expectRejected('', 'missing');
    await expectRejected(undefined, 'missing');
  });

  it('garbage → invalid', async () => {
    for (const value of ['garbage', 'Basic dXNlcjpwYXNz', 'Bearer not.a.jwt', 'Bearer a.b', 'Bearer ....', 'Bearer 😀'.replace('😀', 'x%00y'), `Token ${alice.token}`]) {
      await expectRejected(value, 'invalid');
    }
  });

  it('`Bearer` with no token, and with only spaces after it → invalid', async () => {
    await expectRejected('Bearer', 'invalid');
    await expectRejected('Bearer    ', 'invalid');
  });

  it('lower-case / upper-case scheme → invalid (the contract spells it `Bearer`)', async () => {
    await expectRejected(`bearer ${alice.token}`, 'invalid');
    await expectRejected(`BEARER ${alice.token}`, 'invalid');
  });

  it('two tokens in one header, extra spaces → invalid', async () => {
    await expectRejected(`Bearer ${alice.token} ${bob.token}`, 'invalid');
    await expectRejected(`Bearer ${alice.token}, Bearer ${bob.token}`, 'invalid');
    await expectRejected(`Bearer  ${alice.token}`, 'invalid');
  });

  it('10 KB header (random and token-shaped) → invalid', async () => {
    await expectRejected(`Bearer ${'a'.repeat(10 * 1024)}`, 'invalid');
    const huge = `${b64({ alg: 'HS256' })}.${b64({ pad: 'x'.repeat(7000) })}.${b64('sig')}`;
    await expectRejected(`Bearer ${huge}`, 'invalid');
  });

  it('1 MB header → 431 before routing, with a message saying what to send; the server keeps serving', async () => {
    // Node refuses headers over 16 KiB (maxHeaderSize) while parsing: no route, no tRPC, no procedure runs.
    procedureCalls.reset();
    const { port } = new URL(server.url);
    const answer = await rawHttp(
      server.url,
      `GET /trpc/getProfile HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer ${'a'.repeat(1024 * 1024)}\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as unknown;
    expect(envelopeError(body)?.message).toMatch(/16 KiB.*Authorization: Bearer <token>/);
    expect(procedureCalls.calls).toBe(0);
    expect((await trpcGet(server.url, 'getProfile', { headers: { authorization: `Bearer ${alice.token}` } })).status).toBe(200);
  });

  it('two Authorization headers: Node keeps the first, so a garbage first one is rejected', async () => {
    procedureCalls.reset();
    const { port } = new URL(server.url);
    const answer = await rawHttp(
      server.url,
      `GET /trpc/getProfile HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAuthorization: Bearer garbage\r\nAuthorization: Bearer ${alice.token}\r\nConnection: close\r\n\r\n`,
    );
    expect(answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(answer).toContain('"reason":"invalid"');
    expect(procedureCalls.calls).toBe(0);
  });
});
