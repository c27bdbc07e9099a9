import { eq } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { purchaseLinks, transactions, users } from '../db/schema.js';

// Who a purchase or a token belongs to, for the console's customer search (GET /admin/lookup).

export interface LookupRepository {
  originalOfTransaction(transactionId: string): Promise<string | null>;
  ownerOfPurchase(originalTransactionId: string): Promise<string | null>;
  userOfToken(appAccountToken: string): Promise<string | null>;
  /** Whether any transaction of this purchase is recorded. */
  purchaseKnown(originalTransactionId: string): Promise<boolean>;
}

export function createLookupRepository({ db }: { db: Database }): LookupRepository {
  return {
    async originalOfTransaction(transactionId) {
      const [row] = await db
        .select({ originalTransactionId: transactions.originalTransactionId })
        .from(transactions)
        .where(eq(transactions.transactionId, transactionId))
        .limit(1);
      return row?.originalTransactionId ?? null;
    },
    async ownerOfPurchase(originalTransactionId) {
      const [row] = await db.select({ userId: purchaseLinks.userId }).from(purchaseLinks).where(eq(purchaseLinks.originalTransactionId, originalTransactionId));
      return row?.userId ?? null;
    },
    async userOfToken(appAccountToken) {
      const [row] = await db.select({ userId: users.userId }).from(users).where(eq(users.appAccountToken, appAccountToken));
      return row?.userId ?? null;
    },
    async purchaseKnown(originalTransactionId) {
      const [row] = await db
        .select({ transactionId: transactions.transactionId })
        .from(transactions)
        .where(eq(transactions.originalTransactionId, originalTransactionId))
        .limit(1);
      return row !== undefined;
    },
  };
}
