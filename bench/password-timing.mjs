// `npm run bench`, last step: do an unknown username and a wrong password answer in about the same time? Medians of
// 20 interleaved attempts each against our production bundle (server/dist/server.js, simulator mode, a temp
// database), printed as a ratio measured in this run. Nothing is asserted (CI runs it quick); the goal is a
// difference under 25 %.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, stopServer } from './lib/server-process.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));
const rounds = process.env.BENCH_QUICK === '1' ? 10 : 20;
const dir = mkdtempSync(join(tmpdir(), 'wxkit-bench-passwords-'));

// PATH only from this shell: simulator mode, whatever WeChat or JWT variables it sets.
const env = { PORT: '0', DATABASE_PATH: join(dir, 'app.db'), LOG_LEVEL: 'warn' };
const server = await startServer('our server', [join(root, 'server/dist/server.js')], env, { baseEnv: { PATH: process.env.PATH } }).catch((error) => {
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`${error.message}\nrun \`npm run build -w @wxkit/server\` first`);
});
const { url } = server;

const post = async (procedure, body) => {
  const started = performance.now();
  const response = await fetch(`${url}/trpc/${procedure}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  await response.text();
  return { ms: performance.now() - started, status: response.status };
};

try {
  // Five accounts, four wrong attempts each: under the lockout (5 per username and address in 15 minutes).
  const names = Array.from({ length: 5 }, (_, i) => `timing.${i}`);
  for (const username of names) await post('signUp', { username, password: 'the real password' });
  const wrong = [];
  const unknown = [];
  for (let i = 0; i < rounds; i++) {
    const a = await post('loginWithPassword', { username: names[i % names.length], password: 'a wrong password' });
    const b = await post('loginWithPassword', { username: `nobody.${i}`, password: 'a wrong password' });
    if (a.status !== 401 || b.status !== 401) throw new Error(`expected 401 credentials_invalid, got ${a.status} and ${b.status}`);
    wrong.push(a.ms);
    unknown.push(b.ms);
  }
  const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
  const ratio = median(unknown) / median(wrong);
  process.stdout.write(
    `\npassword answers (median of ${rounds} each, interleaved): wrong password ${median(wrong).toFixed(1)} ms, unknown username ${median(unknown).toFixed(1)} ms` +
      ` → unknown/wrong ${ratio.toFixed(2)}× (goal: within 25 %, ${Math.abs(ratio - 1) <= 0.25 ? 'met' : 'MISSED'})\n`,
  );
} finally {
  await stopServer(server);
  rmSync(dir, { recursive: true, force: true });
}
