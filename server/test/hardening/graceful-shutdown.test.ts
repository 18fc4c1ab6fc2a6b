import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { mintCode, queueFaults } from '../support/server.ts';
import { startServerProcess } from '../support/server-process.ts';
import { JWT_SECRET, loginRaw, trpcGet } from './support.ts';

// Graceful shutdown (issue 6, "Also"): SIGTERM while requests are in flight → they complete, new connections are
// refused, the database closes cleanly (WAL checkpointed and removed), exit code 0. The real entry point runs as a
// child process, as `npm start` runs it.

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
  const server = await startServerProcess({ DATABASE_PATH: join(dir, 'app.db'), JWT_SECRET, LOG_LEVEL: 'info', WECHAT_TIMEOUT_MS: '10000' });
  child = server.child;
  return { url: server.url, output: server.output, exited: server.exited };
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
  const server = await startServerProcess({ DATABASE_PATH: dbPath, JWT_SECRET });
  child = server.child;
  return { url: server.url, exited: server.exited };
}
