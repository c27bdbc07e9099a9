import { and, desc, eq, sql } from 'drizzle-orm';
import type { Database } from '../db/client.js';
import { purchaseLinks, transactions } from '../db/schema.js';
import type { TransactionsCursor } from './transactions-cursor.model.js';

export interface UserTransactionRow {
  transactionId: string;
  originalTransactionId: string;
  productId: string;
  productType: string;
  environment: string;
  purchaseDate: Date;
  expiresDate: Date | null;
  revocationDate: Date | null;
  revocationReason: number | null;
  ownershipType: string | null;
  appAccountToken: string | null;
}

export interface TransactionsRepository {
  /** Newest purchase first, ties by transactionId; `limit` rows after `after`. */
  transactionsOfUser(userId: string, limit: number, after: TransactionsCursor | null): Promise<UserTransactionRow[]>;
}

export function createTransactionsRepository({ db }: { db: Database }): TransactionsRepository {
  return {
    async transactionsOfUser(userId, limit, after) {
      const keyset = after
        ? sql`(${transactions.purchaseDate}, ${transactions.transactionId}) < (${after.purchaseDate.toISOString()}::timestamptz, ${after.transactionId})`
        : undefined;
      return db
        .select({
          transactionId: transactions.transactionId,
          originalTransactionId: transactions.originalTransactionId,
          productId: transactions.productId,
          productType: transactions.productType,
          environment: transactions.environment,
          purchaseDate: transactions.purchaseDate,
          expiresDate: transactions.expiresDate,
          revocationDate: transactions.revocationDate,
          revocationReason: transactions.revocationReason,
          ownershipType: transactions.ownershipType,
          appAccountToken: transactions.appAccountToken,
        })
        .from(purchaseLinks)
        .innerJoin(transactions, eq(transactions.originalTransactionId, purchaseLinks.originalTransactionId))
        .where(and(eq(purchaseLinks.userId, userId), keyset))
        .orderBy(desc(transactions.purchaseDate), desc(transactions.transactionId))
        .limit(limit);
    },
  };
}
