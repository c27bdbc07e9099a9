// What the service has written, counted and wiped the same way by every test file.
import { count, type SQL, sql } from 'drizzle-orm';
import type { PgTable } from 'drizzle-orm/pg-core';
import type { Database, Executor } from '../../src/db/client.js';
import { notifications, purchaseLinkEvents, purchaseLinks, subscriptions, transactions, users } from '../../src/db/schema.js';

const TABLES = {
  notifications,
  transactions,
  subscriptions,
  links: purchaseLinks,
  linkEvents: purchaseLinkEvents,
  users,
} as const;

export type CountedTable = keyof typeof TABLES;

/** The tables most tests compare: what a delivery or a purchase writes. */
export const PURCHASE_TABLES = ['notifications', 'transactions', 'subscriptions', 'links'] as const satisfies readonly CountedTable[];

export type RowCounts<K extends CountedTable = (typeof PURCHASE_TABLES)[number]> = Record<K, number>;

/** Rows in each of `tables` (by default PURCHASE_TABLES), read through the given handle. */
export async function countRows<K extends CountedTable = (typeof PURCHASE_TABLES)[number]>(
  db: Database,
  tables: readonly K[] = PURCHASE_TABLES as unknown as readonly K[],
): Promise<RowCounts<K>> {
  const counts = {} as RowCounts<K>;
  for (const name of tables) {
    const table: PgTable = TABLES[name];
    const [row] = await db.select({ n: count() }).from(table);
    counts[name] = Number(row?.n ?? 0);
  }
  return counts;
}

/** Nothing written in any of PURCHASE_TABLES. */
export const NOTHING: RowCounts = { notifications: 0, transactions: 0, subscriptions: 0, links: 0 };

/** Raw SQL through either back-end; both drivers answer with `{ rows }`. */
export async function queryRows<T>(executor: Executor, query: SQL): Promise<T[]> {
  const result = (await executor.execute(query)) as unknown as { rows: T[] };
  return result.rows;
}

/**
 * Empties every table of the service (read from the catalogue, so a new table is wiped too),
 * so that tests sharing one migrated database never see each other's rows.
 */
export async function wipe(db: Database): Promise<void> {
  const tables = await queryRows<{ tablename: string }>(db, sql`select tablename from pg_tables where schemaname = 'public'`);
  if (tables.length === 0) return;
  const names = tables.map((t) => `"${t.tablename}"`).join(', ');
  await db.execute(sql.raw(`truncate ${names} restart identity cascade`));
}
