import cluster from 'node:cluster';
import { buildApp } from './app.ts';
import { runPrimary } from './cluster.ts';
import { ConfigError, loadConfig } from './config.ts';
import { DatabaseConnectError } from './db/errors.ts';
import { describePgUrl } from './db/pg-store.ts';

/**
 * Entry point: reads config once, listens, and closes gracefully on SIGINT/SIGTERM. With WORKERS > 1 this process
 * becomes the cluster primary and each worker runs the code below it, on the shared port.
 */
async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`Configuration error: the server did not start.\n${error.problems.map((p) => `  ${p}`).join('\n')}\nFix these environment variables (or .env) and start again.\n`);
      process.exit(1);
    }
    throw error;
  }

  const banner = (address: string) => {
    const mode = config.wechat.kind === 'real' ? 'real WeChat' : `WeChat simulator at ${address}/__wechat`;
    const database = config.databaseUrl ? `PostgreSQL ${describePgUrl(config.databaseUrl)}` : `SQLite ${config.databasePath}`;
    const workers = config.workers > 1 ? `\n  workers: ${config.workers} processes on one port` : '';
    process.stdout.write(`\n  wxkit server ready: ${address}\n  mode: ${mode}\n  database: ${database}${workers}\n  health: ${address}/healthz\n\n`);
  };

  if (config.workers > 1 && cluster.isPrimary) {
    await runPrimary(config, ({ address }) => banner(address));
    return;
  }

  const app = await buildApp(config);
  let closing = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (closing) return;
      closing = true;
      app.log.info({ signal }, 'closing: finishing requests in flight');
      const force = setTimeout(() => {
        app.log.error('requests still open after 10 s; exiting anyway');
        process.exit(1);
      }, 10_000);
      force.unref();
      app.close().then(
        () => process.exit(0),
        (error: unknown) => {
          app.log.error({ err: error }, 'error while closing');
          process.exit(1);
        },
      );
    });
  }

  try {
    const address = await app.listen({ port: config.port, host: config.host });
    app.log.info({ worker: cluster.isWorker ? cluster.worker?.id : undefined }, `listening on ${address}`);
    // In a cluster the primary prints the banner once every worker listens.
    if (!cluster.isWorker) banner(address);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'EADDRINUSE') {
      process.stderr.write(`Port ${config.port} on ${config.host} is already in use: stop the other process or set PORT to a free port.\n`);
    } else {
      process.stderr.write(`Could not listen on ${config.host}:${config.port}: ${(error as Error).message}\n`);
    }
    await app.close();
    process.exit(1);
  }
}

main().catch((error: unknown) => {
  // PostgreSQL unreachable at start (the primary's preparation or a worker's app): say where and what to check.
  if (error instanceof DatabaseConnectError) {
    process.stderr.write(`The server did not start: ${error.message}\n`);
    process.exit(1);
  }
  throw error;
});
