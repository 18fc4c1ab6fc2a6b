import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPgCluster, type PgCluster } from './support/pg-cluster.ts';
import { testBackend } from './support/pg-global-setup.ts';
import { toRaw } from './hardening/support.ts';
import { createClient, loginAs, mintCode } from './support/server.ts';
import { startServerProcess, type ServerProcess } from './support/server-process.ts';
import { pgTestDb } from './support/test-db.ts';
import { mintPhoneCode, simulatorStats } from './support/wechat-sim.ts';

// Several real server processes (`src/server.ts`, as `npm start` runs it) on one PostgreSQL database behave as one
// server. This file owns its PostgreSQL cluster, because it stops and restarts it; it runs in the PostgreSQL pass of
// the suites (WXKIT_TEST_BACKEND=pg), whose other files share the run's cluster and must not see it stop.
const runs = testBackend() === 'pg';

type Envelope = { result?: { data: Record<string, unknown> }; error?: { data: { reason?: string } } };

/** One call over plain HTTP, timed; the parsed envelope or undefined. */
async function raw(url: string, path: string, init: RequestInit & { token?: string } = {}) {
  const headers: Record<string, string> = { ...(init.headers as Record<string, string> | undefined) };
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.body) headers['content-type'] = 'application/json';
  const started = performance.now();
  const answer = await toRaw(await fetch(`${url}${path}`, { ...init, headers, signal: AbortSignal.timeout(15_000) }));
  return { ...answer, json: answer.json as Envelope, ms: performance.now() - started };
}

const login = (url: string, code: string) => raw(url, '/trpc/login', { method: 'POST', body: JSON.stringify({ code }) });

