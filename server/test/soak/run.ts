/**
 * `npm run test:soak` (issue 6, suite 8): load and crash, against the built server (`server/dist/server.js`, what
 * `npm start` runs), on 127.0.0.1 only.
 *
 * 1. Steady: SOAK_SECONDS (default 60) of mixed load (wx.login + login, getProfile, checkSession, updateProfile,
 *    batches, logout) from a separate process at SOAK_CONNECTIONS (default 50) connections → 0 errors; the server's
 *    RSS is reported at start, after warm-up and at the end.
 * 2. Crash: the same load again, and after SOAK_CRASH_AFTER_SECONDS (default 5) the server is killed with SIGKILL.
 * 3. Recovery: PRAGMA integrity_check and foreign_key_check on the database, no partial rows (every user has the
 *    session it was created with, every session its user); then the server restarts on the same database and
 *    every session issued before the kill (and not logged out) still works; SIGTERM → exit 0.
 * Exits 1 with the reasons when any check fails. Progress is printed every 5 s.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import type { LoadReport } from './load.ts';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 60);
const CONNECTIONS = Number(process.env.SOAK_CONNECTIONS ?? 50);
const CRASH_AFTER = Number(process.env.SOAK_CRASH_AFTER_SECONDS ?? 5);
/** A leak check with room to spare: V8 and SQLite caches grow while warming up, a leak grows without end. */
const RSS_GROWTH_LIMIT_MB = Number(process.env.SOAK_RSS_GROWTH_LIMIT_MB ?? 150);

const serverEntry = fileURLToPath(new URL('../../dist/server.js', import.meta.url));
const loadEntry = fileURLToPath(new URL('./load.ts', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'wxkit-soak-'));
const dbPath = join(dir, 'app.db');
const failures: string[] = [];
let checks = 0;
const log = (line: string) => process.stdout.write(`[soak] ${line}\n`);
const check = (ok: boolean, what: string) => {
  checks++;
  if (!ok) failures.push(what);
  log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
};

function rssMb(pid: number): number {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Math.round(Number(match[1]) / 1024) : NaN;
  } catch {
    return NaN;
  }
}

interface Server {
  proc: ChildProcess;
  url: string;
  exited: Promise<number | null>;
}

