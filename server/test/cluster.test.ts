import { request } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRecipes } from './support/curl-recipes.ts';
import { queueFaults } from './support/server.ts';
import { startServerProcess, type ServerProcess } from './support/server-process.ts';
import { persistentDatabaseEnv } from './support/test-db.ts';

// WORKERS=2: the real entry point as `npm start` runs it, one port, two worker processes behind node:cluster, on the
// suite's backend (a SQLite file, or PostgreSQL in the WXKIT_TEST_BACKEND=pg pass).

interface LogLine {
  pid?: number;
  worker?: number;
  msg?: string;
  req?: { url?: string };
}

const logLines = (server: ServerProcess): LogLine[] =>
  server
    .output()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as LogLine);

/** Worker pids that logged "listening", in order (a replacement appears as a new pid). */
const listeningPids = (server: ServerProcess) => logLines(server).filter((l) => l.msg?.startsWith('listening on')).map((l) => l.pid!);

/** Pids of the workers that answered requests to `path` (from their request logs; the primary's simulator excluded). */
const answeredBy = (server: ServerProcess, path: string) => {
  const workers = new Set(listeningPids(server));
  return new Set(logLines(server).filter((l) => l.msg === 'incoming request' && l.req?.url?.startsWith(path) && workers.has(l.pid!)).map((l) => l.pid));
};

/**
 * One request on a new connection: node:cluster hands out connections (not requests) round-robin, so a kept-alive
 * connection would stay on one worker.
 */
function call(url: string, path: string, init: { method?: string; body?: string; token?: string } = {}) {
  const { hostname, port } = new URL(url);
  const headers: Record<string, string> = {};
  if (init.token) headers.authorization = `Bearer ${init.token}`;
  if (init.body) headers['content-type'] = 'application/json';
  return new Promise<{ status: number; json: { result?: { data: Record<string, any> }; error?: { data: { reason?: string } } } }>((resolve, reject) => {
    const req = request({ host: hostname, port, path, method: init.method ?? 'GET', headers, agent: false }, (res) => {
      let text = '';
      res.on('data', (chunk: Buffer) => (text += chunk.toString('utf8')));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(init.body);
  });
}
const mint = async (url: string, user: string) => (await call(url, '/__wechat/dev/login', { method: 'POST', body: JSON.stringify({ user }) })).json as unknown as { code: string };
const login = async (url: string, user: string) => call(url, '/trpc/login', { method: 'POST', body: JSON.stringify({ code: (await mint(url, user)).code }) });

async function waitFor(check: () => boolean, what: string, timeoutMs = 20_000) {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('WORKERS=2: two server processes on one port', { timeout: 90_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'wxkit-cluster-'));
  let server: ServerProcess;
  beforeAll(async () => {
    server = await startServerProcess({ ...(await persistentDatabaseEnv(dir)), WORKERS: '2', LOG_LEVEL: 'info', LOGIN_RATE_LIMIT_PER_MINUTE: '100000' });
    await waitFor(() => listeningPids(server).length === 2, 'both workers to listen');
  }, 90_000);
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('both workers answer, and a session made through one works on the other', async () => {
    const session = await login(server.url, 'spread');
    const token = session.json.result!.data.token as string;
    const answers = await Promise.all(Array.from({ length: 20 }, () => call(server.url, '/trpc/getProfile', { token })));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    const pids = answeredBy(server, '/trpc/getProfile');
    expect(pids.size).toBe(2);
  });

  it('the embedded simulator is one for all workers: codes minted through either are exchanged by either', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => login(server.url, `shared-sim-${i}`)));
    expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
    expect(answeredBy(server, '/__wechat/dev/login').size).toBe(2);
    expect(answeredBy(server, '/trpc/login').size).toBe(2);
  });

  it('the curl recipes (every procedure) pass against the cluster', async () => {
    for (const script of ['curl-recipes.sh', 'curl-round2.sh'] as const) {
      const run = await runRecipes(server.url, script);
      expect(run.stderr).toBe('');
      expect(run.code).toBe(0);
      expect(run.stdout).not.toMatch(/"httpStatus":5\d\d/);
    }
  });

  it('a killed worker is replaced with a log line, and the cluster keeps serving', async () => {
    const [victim] = listeningPids(server);
    process.kill(victim!, 'SIGKILL');
    await waitFor(() => /starting a replacement/.test(server.output()), 'the replacement log line');
    await waitFor(() => listeningPids(server).length === 3, 'the replacement to listen');
    const replacement = listeningPids(server).at(-1);
    expect(replacement).not.toBe(victim);
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => login(server.url, `after-kill-${i}`)));
    expect(answers.map((a) => a.status)).toEqual(Array(10).fill(200));
  });
});

describe('WORKERS=2: shared limits and shutdown', { timeout: 90_000 }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'wxkit-cluster-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('the login rate limit counts across workers', async () => {
    const server = await startServerProcess({ ...(await persistentDatabaseEnv(join(dir, 'limit'))), WORKERS: '2', LOG_LEVEL: 'info', LOGIN_RATE_LIMIT_PER_MINUTE: '6' });
    try {
      await waitFor(() => listeningPids(server).length === 2, 'both workers to listen');
      // Codes first, then the logins one after another: the round robin alternates them between the two workers.
      const codes: string[] = [];
      for (let i = 0; i < 8; i++) codes.push((await mint(server.url, `limit-${i}`)).code);
      const statuses: number[] = [];
      for (const code of codes) statuses.push((await call(server.url, '/trpc/login', { method: 'POST', body: JSON.stringify({ code }) })).status);
      expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 429, 429]);
      expect(answeredBy(server, '/trpc/login').size).toBe(2);
    } finally {
      await server.stop();
    }
  });

  it('SIGTERM: requests in flight on both workers are answered, then every process exits 0', async () => {
    const server = await startServerProcess({ ...(await persistentDatabaseEnv(join(dir, 'stop'))), WORKERS: '2', LOG_LEVEL: 'info', WECHAT_TIMEOUT_MS: '10000' });
    try {
      await waitFor(() => listeningPids(server).length === 2, 'both workers to listen');
      const pids = listeningPids(server);
      // Four logins held 1.5 s inside "WeChat", spread over both workers by the round robin.
      await queueFaults(server.url, { count: 4, delayMs: 1_500 });
      const codes = await Promise.all([1, 2, 3, 4].map(async (i) => (await mint(server.url, `stopping-${i}`)).code));
      const inFlight = codes.map((code) => call(server.url, '/trpc/login', { method: 'POST', body: JSON.stringify({ code }) }));
      await new Promise((resolve) => setTimeout(resolve, 400));
      expect(answeredBy(server, '/trpc/login').size).toBe(2);
      const stoppedAt = performance.now();
      server.child.kill('SIGTERM');
      const answers = await Promise.all(inFlight);
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200]);
      expect(await server.exited).toBe(0);
      expect(performance.now() - stoppedAt).toBeLessThan(12_000); // well inside the primary's grace period
      for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow(); // gone
    } finally {
      await server.stop();
    }
  });
});
