import fp from 'fastify-plugin';
import type Database from 'better-sqlite3';
import { openSqliteStore } from '../db/sqlite-store.ts';
import type { Store } from '../db/store.ts';

declare module 'fastify' {
  interface FastifyInstance {
    store: Store;
    /** The SQLite handle (tests read rows through it). */
    sqlite: Database.Database;
  }
}

/** Opens SQLite (WAL), applies the committed migrations, and closes the database when the app closes. */
export const databasePlugin = fp<{ path: string }>(
  async (app, options) => {
    const store = openSqliteStore(options.path);
    app.decorate('store', store as Store);
    app.decorate('sqlite', store.sqlite);
    app.addHook('onClose', async () => {
      await store.close();
    });
  },
  { name: 'database' },
);
