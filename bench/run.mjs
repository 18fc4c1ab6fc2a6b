// `npm run bench`: servers one after another, in this run:
//   bare       bare Fastify answering GET /hello;
//   plain      a plain Fastify route doing getProfile's / checkSession's work without tRPC (bench/servers/plain.ts);
//   reference  the straightforward tRPC server (bench/servers/reference.ts);
//   ours       our server (the production bundle, server/dist/server.js, real mode against the simulator below, a
//              temp SQLite database);
//   ours-w2    the same with WORKERS=2;
//   ours-pg, ours-pg-w2   the same on PostgreSQL (a throwaway cluster this run starts), WORKERS=1 and 2.
// Every server that logs users in talks to a WeChat simulator in its own process (bench/servers/simulator.ts, one per
// server, like WeChat on another machine); login codes are minted from it. Each server is loaded from a separate
// process (bench/load.mjs, autocannon) after a warm-up. Prints a table with ratios against the baselines of this same
// run and writes JSON to bench/results/. BENCH_QUICK=1: a short version for CI (nothing asserted).
//
// Knobs (environment): BENCH_QUICK=1, BENCH_CONNECTIONS (50), BENCH_DURATION / BENCH_WARMUP / BENCH_SOAK (seconds),
// BENCH_ONLY=bare,plain,reference,ours,ours-w2,ours-pg,ours-pg-w2 and
// BENCH_SCENARIOS=getProfile,checkSession,login,soak (subsets, for profiling),
// BENCH_COMPARE=<a server bundle> (an extra row set, e.g. a build of the previous commit, for a before/after in one
// run), BENCH_CPU_PROF=1 (node --cpu-prof for each server process, into bench/results/profiles/<server>-<time>/;
// summarize with `node bench/profile-top.mjs <file> [top] [--last=<seconds>]`).
import { execFileSync, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { startServer as startProcess, stopAllServers, stopServer } from './lib/server-process.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const resultsDir = join(root, 'bench/results');
const quick = process.env.BENCH_QUICK === '1';
const num = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
const settings = {
  quick,
  connections: num('BENCH_CONNECTIONS', 50),
  warmupSec: num('BENCH_WARMUP', quick ? 1 : 3),
  durationSec: num('BENCH_DURATION', quick ? 2 : 10),
  soakSec: num('BENCH_SOAK', quick ? 5 : 60),
  /** Login codes minted per server (one per login request), and how many simulated users they are spread over. */
  // Enough for warm-up + measured time at well above our login rate: a run that runs out measures replays instead.
  codes: num('BENCH_CODES', quick ? 10000 : 50000),
  /** Logged-in users whose tokens the getProfile / checkSession scenarios rotate through. */
  tokenUsers: quick ? 64 : 256,
};
const compareBundle = process.env.BENCH_COMPARE;
const allServers = ['bare', 'plain', 'reference', 'ours', 'ours-w2', 'ours-pg', 'ours-pg-w2'];
const only = new Set([...(process.env.BENCH_ONLY ?? allServers.join(',')).split(','), ...(compareBundle ? ['compare'] : [])]);
const scenarios = new Set((process.env.BENCH_SCENARIOS ?? 'getProfile,checkSession,login,soak').split(','));
const cpuProf = process.env.BENCH_CPU_PROF === '1';

/**
 * Our server, four ways: the same bundle, SQLite or PostgreSQL, one process or two (node:cluster). BENCH_COMPARE=<a
 * server bundle> (e.g. a build of the previous commit) adds it on SQLite, run just before ours, for before/after
 * ratios of a change measured in one run.
 */
const oursVariants = [
  ...(compareBundle ? [{ name: 'compare', label: 'compare bundle', backend: 'sqlite', workers: 1, bundle: compareBundle }] : []),
  { name: 'ours', label: 'ours', backend: 'sqlite', workers: 1 },
  { name: 'ours-w2', label: 'ours WORKERS=2', backend: 'sqlite', workers: 2, oneWorker: 'ours' },
  { name: 'ours-pg', label: 'ours pg', backend: 'pg', workers: 1 },
  { name: 'ours-pg-w2', label: 'ours pg WORKERS=2', backend: 'pg', workers: 2, oneWorker: 'ours-pg' },
];
const labels = { bare: 'bare Fastify', plain: 'plain route', reference: 'straightforward', ...Object.fromEntries(oursVariants.map((v) => [v.name, v.label])) };
/** The WeChat AppID and secret every server under test and its simulator share (ours runs in real mode with them). */
const benchWeChat = { WECHAT_APPID: 'wxbench0000000000', WECHAT_SECRET: 'bench-secret-not-a-secret' };

const log = (line) => process.stderr.write(`${line}\n`);
const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();
const load = () => loadavg().map((l) => Math.round(l * 100) / 100);

// ---------- process counters ----------

function statFields(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** The process and its descendants (a cluster primary and its workers), from /proc (Linux). */
function processTree(rootPid) {
  const children = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const ppid = Number(statFields(entry)[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const pids = [rootPid];
  for (let i = 0; i < pids.length; i++) pids.push(...(children.get(pids[i]) ?? []));
  return pids;
}

/** utime and stime of processes, in µs, summed (a process that is gone counts 0). */
function cpuMicros(pids) {
  let user = 0;
  let system = 0;
  for (const pid of pids) {
    try {
      const fields = statFields(pid);
      user += (Number(fields[11]) * 1e6) / clockTicks;
      system += (Number(fields[12]) * 1e6) / clockTicks;
    } catch {
      // gone meanwhile
    }
  }
  return { user, system, total: user + system };
}

function rssMB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return Math.round((kb / 1024) * 10) / 10;
}

// ---------- servers ----------

async function buildAll(buildDir) {
  log('build: our server (server/scripts/build.mjs) and the bench servers (reference, plain route, simulator)');
  execFileSync(process.execPath, [join(root, 'server/scripts/build.mjs')], { stdio: ['ignore', 'inherit', 'inherit'] });
  await build({
    absWorkingDir: root,
    entryPoints: { reference: 'bench/servers/reference.ts', plain: 'bench/servers/plain.ts', simulator: 'bench/servers/simulator.ts' },
    outdir: buildDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    alias: { '@wxkit/shared': './shared/src/index.ts' },
    logLevel: 'warning',
  });
}

/**
 * A server process. BENCH_CPU_PROF=1: a profile folder per server (cluster workers inherit the flags, and each process
 * writes its own profile there).
 */
const startServer = (name, args, env) =>
  startProcess(name, args, env, { nodeArgs: cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${join(resultsDir, 'profiles', `${name}-${Date.now()}`)}`] : [] });

/** A server and the WeChat simulator (its own process) it is configured to call; both stopped by `stop`. */
async function withSimulator(name, start) {
  const simulator = await startServer(`${name}-simulator`, [join(buildDir, 'simulator.mjs')], benchWeChat);
  let server;
  try {
    server = await start(`${simulator.url}/__wechat`);
  } catch (error) {
    await stopServer(simulator);
    throw error;
  }
  return { ...server, simulatorUrl: simulator.url, stop: () => Promise.all([stopServer(server), stopServer(simulator)]) };
}

let pgCluster;
/** A fresh database on this run's throwaway PostgreSQL cluster (started on first use, like the tests' one). */
async function freshPgDatabase() {
  if (!pgCluster) {
    log('postgres: starting a throwaway cluster (server/test/support/pg-cluster.ts)');
    const { tsImport } = await import('tsx/esm/api');
    const { startPgCluster } = await tsImport('../server/test/support/pg-cluster.ts', import.meta.url);
    pgCluster = await startPgCluster();
  }
  return pgCluster.createDatabase();
}

// ---------- fixtures (made before a measurement, never during one) ----------

async function pool(count, concurrency, task) {
  const results = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, count) }, async () => {
      while (next < count) {
        const i = next++;
        results[i] = await task(i);
      }
    }),
  );
  return results;
}

async function mint(simulatorUrl, user) {
  const response = await fetch(`${simulatorUrl}/__wechat/dev/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user }),
  });
  if (!response.ok) throw new Error(`minting a code failed: HTTP ${response.status}`);
  return (await response.json()).code;
}

