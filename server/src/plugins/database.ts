import fp from 'fastify-plugin';
import { openDatabase, type Store } from '../db/store.ts';
import type Database from 'better-sqlite3';

declare module 'fastify' {
  interface FastifyInstance {
    store: Store;
    sqlite: Database.Database;
  }
}

/** Opens SQLite (WAL), applies the committed migrations, and closes the database when the app closes. */
export const databasePlugin = fp<{ path: string }>(
  async (app, options) => {
    const { sqlite, store } = openDatabase(options.path);
    app.decorate('store', store);
    app.decorate('sqlite', sqlite);
    app.addHook('onClose', async () => {
      sqlite.close();
    });
  },
  { name: 'database' },
);
