import { fileURLToPath } from 'node:url';

/** `server/`: this file runs from `server/src/` under tsx/vitest and bundled into `server/dist/`, one level down either way. */
export const serverRoot = fileURLToPath(new URL('..', import.meta.url));
export const migrationsFolder = fileURLToPath(new URL('../drizzle/sqlite', import.meta.url));
export const pgMigrationsFolder = fileURLToPath(new URL('../drizzle/pg', import.meta.url));
