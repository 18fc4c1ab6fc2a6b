#!/usr/bin/env node
// Launches the API CLI (`npm run api`, `npx wxkit-api`). It runs a bundle of src/cli/api.ts in server/dist/api.mjs,
// rebuilt with esbuild whenever a source under server/src or shared/src (or the lockfile) is newer, so a fresh clone works right
// after `npm install` and every later call starts without compiling TypeScript.
import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { join } from 'node:path';

const serverRoot = fileURLToPath(new URL('../..', import.meta.url));
// The bundle includes npm packages, so an install (lockfile change) also triggers a rebuild.
const sources = [join(serverRoot, 'src'), join(serverRoot, '..', 'shared', 'src'), join(serverRoot, 'package.json'), join(serverRoot, '..', 'package-lock.json')];
const outfile = join(serverRoot, 'dist', 'api.mjs');

function newestMtime(path) {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  let newest = stat.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

async function build() {
  let esbuild;
  try {
    esbuild = await import('esbuild');
  } catch {
    process.stderr.write('error: the API CLI needs esbuild to build itself: run `npm install` at the repository root first.\n');
    process.exit(1);
  }
  const started = Date.now();
  process.stderr.write('building the API CLI → server/dist/api.mjs … ');
  // Each process writes its own file and renames it into place: parallel first runs never read half a bundle.
  const temp = `${outfile}.${process.pid}.tmp.mjs`;
  try {
    await esbuild.build({
      absWorkingDir: serverRoot,
      entryPoints: ['src/cli/api.ts'],
      outfile: temp,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      conditions: ['source'],
      alias: { '@wxkit/shared': '../shared/src/index.ts' },
      // npm packages are bundled too: one file loads in about half the time of resolving them one by one.
      logLevel: 'warning',
    });
    renameSync(temp, outfile);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
  process.stderr.write(`done in ${Date.now() - started} ms\n`);
}

if (!existsSync(outfile) || statSync(outfile).mtimeMs < Math.max(...sources.map(newestMtime))) await build();
await import(pathToFileURL(outfile).href);
