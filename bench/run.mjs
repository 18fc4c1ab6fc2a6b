// `npm run bench`: three servers, one after another, in this run: (a) bare Fastify, (b) the straightforward tRPC
// reference (bench/servers/reference.ts), (c) our server (the production bundle, server/dist/server.js, simulator
// mode, a temp database). Each is loaded from a separate process (bench/load.mjs, autocannon) after a warm-up.
// Prints a table and writes JSON to bench/results/. BENCH_QUICK=1: a short version for CI (nothing asserted).
//
// Knobs (environment): BENCH_QUICK=1, BENCH_CONNECTIONS (50), BENCH_DURATION / BENCH_WARMUP / BENCH_SOAK (seconds),
// BENCH_ONLY=bare,reference,ours and BENCH_SCENARIOS=getProfile,checkSession,login,soak (subsets, for profiling),
// BENCH_CPU_PROF=1 (node --cpu-prof for each server, into
// bench/results/profiles; summarize with `node bench/profile-top.mjs <file>`).
import { execFileSync, fork, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const resultsDir = join(root, 'bench/results');
const quick = process.env.BENCH_QUICK === '1';
const num = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);
const settings = {
  quick,
  connections: num('BENCH_CONNECTIONS', 50),
  warmupSec: num('BENCH_WARMUP', quick ? 1 : 3),
  durationSec: num('BENCH_DURATION', quick ? 3 : 10),
  soakSec: num('BENCH_SOAK', quick ? 10 : 60),
  /** Login codes minted per server (one per login request), and how many simulated users they are spread over. */
  // Enough for warm-up + measured time at well above our login rate: a run that runs out measures replays instead.
  codes: num('BENCH_CODES', quick ? 12000 : 40000),
  /** Logged-in users whose tokens the getProfile / checkSession scenarios rotate through. */
  tokenUsers: quick ? 64 : 256,
};
const only = new Set((process.env.BENCH_ONLY ?? 'bare,reference,ours').split(','));
const scenarios = new Set((process.env.BENCH_SCENARIOS ?? 'getProfile,checkSession,login,soak').split(','));
const cpuProf = process.env.BENCH_CPU_PROF === '1';

const log = (line) => process.stderr.write(`${line}\n`);
const clockTicks = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
  } catch {
    return 100;
  }
})();

// ---------- process counters ----------

/** utime and stime of a process, in µs, from /proc (Linux). */
function cpuMicros(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const user = (Number(fields[11]) * 1e6) / clockTicks;
  const system = (Number(fields[12]) * 1e6) / clockTicks;
  return { user, system, total: user + system };
}

function rssMB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return Math.round((kb / 1024) * 10) / 10;
}

// ---------- servers ----------

async function buildAll(buildDir) {
  log('build: our server (server/scripts/build.mjs) and the reference server');
  execFileSync(process.execPath, [join(root, 'server/scripts/build.mjs')], { stdio: ['ignore', 'inherit', 'inherit'] });
  await build({
    absWorkingDir: root,
    entryPoints: ['bench/servers/reference.ts'],
    outfile: join(buildDir, 'reference.mjs'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    alias: { '@wxkit/shared': './shared/src/index.ts' },
    logLevel: 'warning',
  });
}

function startServer(name, args, env) {
  const nodeArgs = cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${join(resultsDir, 'profiles')}`, `--cpu-prof-name=${name}-${Date.now()}.cpuprofile`] : [];
  const child = spawn(process.execPath, [...nodeArgs, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 30 s:\n${output}`)), 30_000);
    const onData = (chunk) => {
      output += chunk.toString();
      const match = /ready: (http:\/\/[^\s]+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        child.stdout.off('data', onData);
        child.stdout.resume();
        resolve({ name, child, pid: child.pid, url: match[1].replace(/\/$/, '') });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', (chunk) => {
      output += chunk.toString();
      if (output.length > 20_000) output = output.slice(-20_000);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with code ${code} before it was ready:\n${output}`));
    });
  });
}

function stopServer(server) {
  return new Promise((resolve) => {
    server.child.removeAllListeners('exit');
    if (server.child.exitCode !== null) return resolve();
    server.child.once('exit', () => resolve());
    server.child.kill('SIGTERM');
    setTimeout(() => server.child.kill('SIGKILL'), 15_000).unref();
  });
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

async function mint(url, user) {
  const response = await fetch(`${url}/__wechat/dev/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ user }),
  });
  if (!response.ok) throw new Error(`minting a code failed: HTTP ${response.status}`);
  return (await response.json()).code;
}

