import { defineConfig } from 'drizzle-kit';

/** The PostgreSQL twin of drizzle.config.ts (SQLite): `npm run db:generate` runs both. */
export default defineConfig({
  dialect: 'postgresql',
  schema: './server/src/db/pg-schema.ts',
  out: './server/drizzle/pg',
});
