// The throwaway PostgreSQL harness itself (test/support/pg-cluster.ts), whatever WXKIT_TEST_BACKEND says:
// a real server, separate databases, down and back with data kept, nothing left behind, even after SIGKILL.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findPgBinDir, startPgCluster, type PgCluster } from './support/pg-cluster.ts';

/** Pids of processes (other than us) whose command line or working directory lies in `dir`. */
function processesIn(dir: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      let cwd = '';
      try {
        cwd = readlinkSync(`/proc/${entry}/cwd`); // postgres' children chdir into the data dir
      } catch {
        // not ours to read, or gone
      }
      const state = readFileSync(`/proc/${entry}/stat`, 'utf8').split(') ')[1]?.[0];
      if (state !== 'Z' && (cmdline.includes(dir) || cwd.startsWith(dir))) pids.push(Number(entry));
    } catch {
      // exited while we looked
    }
  }
  return pids;
}

async function waitFor(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return check();
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

describe('finding the PostgreSQL binaries', () => {
  it('says what to fix when PG_BIN points nowhere, instead of skipping', () => {
    expect(() => findPgBinDir({ PG_BIN: '/nonexistent' })).toThrow(/PG_BIN=\/nonexistent holds no initdb and postgres: point it at/);
    expect(existsSync(`${findPgBinDir({})}/initdb`)).toBe(true);
  });
});

describe('throwaway PostgreSQL cluster', () => {
  let cluster: PgCluster;
  let firstUrl: string;

  beforeAll(async () => {
    cluster = await startPgCluster();
  }, 30_000);

  afterAll(async () => {
    await cluster?.destroy();
  });

  it('is a real server on 127.0.0.1 with the throwaway settings, run by an unprivileged user', async () => {
    const [row] = await query<Record<string, string>>(cluster.adminUrl, `SELECT version(), host(inet_server_addr()) AS addr,
      inet_server_port()::text AS port, current_setting('fsync') AS fsync, current_setting('max_connections') AS max_connections,
      current_setting('synchronous_commit') AS synchronous_commit, current_setting('server_encoding') AS encoding`);
    expect(row).toMatchObject({ addr: '127.0.0.1', port: String(cluster.port), fsync: 'off', max_connections: '200', synchronous_commit: 'on', encoding: 'UTF8' });
    expect(row?.version).toMatch(/^PostgreSQL \d+/);
    expect(cluster.adminUrl).toBe(`postgres://postgres:${encodeURIComponent(cluster.password)}@127.0.0.1:${cluster.port}/postgres`);
    // Our child is the postmaster itself (setpriv execs), and never runs as root.
    expect(readFileSync(`${cluster.dataDir}/postmaster.pid`, 'utf8').split('\n')[0]).toBe(String(cluster.pid));
    const uid = readFileSync(`/proc/${cluster.pid}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)?.[1];
    expect(uid).toMatch(/^\d+$/);
    if (process.getuid?.() === 0) expect(Number(uid)).not.toBe(0);
    else expect(Number(uid)).toBe(process.getuid?.());
  });

  it('checks the password over TCP (so tests can assert that it never leaks)', async () => {
    const wrong = cluster.adminUrl.replace(encodeURIComponent(cluster.password), 'not-the-password');
    await expect(query(wrong, 'SELECT 1')).rejects.toMatchObject({ code: '28P01' });
  });

  it('creates separate, empty databases, named or unique', async () => {
    firstUrl = await cluster.createDatabase();
    const secondUrl = await cluster.createDatabase('pg_cluster_test_named');
    expect(new URL(secondUrl).pathname).toBe('/pg_cluster_test_named');
    expect(new URL(firstUrl).pathname).not.toBe(new URL(secondUrl).pathname);
    expect(await query(firstUrl, "SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'")).toEqual([{ n: 0 }]);

    await query(firstUrl, 'CREATE TABLE kept (v text)');
    await query(firstUrl, 'INSERT INTO kept VALUES ($1)', ['before the restart']);
    expect(await query(secondUrl, "SELECT to_regclass('public.kept') AS t")).toEqual([{ t: null }]);
    await expect(cluster.createDatabase('pg_cluster_test_named')).rejects.toMatchObject({ message: expect.stringContaining('already exists') });

    await cluster.dropDatabase('pg_cluster_test_named');
    await expect(query(secondUrl, 'SELECT 1')).rejects.toMatchObject({ code: '3D000' }); // database does not exist
    await expect(cluster.createDatabase('Robert"; DROP')).rejects.toThrow(/Invalid database name/);
  });

  it('stop → connections are refused at once; start → same port, data kept', async () => {
    const port = cluster.port;
    for (const mode of ['immediate', 'fast'] as const) {
      await query(firstUrl, 'INSERT INTO kept VALUES ($1)', [`committed before a ${mode} stop`]);
      await cluster.stop({ mode });
      expect(cluster.running).toBe(false);
      const started = Date.now();
      await expect(query(firstUrl, 'SELECT 1')).rejects.toMatchObject({ code: 'ECONNREFUSED' });
      expect(Date.now() - started).toBeLessThan(1000);
      expect(existsSync(cluster.dataDir)).toBe(true);

      await cluster.start();
      expect(cluster.port).toBe(port);
      const rows = await query<{ v: string }>(firstUrl, 'SELECT v FROM kept ORDER BY v');
      expect(rows.map((r) => r.v)).toContain(`committed before a ${mode} stop`);
    }
  });

  it('destroy → the folder is gone and no process of it is left', async () => {
    const { dir } = cluster;
    expect(processesIn(dir).length).toBeGreaterThan(1); // postmaster, its children, the watchdog
    await cluster.destroy();
    expect(existsSync(dir)).toBe(false);
    expect(await waitFor(() => processesIn(dir).length === 0, 3000)).toBe(true);
    await expect(cluster.start()).rejects.toThrow(/destroyed/);
  });

  it('a SIGKILLed owner leaves nothing behind (the watchdog stops postgres and removes the folder)', async () => {
    const cli = fileURLToPath(new URL('../../scripts/pg-cluster.mjs', import.meta.url));
    const child = spawn(process.execPath, [cli], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const ready = await waitFor(() => /data and log in (\S+) /.test(output) || child.exitCode !== null, 15_000);
    expect(ready, output).toBe(true);
    const dir = output.match(/data and log in (\S+) /)?.[1];
    expect(dir, output).toMatch(/wxkit-pg-/);
    const url = output.match(/^DATABASE_URL=(\S+)$/m)?.[1];
    expect(await query(url!, 'SELECT current_database() AS db')).toEqual([{ db: 'wxkit' }]);
    expect(processesIn(dir!).length).toBeGreaterThan(1);

    child.kill('SIGKILL');
    expect(await waitFor(() => processesIn(dir!).length === 0 && !existsSync(dir!), 5000), `left: ${processesIn(dir!).join(', ')}`).toBe(true);
  }, 20_000);
});