async function loginTokens(server, users) {
  return pool(users, 16, async (i) => {
    const code = await mint(server.simulatorUrl, `bench-token-${i}`);
    const response = await fetch(`${server.url}/trpc/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
    const body = await response.json();
    if (!response.ok) throw new Error(`fixture login failed: HTTP ${response.status} ${JSON.stringify(body)}`);
    return body.result.data.token;
  });
}

async function plainTokens(server, users) {
  return pool(users, 16, async () => {
    const response = await fetch(`${server.url}/fixture/login`, { method: 'POST' });
    if (!response.ok) throw new Error(`plain fixture login failed: HTTP ${response.status}`);
    return (await response.json()).token;
  });
}

async function mintCodes(simulatorUrl, count) {
  // WeChat (and the simulator) allow 100 exchanges a minute per user: spread the codes so no user gets near that.
  const users = Math.ceil(count / 40);
  let done = 0;
  return pool(count, 32, async (i) => {
    const code = await mint(simulatorUrl, `bench-login-${i % users}`);
    if (++done % 10000 === 0) log(`  minted ${done}/${count} codes`);
    return code;
  });
}

// ---------- measurement ----------

let loader;
function startLoader() {
  loader = fork(join(root, 'bench/load.mjs'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  return new Promise((resolve) => loader.once('message', resolve));
}

function nextMessage(...types) {
  return new Promise((resolve, reject) => {
    const onMessage = (message) => {
      if (message.type === 'error') {
        loader.off('message', onMessage);
        reject(new Error(`load generator: ${message.message}`));
      } else if (types.includes(message.type)) {
        loader.off('message', onMessage);
        resolve(message);
      }
    };
    loader.on('message', onMessage);
  });
}

/**
 * Warm-up, then the measured run with the server's CPU time (every process of it: a cluster's primary and workers;
 * not the simulator's, not PostgreSQL's) read right before and right after it.
 */
async function measure(server, label, scenario, durationSec = settings.durationSec, during) {
  log(`  ${server.name} · ${label}: warm-up ${settings.warmupSec} s, then ${durationSec} s at -c ${settings.connections}`);
  loader.send({ type: 'run', url: server.url, connections: settings.connections, warmupSec: settings.warmupSec, durationSec, scenario });
  await nextMessage('warm');
  const pids = processTree(server.pid);
  const cpuBefore = cpuMicros(pids);
  const stopSampling = during?.();
  loader.send({ type: 'go' });
  const done = await nextMessage('done');
  const cpuAfter = cpuMicros(pids);
  const samples = stopSampling?.();
  const m = done.measured;
  const row = {
    server: server.name,
    scenario: label,
    rps: Math.round(m.rps),
    p50Ms: m.latency.p50,
    p99Ms: m.latency.p99,
    maxMs: m.latency.max,
    cpuUsPerReq: Math.round(((cpuAfter.total - cpuBefore.total) / m.requests) * 10) / 10,
    cpuUserUsPerReq: Math.round(((cpuAfter.user - cpuBefore.user) / m.requests) * 10) / 10,
    cpuSystemUsPerReq: Math.round(((cpuAfter.system - cpuBefore.system) / m.requests) * 10) / 10,
    processes: pids.length,
    loadAvgAfter: load(),
    requests: m.requests,
    non2xx: m.non2xx,
    errors: m.errors,
    timeouts: m.timeouts,
    ...(done.codesUsed ? { codesUsed: done.codesUsed, codesExhausted: done.codesExhausted } : {}),
    ...(done.tokensCollected ? { tokensCollected: done.tokensCollected } : {}),
    ...(samples ? { rssSamples: samples } : {}),
  };
  if (row.codesExhausted) {
    log(`    ${server.name} ran out of login codes (${row.codesUsed}): the rest replayed one code (the idempotent path, no exchange). This row gets no ratio; raise BENCH_CODES.`);
  }
  log(`    ${row.rps} req/s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, ${row.cpuUsPerReq} µs CPU/req (user ${row.cpuUserUsPerReq}, system ${row.cpuSystemUsPerReq}), non-2xx ${row.non2xx}, errors ${row.errors}`);
  return row;
}

const authorizedGet = (path, token) => ({ method: 'GET', path, headers: { authorization: `Bearer ${token}` } });
// What our client's httpBatchLink sends for one query.
const trpcPath = (procedure) => `/trpc/${procedure}?batch=1&input=%7B%7D`;

async function benchTRPCServer(server, work) {
  log(`  ${server.name}: logging in ${settings.tokenUsers} users for tokens`);
  const tokens = await loginTokens(server, settings.tokenUsers);
  const rows = [];
  for (const procedure of ['getProfile', 'checkSession']) {
    if (!scenarios.has(procedure)) continue;
    rows.push(await measure(server, procedure, { kind: 'static', requests: tokens.map((t) => authorizedGet(trpcPath(procedure), t)) }));
  }
  if (!scenarios.has('login')) return { rows, tokens, tokensOut: undefined };
  log(`  ${server.name}: minting ${settings.codes} login codes at its simulator`);
  const codesFile = join(work, `${server.name}-codes.json`);
  writeFileSync(codesFile, JSON.stringify(await mintCodes(server.simulatorUrl, settings.codes)));
  const tokensOut = join(work, `${server.name}-login-tokens.json`);
  rows.push(await measure(server, 'login', { kind: 'codes', path: '/trpc/login?batch=1', codesFile, collectTokens: true, tokensOut }));
  return { rows, tokens, tokensOut };
}

/**
 * Soak: getProfile and checkSession for 60 s over every token we have (more than the verified-token cache holds, so
 * it churns), the server's RSS sampled every second.
 */
async function soak(server, result, work) {
  const soakTokens = [...result.tokens, ...(result.tokensOut ? JSON.parse(readFileSync(result.tokensOut, 'utf8')) : [])];
  const tokensFile = join(work, 'soak-tokens.json');
  writeFileSync(tokensFile, JSON.stringify(soakTokens));
  const beforeSoakMB = rssMB(server.pid);
  const sampler = () => {
    const samples = [];
    const started = Date.now();
    const timer = setInterval(() => samples.push({ s: Math.round((Date.now() - started) / 1000), rssMB: rssMB(server.pid) }), 1000);
    return () => {
      clearInterval(timer);
      return samples;
    };
  };
  const paths = [trpcPath('getProfile'), trpcPath('checkSession')];
  const row = await measure(server, `soak (${soakTokens.length} tokens)`, { kind: 'rotate', paths, tokensFile }, settings.soakSec, sampler);
  const afterSoakMB = rssMB(server.pid);
  const samples = row.rssSamples ?? [];
  const halfwayMB = samples.filter((s) => s.s <= settings.soakSec / 2).at(-1)?.rssMB ?? beforeSoakMB;
  return {
    beforeSoakMB,
    halfwayMB,
    afterSoakMB,
    maxMB: Math.max(beforeSoakMB, ...samples.map((s) => s.rssMB)),
    secondHalfGrowthMB: Math.round((afterSoakMB - halfwayMB) * 10) / 10,
    soak: { seconds: settings.soakSec, tokens: soakTokens.length, rps: row.rps, p99Ms: row.p99Ms, cpuUsPerReq: row.cpuUsPerReq, non2xx: row.non2xx, samples: samples.filter((s) => s.s % 5 === 0) },
    soakRow: row,
  };
}

// ---------- report ----------

const fmt = (n, digits = 0) => (n === undefined || Number.isNaN(n) ? '–' : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const times = (n) => (n === undefined ? '' : `${fmt(n, 2)}×`);

function table(rows, ratios) {
  const header = ['scenario', 'server', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'ours/plain', 'ours/bare', 'ours/straightforward', 'WORKERS=2/1'];
  const lines = rows.map((r) => {
    const ratio = ratios[`${r.server} ${r.scenario}`] ?? {};
    return [r.scenario, labels[r.server] ?? r.server, fmt(r.rps), fmt(r.p50Ms), fmt(r.p99Ms), fmt(r.cpuUsPerReq, 1), times(ratio.vsPlain), times(ratio.vsBare), times(ratio.vsReference), times(ratio.vsOneWorker)];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const row = (cells) => `| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  return [row(header), `|${widths.map((w, i) => (i < 2 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...lines.map(row)].join('\n');
}

// ---------- main ----------

const buildDir = join(resultsDir, '.build');

async function main() {
  mkdirSync(resultsDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'wxkit-bench-'));
  const startedAt = new Date();
  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAvgAtStart: load(),
  };
  log(`wxkit bench${quick ? ' (BENCH_QUICK: short runs, nothing asserted)' : ''}: ${machine.cores} × ${machine.cpu}, Node ${machine.node}, load ${machine.loadAvgAtStart.join(' ')}`);
  await buildAll(buildDir);
  await startLoader();

  const rows = [];
  const rss = {};
  try {
    if (only.has('bare')) {
      const bare = await startServer('bare', [join(root, 'bench/servers/bare.mjs')], {});
      try {
        rows.push(await measure(bare, 'hello', { kind: 'static', requests: [{ method: 'GET', path: '/hello' }] }));
      } finally {
        await stopServer(bare);
      }
    }

    if (only.has('plain')) {
      const plain = await startServer('plain', [join(buildDir, 'plain.mjs')], { MIGRATIONS_FOLDER: join(root, 'server/drizzle/sqlite') });
      try {
        const tokens = await plainTokens(plain, settings.tokenUsers);
        for (const procedure of ['getProfile', 'checkSession']) {
          if (!scenarios.has(procedure)) continue;
          rows.push(await measure(plain, procedure, { kind: 'static', requests: tokens.map((t) => authorizedGet(`/plain/${procedure}`, t)) }));
        }
      } finally {
        await stopServer(plain);
      }
    }

    if (only.has('reference')) {
      const reference = await withSimulator('reference', (wechatBase) =>
        startServer('reference', [join(buildDir, 'reference.mjs')], { MIGRATIONS_FOLDER: join(root, 'server/drizzle/sqlite'), WECHAT_API_BASE: wechatBase, ...benchWeChat }),
      );
      try {
        rows.push(...(await benchTRPCServer(reference, work)).rows);
      } finally {
        await reference.stop();
      }
    }

    for (const variant of oursVariants) {
      if (!only.has(variant.name)) continue;
      const dataDir = join(work, `${variant.name}-data`);
      const databaseUrl = variant.backend === 'pg' ? await freshPgDatabase() : '';
      const ours = await withSimulator(variant.name, (wechatBase) =>
        startServer(variant.name, [variant.bundle ?? join(root, 'server/dist/server.js')], {
          PORT: '0',
          HOST: '127.0.0.1',
          DATABASE_PATH: join(dataDir, 'app.db'),
          DATABASE_URL: databaseUrl,
          WORKERS: String(variant.workers),
          // Request logs are per request at info level; the bench compares handlers, so no server logs per request.
          LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
          LOGIN_RATE_LIMIT_PER_MINUTE: '100000',
          // Real mode, as in production: WeChat is the simulator's process, and /__wechat is not served.
          ...benchWeChat,
          WECHAT_API_BASE: wechatBase,
          JWT_SECRET: randomBytes(48).toString('base64url'),
        }),
      );
      try {
        if (variant.name === 'ours') rss.atStartMB = rssMB(ours.pid);
        const result = await benchTRPCServer(ours, work);
        rows.push(...result.rows);
        if (variant.name === 'ours' && scenarios.has('soak')) Object.assign(rss, await soak(ours, result, work));
      } finally {
        await ours.stop();
      }
    }
  } finally {
    loader.kill();
    await pgCluster?.destroy();
  }

  // Ratios: each of our rows against the baselines of this same run.
  const by = (server, scenario) => rows.find((r) => r.server === server && r.scenario === scenario);
  const bare = by('bare', 'hello');
  const ratios = {};
  for (const variant of oursVariants) {
    for (const scenario of ['getProfile', 'checkSession', 'login']) {
      const ours = by(variant.name, scenario);
      if (!ours) continue;
      const reference = by('reference', scenario);
      const plain = by('plain', scenario);
      const oneWorker = variant.oneWorker ? by(variant.oneWorker, scenario) : undefined;
      // A login row that ran out of codes measured replays, not exchanges: no ratio rather than a flattering one.
      const exhausted = (r) => r?.codesExhausted === true;
      if (exhausted(ours)) {
        ratios[`${variant.name} ${scenario}`] = {};
        continue;
      }
      ratios[`${variant.name} ${scenario}`] = {
        ...(plain ? { vsPlain: ours.rps / plain.rps } : {}),
        ...(bare ? { vsBare: ours.rps / bare.rps } : {}),
        ...(reference && !exhausted(reference) ? { vsReference: ours.rps / reference.rps } : {}),
        ...(oneWorker && !exhausted(oneWorker) ? { vsOneWorker: ours.rps / oneWorker.rps } : {}),
      };
    }
  }
  const compared = ['getProfile', 'checkSession', 'login']
    .map((scenario) => [scenario, by('ours', scenario), by('compare', scenario)])
    .filter(([, ours, other]) => ours && other && !ours.codesExhausted && !other.codesExhausted)
    .map(([scenario, ours, other]) => `${scenario} ${fmt(ours.rps / other.rps, 2)}×`);
  // The issue's goals, printed for reading (never asserted: this machine is shared and the numbers move).
  const check = (ok) => (ok === undefined ? '–' : ok ? 'met' : 'MISSED');
  const targets = [];
  for (const scenario of ['getProfile', 'checkSession']) {
    const ours = by('ours', scenario);
    if (!ours) continue;
    const vsPlain = ratios[`ours ${scenario}`]?.vsPlain;
    targets.push({ target: `${scenario} ≥ 0.9× the plain route`, value: vsPlain, ok: vsPlain === undefined ? undefined : vsPlain >= 0.9 });
    targets.push({ target: `${scenario} p99 ≤ 10 ms at ${settings.connections} connections`, value: ours.p99Ms, ok: ours.p99Ms <= 10 });
  }
  const login = by('ours', 'login');
  if (login) targets.push({ target: 'login ≥ 1,500/s (simulator in its own process; an absolute figure for this machine)', value: login.rps, ok: login.codesExhausted ? undefined : login.rps >= 1500 });
  if (rss.afterSoakMB !== undefined) {
    targets.push({ target: `RSS after ${settings.soakSec} s of load ≤ 200 MB`, value: rss.afterSoakMB, ok: rss.afterSoakMB <= 200 });
    targets.push({ target: 'RSS flat (second half of the soak grows ≤ 10 MB)', value: rss.secondHalfGrowthMB, ok: rss.secondHalfGrowthMB <= 10 });
  }

  machine.loadAvgAtEnd = load();
  const text = [
    '',
    `wxkit bench — ${startedAt.toISOString()}${quick ? ' — BENCH_QUICK (short runs; numbers are indicative only)' : ''}`,
    `machine: ${machine.cores} × ${machine.cpu}, ${machine.memoryGB} GB, Node ${machine.node}; load average ${machine.loadAvgAtStart.join(' ')} → ${machine.loadAvgAtEnd.join(' ')}`,
    `autocannon -c ${settings.connections}, warm-up ${settings.warmupSec} s, measured ${settings.durationSec} s per row; CPU = the server's processes' utime+stime / requests (not the simulator's, not PostgreSQL's); queries as the client sends them (GET /trpc/<name>?batch=1&input={}), login = POST /trpc/login?batch=1 with a fresh code each, WeChat simulated in a separate process`,
    '',
    table(rows, ratios),
    '',
    ...(compared.length > 0 ? [`ours / compare bundle (${compareBundle}), req/s: ${compared.join(', ')}`, ''] : []),
    rss.afterSoakMB !== undefined
      ? `ours RSS: ${rss.atStartMB} MB at start, ${rss.beforeSoakMB} MB before the soak, ${rss.halfwayMB} MB halfway, ${rss.afterSoakMB} MB after ${settings.soakSec} s of getProfile+checkSession over ${rss.soak.tokens} tokens (${fmt(rss.soak.rps)} req/s, p99 ${rss.soak.p99Ms} ms); max ${rss.maxMB} MB`
      : '',
    '',
    'targets:',
    ...targets.map((t) => `  ${check(t.ok).padEnd(6)} ${t.target}: ${typeof t.value === 'number' ? fmt(t.value, 2) : '–'}`),
    '',
  ].join('\n');
  process.stdout.write(text);

  const failures = [...rows, ...(rss.soakRow ? [rss.soakRow] : [])].filter((r) => r.non2xx > 0 || r.errors > 0 || r.timeouts > 0);
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const json = { startedAt: startedAt.toISOString(), settings, machine, rows, ratios, rss, targets, failures: failures.map((r) => `${r.server} ${r.scenario}`) };
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `bench-${stamp}${quick ? '-quick' : ''}.json`);
  writeFileSync(file, JSON.stringify(json, null, 2));
  copyFileSync(file, join(resultsDir, 'latest.json'));
  writeFileSync(join(resultsDir, 'latest.txt'), text);
  process.stdout.write(`results: ${file} (and bench/results/latest.json, latest.txt)\n`);
  rmSync(work, { recursive: true, force: true });

  if (failures.length > 0) {
    process.stderr.write(`bench broken: non-2xx answers, errors or timeouts in ${json.failures.join(', ')} — the numbers above are not valid.\n`);
    process.exit(1);
  }
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    log(`bench: ${signal}, stopping what it started`);
    loader?.kill();
    Promise.all([stopAllServers(), pgCluster?.destroy()])
      .catch(() => undefined)
      .finally(() => process.exit(130));
  });
}

main().catch(async (error) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  loader?.kill();
  await pgCluster?.destroy().catch(() => undefined);
  process.exit(1);
});
