// Bundles the server into dist/server.js with esbuild (shared/ is consumed as TypeScript source).
import { build } from 'esbuild';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const started = Date.now();
process.stdout.write('building server → server/dist/server.js … ');
await build({
  absWorkingDir: root,
  entryPoints: ['src/server.ts'],
  outfile: 'dist/server.js',
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  conditions: ['source'],
  // Workspace packages are bundled from source; everything from npm stays external.
  packages: 'external',
  alias: { '@wxkit/shared': '../shared/src/index.ts' },
  logLevel: 'warning',
});
process.stdout.write(`done in ${Date.now() - started} ms\n`);