async function loginTokens(url, users) {
  return pool(users, 16, async (i) => {
    const code = await mint(url, `bench-token-${i}`);
    const response = await fetch(`${url}/trpc/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ code }) });
    const body = await response.json();
    if (!response.ok) throw new Error(`fixture login failed: HTTP ${response.status} ${JSON.stringify(body)}`);
    return body.result.data.token;
  });
}

async function mintCodes(url, count) {
  // WeChat (and the simulator) allow 100 exchanges a minute per user: spread the codes so no user gets near that.
  const users = Math.ceil(count / 40);
  let done = 0;
  const codes = await pool(count, 32, async (i) => {
    const code = await mint(url, `bench-login-${i % users}`);
    if (++done % 10000 === 0) log(`  minted ${done}/${count} codes`);
    return code;
  });
  return codes;
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

/** Warm-up, then the measured run with the server's CPU time read right before and right after it. */
async function measure(server, label, scenario, durationSec = settings.durationSec, during) {
  log(`  ${server.name} · ${label}: warm-up ${settings.warmupSec} s, then ${durationSec} s at -c ${settings.connections}`);
  loader.send({ type: 'run', url: server.url, connections: settings.connections, warmupSec: settings.warmupSec, durationSec, scenario });
  await nextMessage('warm');
  const cpuBefore = cpuMicros(server.pid);
  const stopSampling = during?.();
  loader.send({ type: 'go' });
  const done = await nextMessage('done');
  const cpuAfter = cpuMicros(server.pid);
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

const trpcGet = (procedure, token) => ({
  method: 'GET',
  // What our client's httpBatchLink sends for one query.
  path: `/trpc/${procedure}?batch=1&input=%7B%7D`,
  headers: { authorization: `Bearer ${token}` },
});

async function benchTRPCServer(server, work) {
  log(`  ${server.name}: logging in ${settings.tokenUsers} users for tokens`);
  const tokens = await loginTokens(server.url, settings.tokenUsers);
  const rows = [];
  for (const procedure of ['getProfile', 'checkSession']) {
    if (!scenarios.has(procedure)) continue;
    rows.push(await measure(server, procedure, { kind: 'static', requests: tokens.map((t) => trpcGet(procedure, t)) }));
  }
  if (!scenarios.has('login')) return { rows, tokens, tokensOut: undefined };
  log(`  ${server.name}: minting ${settings.codes} login codes`);
  const codesFile = join(work, `${server.name}-codes.json`);
  writeFileSync(codesFile, JSON.stringify(await mintCodes(server.url, settings.codes)));
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
  const paths = ['/trpc/getProfile?batch=1&input=%7B%7D', '/trpc/checkSession?batch=1&input=%7B%7D'];
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

function table(rows, ratios) {
  const header = ['scenario', 'server', 'req/s', 'p50 ms', 'p99 ms', 'CPU µs/req', 'ours/bare', 'ours/straightforward'];
  const lines = rows.map((r) => {
    const ratio = ratios[r.scenario];
    const isOurs = r.server === 'ours';
    return [
      r.scenario,
      r.server === 'reference' ? 'straightforward' : r.server === 'bare' ? 'bare Fastify' : 'ours',
      fmt(r.rps),
      fmt(r.p50Ms),
      fmt(r.p99Ms),
      fmt(r.cpuUsPerReq, 1),
      isOurs && ratio?.vsBare !== undefined ? `${fmt(ratio.vsBare, 2)}×` : '',
      isOurs && ratio?.vsReference !== undefined ? `${fmt(ratio.vsReference, 2)}×` : '',
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const row = (cells) => `| ${cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(' | ')} |`;
  return [row(header), `|${widths.map((w, i) => (i < 2 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|`, ...lines.map(row)].join('\n');
}

// ---------- main ----------

async function main() {
  mkdirSync(resultsDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'wxkit-bench-'));
  const buildDir = join(resultsDir, '.build');
  const startedAt = new Date();
  const machine = {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform} ${process.arch}`,
    loadAvgAtStart: loadavg().map((l) => Math.round(l * 100) / 100),
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

    if (only.has('reference')) {
      const reference = await startServer('reference', [join(buildDir, 'reference.mjs')], { MIGRATIONS_FOLDER: join(root, 'server/drizzle/sqlite') });
      try {
        rows.push(...(await benchTRPCServer(reference, work)).rows);
      } finally {
        await stopServer(reference);
      }
    }

    if (only.has('ours')) {
      const dataDir = join(work, 'ours-data');
      const ours = await startServer('ours', [join(root, 'server/dist/server.js')], {
        PORT: '0',
        HOST: '127.0.0.1',
        DATABASE_PATH: join(dataDir, 'app.db'),
        // Request logs are per request at info level; the bench compares handlers, so all three servers log nothing per request.
        LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
        LOGIN_RATE_LIMIT_PER_MINUTE: '100000',
        WECHAT_APPID: '',
        WECHAT_SECRET: '',
        WECHAT_API_BASE: '',
        JWT_SECRET: '',
      });
      try {
        rss.atStartMB = rssMB(ours.pid);
        const result = await benchTRPCServer(ours, work);
        rows.push(...result.rows);
        if (scenarios.has('soak')) Object.assign(rss, await soak(ours, result, work));
      } finally {
        await stopServer(ours);
      }
    }
  } finally {
    loader.kill();
  }

  // Ratios: ours against the two baselines of this same run.
  const by = (server, scenario) => rows.find((r) => r.server === server && r.scenario === scenario);
  const bare = by('bare', 'hello');
  const ratios = {};
  for (const scenario of ['getProfile', 'checkSession', 'login']) {
    const ours = by('ours', scenario);
    const reference = by('reference', scenario);
    if (!ours) continue;
    // A login row that ran out of codes measured replays, not exchanges: no ratio rather than a flattering one.
    if (ours.codesExhausted || reference?.codesExhausted) {
      ratios[scenario] = {};
      continue;
    }
    ratios[scenario] = {
      ...(bare ? { vsBare: ours.rps / bare.rps } : {}),
      ...(reference ? { vsReference: ours.rps / reference.rps } : {}),
    };
  }
  const check = (ok) => (ok === undefined ? '–' : ok ? 'met' : 'MISSED');
  const targets = [];
  for (const scenario of ['getProfile', 'checkSession']) {
    const r = ratios[scenario];
    const ours = by('ours', scenario);
    if (!ours) continue;
    targets.push({ target: `${scenario} ≥ 4× straightforward`, value: r.vsReference, ok: r.vsReference === undefined ? undefined : r.vsReference >= 4 });
    targets.push({ target: `${scenario} ≥ 0.25× bare Fastify`, value: r.vsBare, ok: r.vsBare === undefined ? undefined : r.vsBare >= 0.25 });
    targets.push({ target: `${scenario} p99 ≤ 15 ms at ${settings.connections} connections`, value: ours.p99Ms, ok: ours.p99Ms <= 15 });
  }
  if (ratios.login) targets.push({ target: 'login ≥ 2× straightforward', value: ratios.login.vsReference, ok: ratios.login.vsReference === undefined ? undefined : ratios.login.vsReference >= 2 });
  if (rss.afterSoakMB !== undefined) {
    targets.push({ target: `RSS after ${settings.soakSec} s of load ≤ 200 MB`, value: rss.afterSoakMB, ok: rss.afterSoakMB <= 200 });
    targets.push({ target: 'RSS flat (second half of the soak grows ≤ 10 MB)', value: rss.secondHalfGrowthMB, ok: rss.secondHalfGrowthMB <= 10 });
  }

  machine.loadAvgAtEnd = loadavg().map((l) => Math.round(l * 100) / 100);
  const text = [
    '',
    `wxkit bench — ${startedAt.toISOString()}${quick ? ' — BENCH_QUICK (short runs; numbers are indicative only)' : ''}`,
    `machine: ${machine.cores} × ${machine.cpu}, ${machine.memoryGB} GB, Node ${machine.node}; load average ${machine.loadAvgAtStart.join(' ')} → ${machine.loadAvgAtEnd.join(' ')}`,
    `autocannon -c ${settings.connections}, warm-up ${settings.warmupSec} s, measured ${settings.durationSec} s per row; CPU = server process utime+stime / requests; queries as the client sends them (GET /trpc/<name>?batch=1&input={}), login = POST /trpc/login?batch=1 with a fresh code each`,
    '',
    table(rows, ratios),
    '',
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

main().catch((error) => {
  process.stderr.write(`bench failed: ${error instanceof Error ? error.stack : String(error)}\n`);
  loader?.kill();
  process.exit(1);
});