describe.runIf(runs)('several server processes on one PostgreSQL database', { timeout: 120_000 }, () => {
  let cluster: PgCluster;
  let databaseUrl: string;
  const instances: ServerProcess[] = [];
  let a: ServerProcess;
  let b: ServerProcess;
  let c: ServerProcess;

  async function start(env: Record<string, string> = {}, wechatFrom?: ServerProcess) {
    const instance = await startServerProcess({
      DATABASE_URL: databaseUrl,
      DATABASE_POOL_SIZE: '5',
      LOGIN_RATE_LIMIT_PER_MINUTE: '100000',
      // All instances ask one WeChat (the first one's simulator), as real instances all ask api.weixin.qq.com.
      ...(wechatFrom ? { WECHAT_API_BASE: `${wechatFrom.url}/__wechat` } : {}),
      ...env,
    });
    instances.push(instance);
    return instance;
  }

  beforeAll(async () => {
    cluster = await startPgCluster();
    databaseUrl = await cluster.createDatabase('wxkit_scale');
    // No JWT_SECRET: in simulator mode the instances share one generated key through the database.
    a = await start();
    [b, c] = await Promise.all([start({}, a), start({}, a)]);
  }, 120_000);

  afterAll(async () => {
    await Promise.all(instances.map((i) => i.stop()));
    await cluster?.destroy();
  });

  it('log in on A, getProfile on B, logout on B: A refuses the token on its next call', async () => {
    const session = await loginAs(a.url, 'roaming');
    expect((await createClient(b.url, session.token).getProfile.query()).id).toBe(session.user.id);
    await createClient(b.url, session.token).logout.mutate();
    const refused = await raw(a.url, '/trpc/getProfile', { token: session.token });
    expect(refused.status).toBe(401);
    expect(refused.json.error?.data.reason).toBe('revoked');
    expect((await raw(c.url, '/trpc/checkSession', { token: session.token })).json.result?.data).toEqual({ valid: false, reason: 'revoked' });
  });

  it('the same code sent to A and B at the same moment: both get the same session, WeChat sees 1 exchange (100 times)', async () => {
    const before = (await simulatorStats(a.url)).exchanges;
    for (let i = 0; i < 100; i++) {
      const code = await mintCode(a.url, `double-${i % 10}`);
      const [fromA, fromB] = await Promise.all([login(a.url, code), login(b.url, code)]);
      expect([fromA.status, fromB.status]).toEqual([200, 200]);
      expect(fromA.json.result?.data.token).toBe(fromB.json.result?.data.token);
    }
    expect((await simulatorStats(a.url)).exchanges - before).toBe(100);
  });

  it('50 concurrent first logins of one WeChat user over 3 instances: 1 user row, exactly one isNewUser', async () => {
    const codes = await Promise.all(Array.from({ length: 50 }, () => mintCode(a.url, 'stampede')));
    const answers = await Promise.all(codes.map((code, i) => login([a, b, c][i % 3]!.url, code)));
    expect(answers.map((r) => r.status)).toEqual(Array(50).fill(200));
    const data = answers.map((r) => r.json.result!.data as { isNewUser: boolean; user: { id: string } });
    expect(new Set(data.map((d) => d.user.id)).size).toBe(1);
    expect(data.filter((d) => d.isNewUser)).toHaveLength(1);
    const db = pgTestDb(databaseUrl);
    try {
      expect(await db.count('SELECT count(*) AS n FROM users WHERE id = ?', data[0]!.user.id)).toBe(1);
      expect(await db.count('SELECT count(*) AS n FROM sessions WHERE user_id = ?', data[0]!.user.id)).toBe(50);
    } finally {
      await db.close();
    }
  });

  it('50 concurrent bindPhone over 3 instances with a cold access_token: 1 stable_token call', async () => {
    const before = (await simulatorStats(a.url)).stableTokenCalls;
    expect(before).toBe(0); // nothing asked for a token yet in this database
    const callers = await Promise.all(
      Array.from({ length: 50 }, async (_, i) => {
        const target = [a, b, c][i % 3]!;
        const name = `phone-${i}`;
        const session = await createClient(target.url).login.mutate({ code: await mintCode(a.url, name) });
        return { target, token: session.token, code: await mintPhoneCode(a.url, name, `1380000${String(i).padStart(4, '0')}`) };
      }),
    );
    const results = await Promise.all(
      callers.map((x) => raw(x.target.url, '/trpc/bindPhone', { method: 'POST', token: x.token, body: JSON.stringify({ code: x.code }) })),
    );
    expect(results.map((r) => r.status)).toEqual(Array(50).fill(200));
    expect((await simulatorStats(a.url)).stableTokenCalls).toBe(1);
  });

  it('the login rate limit is counted across instances', async () => {
    const limitedDb = await cluster.createDatabase('wxkit_limited');
    const limitedA = await start({ DATABASE_URL: limitedDb, LOGIN_RATE_LIMIT_PER_MINUTE: '10' });
    const limitedB = await start({ DATABASE_URL: limitedDb, LOGIN_RATE_LIMIT_PER_MINUTE: '10' }, limitedA);
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const target = i % 2 === 0 ? limitedA : limitedB;
      const answer = await login(target.url, await mintCode(limitedA.url, `limited-${i}`));
      statuses.push(answer.status);
      if (answer.status === 429) expect(answer.json.error?.data.reason).toBe('rate_limited');
    }
    // 10 allowed from this address in the minute, wherever they landed: the 11th and 12th are refused.
    expect(statuses).toEqual([...Array(10).fill(200), 429, 429]);
  });

  it('kill -9 of one instance under load: the others keep serving, no session is lost, the database is sound', async () => {
    const victim = await start({}, a);
    const sessions = await Promise.all(Array.from({ length: 30 }, async (_, i) => (await login(victim.url, await mintCode(a.url, `survivor-${i}`))).json.result!.data.token as string));
    let stop = false;
    const survivorsServed: number[] = [];
    const load = (async () => {
      for (let i = 0; !stop; i++) {
        const target = [a, b, victim][i % 3]!;
        const call = raw(target.url, '/trpc/getProfile', { token: sessions[i % sessions.length] });
        // Only the victim may fail to answer; a survivor's connection error fails the test.
        if (target === victim) await call.catch(() => undefined);
        else survivorsServed.push((await call).status);
      }
    })();
    await new Promise((resolve) => setTimeout(resolve, 500));
    victim.child.kill('SIGKILL');
    await victim.exited;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    stop = true;
    await load;
    expect(survivorsServed.length).toBeGreaterThan(50);
    expect(survivorsServed.every((s) => s === 200)).toBe(true);
    // Every session made through the killed instance still works elsewhere.
    for (const token of sessions) expect((await raw(b.url, '/trpc/checkSession', { token })).json.result?.data).toMatchObject({ valid: true });
    const db = pgTestDb(databaseUrl);
    try {
      expect(await db.integrityProblems()).toEqual([]);
    } finally {
      await db.close();
    }
  });

  it('PostgreSQL stopped under load: fast 503 database_unavailable, health check fails, and recovery without a restart', async () => {
    const session = await loginAs(a.url, 'outage');
    expect((await raw(b.url, '/healthz')).status).toBe(200);
    // 20 clients keep calling A and B through the outage: every answer is 200 or a quick 503, never a 500 or a hang.
    let loading = true;
    const seen: Array<{ status: number; ms: number; reason: string | undefined }> = [];
    const load = Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        while (loading) {
          const answer = await raw([a, b][i % 2]!.url, '/trpc/getProfile', { token: session.token });
          seen.push({ status: answer.status, ms: answer.ms, reason: answer.json?.error?.data.reason });
        }
      }),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    await cluster.stop({ mode: 'fast' });
    try {
      for (const instance of [a, b]) {
        const down = await raw(instance.url, '/trpc/getProfile', { token: session.token });
        expect(down.status).toBe(503);
        expect(down.json.error?.data.reason).toBe('database_unavailable');
        expect(down.text).not.toMatch(/at .*\.ts:\d+|ECONNREFUSED|stack/); // no stack trace, no driver internals
        expect(down.ms).toBeLessThan(5_000); // bounded (the pool's connect timeout is 2 s), never a hang
        const login503 = await login(instance.url, await mintCode(a.url, 'outage-login'));
        expect(login503.status).toBe(503);
        expect((await raw(instance.url, '/healthz')).status).toBe(503);
      }
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    } finally {
      await cluster.start();
    }
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    loading = false;
    await load;
    expect(seen.filter((s) => s.status === 503).length).toBeGreaterThan(10);
    expect(seen.filter((s) => s.status !== 200 && !(s.status === 503 && s.reason === 'database_unavailable'))).toEqual([]);
    expect(Math.max(...seen.map((s) => s.ms))).toBeLessThan(5_000);
    // Back: the same processes serve again (the pools reconnect), the session made before the outage works.
    let recovered = false;
    for (let i = 0; i < 50 && !recovered; i++) {
      recovered = (await raw(a.url, '/healthz')).status === 200 && (await raw(b.url, '/healthz')).status === 200;
      if (!recovered) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(recovered).toBe(true);
    for (const instance of [a, b, c]) {
      expect((await raw(instance.url, '/trpc/getProfile', { token: session.token })).status).toBe(200);
    }
    expect(a.child.exitCode).toBeNull();
    expect(b.child.exitCode).toBeNull();
  });
});
