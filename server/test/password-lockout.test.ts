import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PASSWORD_LOCKOUT } from '../src/accounts/account-service.ts';
import { createClient, expectTRPCError, startTestServer, type TestServer } from './support/server.ts';
import { persistentDatabaseEnv } from './support/test-db.ts';

const dir = mkdtempSync(join(tmpdir(), 'wxkit-lockout-'));
// One database for every server here (SQLite file or PostgreSQL database): the restart must find the count.
let env: Record<string, string>;
let clock = Date.now();
const now = () => clock;
const servers: TestServer[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function start() {
  env ??= await persistentDatabaseEnv(dir);
  const server = await startTestServer(env, { now });
  servers.push(server);
  return server;
}

async function rawLogin(url: string, username: string, password: string) {
  const response = await fetch(`${url}/trpc/loginWithPassword`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  return { status: response.status, retryAfter: response.headers.get('retry-after'), body: (await response.json()) as { error?: { message: string; data: { reason: string; retryAfterSeconds?: number } } } };
}

describe('password lockout', () => {
  it('5 wrong passwords lock the username for 15 minutes: the 6th, even correct, is too_many_attempts; a restart keeps it; it lifts after the window', async () => {
    expect(PASSWORD_LOCKOUT).toEqual({ maxFailures: 5, windowMs: 15 * 60_000, lockMs: 15 * 60_000 });
    let server = await start();
    const password = 'the right password';
    await createClient(server.url).signUp.mutate({ username: 'victim', password });

    for (let i = 1; i <= 5; i++) {
      const wrong = await rawLogin(server.url, 'victim', `wrong password ${i}`);
      expect(wrong.status).toBe(401);
      expect(wrong.body.error?.data.reason).toBe('credentials_invalid');
      clock += 1000;
    }
    const locked = await rawLogin(server.url, 'victim', password);
    expect(locked.status).toBe(429);
    expect(locked.body.error?.data.reason).toBe('too_many_attempts');
    const retryAfter = Number(locked.retryAfter);
    expect(retryAfter).toBeGreaterThan(14 * 60);
    expect(retryAfter).toBeLessThanOrEqual(15 * 60);
    expect(locked.body.error?.data.retryAfterSeconds).toBe(retryAfter);
    expect(locked.body.error?.message).toMatch(/wait 15 minutes/);

    // Another username from the same address is not affected.
    await createClient(server.url).signUp.mutate({ username: 'bystander', password });
    expect((await rawLogin(server.url, 'bystander', password)).status).toBe(200);

    // The count lives in the database: a restart on the same file keeps the lock.
    await server.close();
    servers.splice(servers.indexOf(server), 1);
    server = await start();
    const afterRestart = await rawLogin(server.url, 'victim', password);
    expect(afterRestart.status).toBe(429);

    // Locked attempts do not extend the lock; 15 minutes after the 5th failure it lifts.
    clock += 15 * 60_000;
    const lifted = await rawLogin(server.url, 'victim', password);
    expect(lifted.status).toBe(200);
    // A success clears the count: 4 new failures do not lock.
    for (let i = 0; i < 4; i++) expect((await rawLogin(server.url, 'victim', 'wrong again 123')).status).toBe(401);
    expect((await rawLogin(server.url, 'victim', password)).status).toBe(200);
  });

  it('failures spread beyond the window do not add up', async () => {
    const server = await start();
    await createClient(server.url).signUp.mutate({ username: 'slowpoke', password: 'the right password' });
    for (let i = 0; i < 8; i++) {
      expect((await rawLogin(server.url, 'slowpoke', 'wrong password')).status).toBe(401);
      clock += 4 * 60_000; // 4 failures per 16 minutes never reach 5 in one window
    }
    expect((await rawLogin(server.url, 'slowpoke', 'the right password')).status).toBe(200);
  });

  it('the count is per username and per client address', async () => {
    const server = await start();
    const t = now();
    for (let i = 0; i < 5; i++) await server.app.store.recordPasswordFailure('shared', '10.0.0.1', t, PASSWORD_LOCKOUT);
    expect(await server.app.store.passwordLockedUntil('shared', '10.0.0.1', t)).toBe(t + PASSWORD_LOCKOUT.lockMs);
    expect(await server.app.store.passwordLockedUntil('shared', '10.0.0.2', t)).toBeNull();
    expect(await server.app.store.passwordLockedUntil('other', '10.0.0.1', t)).toBeNull();
  });

  it('bindAccount counts wrong passwords towards the same lock', async () => {
    const server = await start();
    await createClient(server.url).signUp.mutate({ username: 'target', password: 'the right password' });
    const code = await (await fetch(`${server.url}/__wechat/dev/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":"binder"}' })).json() as { code: string };
    const wx = await createClient(server.url).login.mutate({ code: code.code });
    const client = createClient(server.url, wx.token);
    for (let i = 0; i < 5; i++) await expectTRPCError(client.bindAccount.mutate({ username: 'target', password: 'wrong password' }));
    const error = await expectTRPCError(client.bindAccount.mutate({ username: 'target', password: 'the right password' }));
    expect(error.data).toMatchObject({ code: 'TOO_MANY_REQUESTS', httpStatus: 429, reason: 'too_many_attempts' });
  });
});
