// Shared by the legacy route tests: one app per describe, its data wiped before each test.
import { sql } from 'drizzle-orm';
import type { Database } from '../../src/db/client.js';

export async function wipeData(db: Database): Promise<void> {
  await db.execute(
    sql`truncate notifications, transactions, subscriptions, purchase_link_events, purchase_links, users restart identity cascade`,
  );
}

export interface RowCounts {
  notifications: number;
  transactions: number;
  subscriptions: number;
  links: number;
}

export async function countRows(db: Database): Promise<RowCounts> {
  const count = async (table: string) => {
    const result = (await db.execute(sql.raw(`select count(*)::int as n from ${table}`))) as unknown as
      | { rows: Array<{ n: number }> }
      | Array<{ n: number }>;
    const rows = Array.isArray(result) ? result : result.rows;
    return Number(rows[0]?.n ?? 0);
  };
  return {
    notifications: await count('notifications'),
    transactions: await count('transactions'),
    subscriptions: await count('subscriptions'),
    links: await count('purchase_links'),
  };
}

export const NOTHING: RowCounts = { notifications: 0, transactions: 0, subscriptions: 0, links: 0 };

/** A loopback port nothing listens on: bound once, then released. */
export async function closedPortUrl(): Promise<string> {
  const { createServer } = await import('node:net');
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === 'string') throw new Error('no TCP port');
  return `http://127.0.0.1:${address.port}`;
}