async function startServer(): Promise<Server> {
  // No JWT_SECRET: simulator mode keeps a generated one beside the database, so the restart must find it there.
  const proc = spawn(process.execPath, [serverEntry], {
    env: { PATH: process.env.PATH ?? '', HOST: '127.0.0.1', PORT: '0', DATABASE_PATH: dbPath, LOG_LEVEL: 'warn', LOGIN_RATE_LIMIT_PER_MINUTE: '100000' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  proc.stdout?.on('data', (d: Buffer) => (output += d.toString('utf8')));
  proc.stderr?.on('data', (d: Buffer) => {
    output += d.toString('utf8');
    process.stderr.write(`[server] ${d.toString('utf8')}`);
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start within 30 s:\n${output}`)), 30_000);
    proc.stdout?.on('data', () => {
      const match = /wxkit server ready: (http:\/\/\S+)/.exec(output);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    void exited.then((code) => reject(new Error(`the server exited (${code}) before it was ready:\n${output}`)));
  });
  return { proc, url, exited };
}

/** Runs the load process; `onProgress` sees its 5-second reports. Resolves with its final report. */
function runLoad(order: { url: string; seconds: number; label: string }, onStart?: (load: ChildProcess) => void): Promise<LoadReport> {
  const load = fork(loadEntry, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve, reject) => {
    load.on('message', (message: { type: string; report?: LoadReport; error?: string; requests?: number; httpErrors?: number; networkErrors?: number; liveSessions?: number }) => {
      if (message.type === 'progress') {
        log(`  ${order.label}: ${message.requests} requests, ${message.httpErrors} HTTP errors, ${message.networkErrors} network errors, ${message.liveSessions} live sessions`);
      } else if (message.type === 'done' && message.report) {
        load.kill();
        resolve(message.report);
      } else if (message.type === 'failed') {
        load.kill();
        reject(new Error(`load process failed: ${message.error}`));
      }
    });
    load.once('exit', (code) => reject(new Error(`load process exited (${code}) without a report`)));
    load.send({ type: 'start', order: { ...order, connections: CONNECTIONS } });
    onStart?.(load);
  });
}

async function verifySessions(url: string, sessions: LoadReport['liveSessions']): Promise<{ ok: number; bad: string[] }> {
  let ok = 0;
  const bad: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < sessions.length) {
        const session = sessions[next++];
        if (!session) break;
        const response = await fetch(`${url}/trpc/checkSession`, { headers: { authorization: `Bearer ${session.token}` } });
        const body = (await response.json()) as { result?: { data?: { valid: boolean; userId?: string; reason?: string } } };
        const data = body.result?.data;
        if (data?.valid && data.userId === session.userId) ok++;
        else if (bad.length < 10) bad.push(JSON.stringify(data ?? body).slice(0, 200));
        else bad.push('…');
      }
    }),
  );
  return { ok, bad };
}

async function main() {
  log(`steady ${SECONDS} s at ${CONNECTIONS} connections, then kill -9 after ${CRASH_AFTER} s of load; database ${dbPath}`);

  // 1. Steady load.
  const server = await startServer();
  const pid = server.proc.pid ?? 0;
  const rssStart = rssMb(pid);
  log(`server ${server.url} (pid ${pid}), RSS at start ${rssStart} MB`);
  let rssWarm = NaN;
  let rssPeak = rssStart;
  const sampler = setInterval(() => {
    const now = rssMb(pid);
    rssPeak = Math.max(rssPeak, now);
    log(`  server RSS ${now} MB`);
  }, 5_000);
  const warm = setTimeout(() => (rssWarm = rssMb(pid)), Math.min(10, SECONDS / 2) * 1000);
  const steady = await runLoad({ url: server.url, seconds: SECONDS, label: 'steady' });
  clearInterval(sampler);
  clearTimeout(warm);
  const rssEnd = rssMb(pid);
  const rps = Math.round(steady.requests / (steady.elapsedMs / 1000));
  log(`steady: ${steady.requests} requests in ${(steady.elapsedMs / 1000).toFixed(1)} s (${rps}/s), ${steady.httpErrors} HTTP errors, ${steady.networkErrors} network errors`);
  log(`steady: by operation ${JSON.stringify(steady.byOp)}`);
  log(`RSS: start ${rssStart} MB, after warm-up ${rssWarm} MB, peak ${rssPeak} MB, end ${rssEnd} MB`);
  for (const sample of steady.errorSamples) log(`  error: ${sample}`);
  if (steady.networkErrors > 0) log(`  network errors by operation ${JSON.stringify(steady.cutOps)}`);
  check(steady.requests > 0, `steady load made requests (${steady.requests})`);
  check(steady.httpErrors === 0 && steady.networkErrors === 0, `steady load: 0 errors (${steady.httpErrors} HTTP, ${steady.networkErrors} network)`);
  const baseline = Number.isNaN(rssWarm) ? rssStart : rssWarm;
  check(rssEnd - baseline <= RSS_GROWTH_LIMIT_MB, `RSS flat: end ${rssEnd} MB is within ${RSS_GROWTH_LIMIT_MB} MB of ${baseline} MB after warm-up`);

  // 2. Crash mid-load.
  let killedAt = 0;
  const crash = await runLoad({ url: server.url, seconds: 0, label: 'crash' }, () => {
    setTimeout(() => {
      killedAt = performance.now();
      log(`kill -9 ${pid} mid-load`);
      server.proc.kill('SIGKILL');
    }, CRASH_AFTER * 1000);
  });
  await server.exited;
  log(`crash: ${crash.requests} requests answered before the kill, ${crash.httpErrors} HTTP errors, ${crash.networkErrors} connections cut by the kill, ${crash.ambiguousSessions} logouts in flight (excluded)`);
  log(`crash: operations cut by the kill ${JSON.stringify(crash.cutOps)}`);
  for (const sample of crash.errorSamples) log(`  error: ${sample}`);
  check(killedAt > 0 && crash.requests > 0, 'the server was killed while serving load');
  check(crash.httpErrors === 0, `crash phase: 0 HTTP errors before the kill (${crash.httpErrors})`);

  // 3. Recovery: the database as the kill left it.
  const db = new Database(dbPath);
  const integrity = db.pragma('integrity_check', { simple: true });
  const foreignKeys = db.pragma('foreign_key_check') as unknown[];
  const userCount = (db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n;
  const sessionCount = (db.prepare('SELECT count(*) AS n FROM sessions').get() as { n: number }).n;
  const usersWithoutSession = (db.prepare('SELECT count(*) AS n FROM users u WHERE NOT EXISTS (SELECT 1 FROM sessions s WHERE s.user_id = u.id)').get() as { n: number }).n;
  const orphanSessions = (db.prepare('SELECT count(*) AS n FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = s.user_id)').get() as { n: number }).n;
  // Round 2's schema: a user's ways in are its WeChat identity or password credential (users.openid is gone).
  const incomplete = (
    db
      .prepare(
        'SELECT count(*) AS n FROM users u WHERE u.created_at IS NULL OR u.updated_at IS NULL OR (NOT EXISTS (SELECT 1 FROM wechat_identities w WHERE w.user_id = u.id) AND NOT EXISTS (SELECT 1 FROM password_credentials c WHERE c.user_id = u.id))',
      )
      .get() as { n: number }
  ).n;
  db.close();
  log(`database: ${userCount} users, ${sessionCount} sessions`);
  check(integrity === 'ok', `PRAGMA integrity_check: ${String(integrity)}`);
  check(foreignKeys.length === 0, `PRAGMA foreign_key_check: ${foreignKeys.length} violations`);
  check(usersWithoutSession === 0 && orphanSessions === 0 && incomplete === 0, `no partial rows (${usersWithoutSession} users without their first session, ${orphanSessions} sessions without a user, ${incomplete} incomplete users)`);

  const restarted = await startServer();
  const sessions = [...steady.liveSessions, ...crash.liveSessions];
  const verified = await verifySessions(restarted.url, sessions);
  for (const line of verified.bad) log(`  not valid after restart: ${line}`);
  check(sessions.length > 0 && verified.ok === sessions.length, `every session issued before the kill still works after a restart (${verified.ok}/${sessions.length}, ${steady.liveSessions.length} from the steady run, ${crash.liveSessions.length} from the crash run)`);
  restarted.proc.kill('SIGTERM');
  check((await restarted.exited) === 0, 'the restarted server closes on SIGTERM with exit 0');

  log(`SUMMARY requests=${steady.requests} errors=${steady.httpErrors + steady.networkErrors} rps=${rps} rss_start_mb=${rssStart} rss_warm_mb=${rssWarm} rss_end_mb=${rssEnd} crash_requests=${crash.requests} sessions_verified=${verified.ok}/${sessions.length}`);
  const passed = failures.length === 0;
  process.stdout.write(`\n${checks - failures.length} passed, ${failures.length} failed\n`);
  rmSync(dir, { recursive: true, force: true });
  if (!passed) {
    log(`failed: ${failures.join('; ')}`);
    process.exit(1);
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`[soak] ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  rmSync(dir, { recursive: true, force: true });
  process.exit(1);
});
