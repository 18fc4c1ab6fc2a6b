#!/usr/bin/env node
// A throwaway PostgreSQL cluster for local development, until Ctrl-C (then it is stopped and removed):
//   node scripts/pg-cluster.mjs [--port N] [--database NAME]
// prints DATABASE_URL=… (a fresh database for `DATABASE_URL=… npm start`) and WXKIT_TEST_PG_URL=… (the admin URL,
// for `WXKIT_TEST_BACKEND=pg WXKIT_TEST_PG_URL=… npm test -w @wxkit/server` without a cluster per run).
// The cluster code is TypeScript (server/test/support/pg-cluster.ts), loaded through tsx's API so plain node works.
import { parseArgs } from 'node:util';
import { tsImport } from 'tsx/esm/api';

const { values } = parseArgs({
  options: { port: { type: 'string' }, database: { type: 'string', default: 'wxkit' }, help: { type: 'boolean', short: 'h' } },
});
if (values.help) {
  console.log('usage: node scripts/pg-cluster.mjs [--port N] [--database NAME]');
  process.exit(0);
}
const port = values.port === undefined ? undefined : Number(values.port);
if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
  console.error(`--port ${values.port}: give a port number between 1 and 65535.`);
  process.exit(2);
}

const { startPgCluster } = await tsImport('../server/test/support/pg-cluster.ts', import.meta.url);
const started = Date.now();
const cluster = await startPgCluster(port === undefined ? {} : { port });
const databaseUrl = await cluster.createDatabase(values.database);
console.log(`DATABASE_URL=${databaseUrl}`);
console.log(`WXKIT_TEST_PG_URL=${cluster.adminUrl}`);
console.log(`# PostgreSQL ${cluster.port} ready in ${Date.now() - started} ms; data and log in ${cluster.dir} (pid ${cluster.pid}). Ctrl-C stops and removes it.`);

// pg-cluster.ts's own signal handler has already stopped the server and removed the folder when this one runs.
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    cluster.destroy().finally(() => {
      console.error(`# ${signal}: PostgreSQL stopped, ${cluster.dir} removed.`);
      process.exit(0);
    });
  });
}
setInterval(() => {
  if (!cluster.running) {
    console.error(`# PostgreSQL exited on its own; server log:\n${cluster.logTail(20)}`);
    cluster.destroy().finally(() => process.exit(1));
  }
}, 1000);
