import { is, Table } from 'drizzle-orm';
import { getTableConfig as pgTableConfig, type PgTable } from 'drizzle-orm/pg-core';
import { getTableConfig as sqliteTableConfig, type SQLiteTable } from 'drizzle-orm/sqlite-core';
import { describe, expect, it } from 'vitest';
import * as pg from '../src/db/pg-schema.ts';
import * as sqlite from '../src/db/schema.ts';

/** table → column → [notNull, primary key] (types differ by dialect on purpose: integer vs bigint, 0/1 vs boolean). */
function shape(tables: Array<{ name: string; columns: Array<{ name: string; notNull: boolean; primary: boolean }>; primaryKeys: Array<{ columns: Array<{ name: string }> }> }>) {
  return Object.fromEntries(
    tables.map((t) => [
      t.name,
      {
        columns: Object.fromEntries(t.columns.map((c) => [c.name, { notNull: c.notNull, primary: c.primary }])),
        compositeKeys: t.primaryKeys.map((k) => k.columns.map((c) => c.name)),
      },
    ]),
  );
}

describe('the SQLite and PostgreSQL schemas', () => {
  it('have the same tables, columns, nullability and keys, so both stores keep the same data', () => {
    const sqliteTables = (Object.values(sqlite) as unknown[]).filter((v): v is SQLiteTable => is(v, Table)).map(sqliteTableConfig);
    const pgTables = (Object.values(pg) as unknown[]).filter((v): v is PgTable => is(v, Table)).map(pgTableConfig);
    expect(sqliteTables.length).toBeGreaterThan(8);
    expect(shape(pgTables)).toEqual(shape(sqliteTables));
  });
});
