import { buildApp } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';

/** Entry point: reads config once, listens, and closes gracefully on SIGINT/SIGTERM. */
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
    const mode = config.wechat.kind === 'real' ? 'real WeChat' : `WeChat simulator at ${address}/__wechat`;
    app.log.info(`listening on ${address} (${mode}, database ${config.databasePath})`);
    process.stdout.write(`\n  wxkit server ready: ${address}\n  mode: ${mode}\n  health: ${address}/healthz\n\n`);
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

void main();
