import fp from 'fastify-plugin';
import type Database from 'better-sqlite3';
import { describePgUrl, openPgStore } from '../db/pg-store.ts';
import { openSqliteStore } from '../db/sqlite-store.ts';
import type { Store } from '../db/store.ts';

declare module 'fastify' {
  interface FastifyInstance {
    store: Store;
    /** The SQLite handle when the store is SQLite (tests read rows through it); undefined on PostgreSQL. */
    sqlite: Database.Database | undefined;
  }
}

export interface DatabasePluginOptions {
  /** SQLite file (or `:memory:`), used when `url` is unset. */
  path: string;
  /** PostgreSQL URL: several server processes share one database. */
  url?: string | undefined;
  /** PostgreSQL connections this process may hold (DATABASE_POOL_SIZE). */
  poolSize: number;
}

/** How often expired rows (code exchanges, old counters) are deleted. */
const PRUNE_EVERY_MS = 5 * 60_000;

/**
 * Opens the database (SQLite in WAL mode, or a PostgreSQL pool), applies the committed migrations, prunes expired
 * rows now and then, and closes it when the app closes (after requests in flight are answered).
 */
export const databasePlugin = fp<DatabasePluginOptions>(
  async (app, options) => {
    let store: Store;
    if (options.url) {
      store = await openPgStore({ url: options.url, poolSize: options.poolSize, log: app.log });
      app.log.info({ database: describePgUrl(options.url), poolSize: options.poolSize }, 'connected to PostgreSQL');
      app.decorate('sqlite', undefined);
    } else {
      const sqliteStore = openSqliteStore(options.path);
      store = sqliteStore;
      app.decorate('sqlite', sqliteStore.sqlite);
    }
    app.decorate('store', store);

    const prune = () =>
      store.prune(Date.now()).catch((error: unknown) => app.log.warn({ err: error }, 'pruning expired rows failed; will try again'));
    const timer = setInterval(prune, PRUNE_EVERY_MS);
    timer.unref();
    app.addHook('onClose', async () => {
      clearInterval(timer);
      await store.close();
    });
  },
  { name: 'database' },
);
