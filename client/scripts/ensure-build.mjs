#!/usr/bin/env node
// Builds client/dist/<target> when it is missing or older than its sources; otherwise says it is up to date.
// Usage: node client/scripts/ensure-build.mjs <weapp|h5> [--force] [--variant require-binding]
// Used by `npm start` (h5) and by the built-bundle tests, so neither runs a stale bundle. A variant is the same app
// built with other settings into dist/<target>-<variant> (the tests of REQUIRE_BINDING run one).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const clientDir = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const rootDir = resolve(clientDir, '..');

const expected = {
  weapp: ['app.js', 'app.json', 'pages/index/index.js', 'pages/account/index.js', 'pages/profile/index.js'],
  h5: ['index.html'],
};

/** Build settings (TARO_APP_* from the environment win over client/.env*) per variant. */
const variants = {
  'require-binding': { TARO_APP_REQUIRE_BINDING: 'true' },
};

function outDirOf(target, variant) {
  return join(clientDir, 'dist', variant ? `${target}-${variant}` : target);
}

/** Newest modification time under the given files/folders (recursively). */
function newestMtime(paths) {
  let newest = 0;
  const visit = (path) => {
    if (!existsSync(path)) return;
    const stat = statSync(path);
    if (stat.isDirectory()) {
      for (const entry of readdirSync(path)) if (entry !== 'node_modules') visit(join(path, entry));
    } else newest = Math.max(newest, stat.mtimeMs);
  };
  paths.forEach(visit);
  return newest;
}

export function buildState(target, variant) {
  const outDir = outDirOf(target, variant);
  const envFiles = readdirSync(clientDir).filter((f) => f.startsWith('.env')).map((f) => join(clientDir, f));
  const sources = [
    join(clientDir, 'src'),
    join(clientDir, 'config'),
    join(clientDir, 'babel.config.js'),
    join(clientDir, 'package.json'),
    join(rootDir, 'shared', 'src'),
    ...envFiles,
  ];
  const outputs = expected[target].map((f) => join(outDir, f));
  if (outputs.some((f) => !existsSync(f))) return { outDir, fresh: false, why: 'missing' };
  // Taro empties the output folder first, so the oldest expected file is the time of the last complete build.
  const builtAt = Math.min(...outputs.map((f) => statSync(f).mtimeMs));
  const fresh = builtAt >= newestMtime(sources);
  return { outDir, fresh, why: fresh ? 'up to date' : 'older than its sources' };
}

export function ensureBuild(target, { force = false, variant } = {}) {
  if (!expected[target]) throw new Error(`unknown target "${target}": use weapp or h5`);
  if (variant && !variants[variant]) throw new Error(`unknown variant "${variant}": use ${Object.keys(variants).join(', ')}`);
  const state = buildState(target, variant);
  const name = `dist/${variant ? `${target}-${variant}` : target}`;
  if (state.fresh && !force) {
    console.log(`[client] ${name} is up to date`);
    return state.outDir;
  }
  console.log(`[client] ${name} is ${force ? 'being rebuilt (--force)' : state.why}: building it with Taro (about a minute)…`);
  const started = Date.now();
  // Always a production build, even when called from a test runner (vitest sets NODE_ENV=test, which would make
  // Taro skip minification and tree shaking and read .env.test).
  const env = { ...process.env, NODE_ENV: 'production', ...(variant ? { ...variants[variant], WXKIT_CLIENT_OUT_DIR: relative(clientDir, state.outDir) } : {}) };
  const result = spawnSync('npm', ['run', `build:${target}`, '--silent'], { cwd: clientDir, stdio: 'inherit', env });
  // `taro build` can exit 0 after a failed config check: trust the files, not only the exit code.
  const missing = expected[target].filter((f) => !existsSync(join(state.outDir, f)));
  if (result.status !== 0 || missing.length > 0) {
    throw new Error(
      `[client] building ${name} failed (exit ${result.status}${missing.length ? `, missing ${missing.join(', ')}` : ''}): ` +
        `read the Taro output above, fix the error, then run \`npm run build:${target}\` at the repository root.`,
    );
  }
  console.log(`[client] ${name} built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return state.outDir;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [target, ...flags] = process.argv.slice(2);
  const variantAt = flags.indexOf('--variant');
  try {
    ensureBuild(target, { force: flags.includes('--force'), variant: variantAt >= 0 ? flags[variantAt + 1] : undefined });
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
}
