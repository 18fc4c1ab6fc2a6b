import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { mintCode, queueFaults } from '../support/server.ts';
import { JWT_SECRET, loginRaw, trpcGet } from './support.ts';

// Graceful shutdown (issue 6, "Also"): SIGTERM while requests are in flight → they complete, new connections are
// refused, the database closes cleanly (WAL checkpointed and removed), exit code 0. The real entry point runs as a
// child process, as `npm start` runs it.

const serverDir = fileURLToPath(new URL('../..', import.meta.url));
/** Generous: the server's own force-exit is at 10 s. */
const EXIT_BOUND_MS = 9_000;

let child: ChildProcess | undefined;
let dir: string | undefined;
afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  if (dir) rmSync(dir, { recursive: true, force: true });
  child = undefined;
  dir = undefined;
});

async function startChild(): Promise<{ url: string; output: () => string; exited: Promise<number | null> }> {
  dir = mkdtempSync(join(tmpdir(), 'wxkit-shutdown-'));
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: serverDir,
    env: { PATH: process.env.PATH ?? '', PORT: '0', DATABASE_PATH: join(dir, 'app.db'), JWT_SECRET, LOG_LEVEL: 'info', WECHAT_TIMEOUT_MS: '10000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  let output = '';
  proc.stdout?.on('data', (d: Buffer) => (output += d.toString('utf8')));
  proc.stderr?.on('data', (d: Buffer) => (output += d.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${output}`)), 20_000);
    const check = () => {
      const match = /wxkit server ready: (http:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    };
    proc.stdout?.on('data', check);
    void exited.then(() => reject(new Error(`server exited before it was ready:\n${output}`)));
  });
  return { url, output: () => output, exited };
}

describe('SIGTERM with requests in flight', () => {
  it('lets them complete, refuses new connections, closes the database cleanly and exits 0', { timeout: 40_000 }, async () => {
    const { url, output, exited } = await startChild();
    const before = (await loginRaw(url, 'shutdown-before')).json as { result: { data: { token: string } } };

    // Three logins stuck 1.5 s inside "WeChat", plus a connection that never sends anything.
    await queueFaults(url, { count: 3, delayMs: 1_500 });
    const codes = await Promise.all([1, 2, 3].map((i) => mintCode(url, `shutdown-${i}`)));
    const inFlight = codes.map((code) =>
      fetch(`${url}/trpc/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) }).then(async (r) => ({
        status: r.status,
        body: (await r.json()) as { result?: { data: { token: string } } },
      })),
    );
    const { port } = new URL(url);
    const idle = connect({ host: '127.0.0.1', port: Number(port) });
    await new Promise((resolve) => idle.once('connect', resolve));
    await new Promise((resolve) => setTimeout(resolve, 300));

    const signalledAt = performance.now();
    child?.kill('SIGTERM');
    await new Promise((resolve) => setTimeout(resolve, 100));
    // Closing: the listening socket is gone, so a new connection is refused.
    await expect(fetch(`${url}/healthz`)).rejects.toThrow();

    const answers = await Promise.all(inFlight);
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    const code = await exited;
    expect(performance.now() - signalledAt).toBeLessThan(EXIT_BOUND_MS);
    expect(code, output()).toBe(0);
    expect(output()).toMatch(/closing: finishing requests in flight/);
    idle.destroy();

    // A clean close checkpoints the WAL and removes it; the data is all there and intact.
    const dbPath = join(dir ?? '', 'app.db');
    const wal = `${dbPath}-wal`;
    expect(!existsSync(wal) || statSync(wal).size === 0).toBe(true);
    const db = new Database(dbPath, { readonly: true });
    try {
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      expect((db.prepare('SELECT count(*) AS n FROM sessions').get() as { n: number }).n).toBe(4);
    } finally {
      db.close();
    }

    // The sessions issued before and during shutdown work after a restart on the same database.
    const restarted = await restartOn(dbPath);
    try {
      for (const token of [before.result.data.token, ...answers.map((a) => a.body.result?.data.token ?? '')]) {
        const check = await trpcGet(restarted.url, 'checkSession', { headers: { authorization: `Bearer ${token}` } });
        expect(check.json).toMatchObject({ result: { data: { valid: true } } });
      }
    } finally {
      child?.kill('SIGTERM');
      expect(await restarted.exited).toBe(0);
    }
  });

  it('SIGTERM on an idle server exits 0 at once, even with a client holding an unused connection', { timeout: 30_000 }, async () => {
    const { url, exited } = await startChild();
    const { port } = new URL(url);
    const idle = connect({ host: '127.0.0.1', port: Number(port) });
    await new Promise((resolve) => idle.once('connect', resolve));
    const signalledAt = performance.now();
    child?.kill('SIGTERM');
    expect(await exited).toBe(0);
    // Without dropping unused connections, close() would wait for Node's headersTimeout (60 s).
    expect(performance.now() - signalledAt).toBeLessThan(5_000);
    idle.destroy();
  });
});

async function restartOn(dbPath: string) {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: serverDir,
    env: { PATH: process.env.PATH ?? '', PORT: '0', DATABASE_PATH: dbPath, JWT_SECRET, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child = proc;
  let output = '';
  proc.stdout?.on('data', (d: Buffer) => (output += d.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`restart did not come up:\n${output}`)), 20_000);
    proc.stdout?.on('data', () => {
      const match = /wxkit server ready: (http:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
  });
  return { url, exited };
}
