import cluster, { type Worker } from 'node:cluster';
import Fastify, { type FastifyInstance } from 'fastify';
import { SIMULATOR_SECRET } from './app.ts';
import type { Config } from './config.ts';
import { openPgStore } from './db/pg-store.ts';
import { openSqliteStore } from './db/sqlite-store.ts';
import { loggerOptions } from './logger.ts';
import { wechatSimulatorPlugin } from './plugins/wechat-simulator.ts';
import { SIMULATOR_APPID } from './wechat/simulator.ts';

/** A worker that dies this soon after its start is crash-looping: replacements then wait, up to this long. */
const CRASH_LOOP_WINDOW_MS = 10_000;
const MAX_RESTART_DELAY_MS = 10_000;
/** How long SIGTERM waits for the workers to answer what they are serving before it kills them. */
const SHUTDOWN_GRACE_MS = 12_000;

export interface PrimaryReady {
  address: string;
}

/**
 * The cluster primary (`WORKERS` > 1): prepares the database once (migrations, the generated token key), runs the
 * one WeChat simulator every worker shares (simulator mode), forks the workers onto one port (node:cluster hands
 * connections round-robin), restarts a worker that dies with a log line, and on SIGTERM/SIGINT lets every worker
 * answer what it is serving before they all exit.
 */
export async function runPrimary(config: Config, onReady: (ready: PrimaryReady) => void): Promise<void> {
  // The primary's own log: the same pino setup as the workers', through a Fastify instance that never listens on
  // the public port (it serves the simulator on a loopback port in simulator mode).
  const primary: FastifyInstance = Fastify({ logger: loggerOptions(config) });
  const log = primary.log.child({ role: 'primary' });

  await prepareDatabase(config);

  const env: Record<string, string> = {};
  if (config.wechat.kind === 'simulator' && config.wechat.apiBase === undefined) {
    await primary.register(wechatSimulatorPlugin, { appId: SIMULATOR_APPID, secret: SIMULATOR_SECRET });
    const simulator = await primary.listen({ port: 0, host: '127.0.0.1' });
    env.WXKIT_SIMULATOR_UPSTREAM = simulator;
    log.info({ simulator }, 'shared WeChat simulator started for the workers');
  }

  let shuttingDown = false;
  let everyoneListening = false;
  const startedAt = new Map<number, number>();
  let restartDelayMs = 0;

  const fork = () => {
    const worker = cluster.fork(env);
    startedAt.set(worker.id, Date.now());
    return worker;
  };

  cluster.on('exit', (worker: Worker, code: number | null, signal: string | null) => {
    const lived = Date.now() - (startedAt.get(worker.id) ?? 0);
    startedAt.delete(worker.id);
    if (shuttingDown) return;
    if (!everyoneListening) {
      // A worker that cannot even start (port taken, database refused): the others would fail alike.
      log.error({ worker: worker.id, pid: worker.process.pid, code, signal }, 'a worker failed to start; stopping');
      void shutdown(1);
      return;
    }
    restartDelayMs = lived < CRASH_LOOP_WINDOW_MS ? Math.min(MAX_RESTART_DELAY_MS, Math.max(250, restartDelayMs * 2)) : 0;
    log.warn(
      { worker: worker.id, pid: worker.process.pid, code, signal, restartInMs: restartDelayMs },
      `worker ${worker.id} (pid ${worker.process.pid}) exited (${signal ?? `code ${code}`}); starting a replacement`,
    );
    setTimeout(() => {
      if (!shuttingDown) fork();
    }, restartDelayMs).unref();
  });

  async function shutdown(exitCode: number) {
    if (shuttingDown) return;
    shuttingDown = true;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    log.info({ workers: workers.length }, 'closing: each worker finishes the requests in flight');
    const exited = workers.map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))));
    for (const w of workers) w.process.kill('SIGTERM');
    const force = setTimeout(() => {
      log.error('workers still open after the grace period; killing them');
      for (const w of workers) if (!w.isDead()) w.process.kill('SIGKILL');
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    await Promise.all(exited);
    clearTimeout(force);
    await primary.close();
    process.exit(exitCode);
  }
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => void shutdown(0));

  const listening = new Set<number>();
  cluster.on('listening', (worker: Worker, address: { address: string | null; port: number }) => {
    listening.add(worker.id);
    if (everyoneListening || listening.size < config.workers) return;
    everyoneListening = true;
    const host = address.address && address.address !== '0.0.0.0' && address.address !== '::' ? address.address : config.host;
    onReady({ address: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}` });
  });

  for (let i = 0; i < config.workers; i++) fork();
}

/** Migrations, once, before the workers start (they would race for them). The token key is race-safe by itself. */
async function prepareDatabase(config: Config): Promise<void> {
  if (config.databaseUrl) {
    const store = await openPgStore({ url: config.databaseUrl, poolSize: 1 });
    await store.close();
    return;
  }
  const store = openSqliteStore(config.databasePath);
  await store.close();
}
