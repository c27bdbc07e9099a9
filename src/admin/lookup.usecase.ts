import type { LookupRepository } from './lookup.repository.js';

export type LookupQuery = { transactionId: string } | { originalTransactionId: string } | { appAccountToken: string };

export interface LookupAnswer {
  /** The user the purchase is linked to (or the token belongs to); null when none. */
  userId: string | null;
  /** The purchase the id names; null for a token or an unknown transaction. */
  originalTransactionId: string | null;
  /** Whether the service has recorded that purchase (a purchase can be known and linked to no one). */
  purchaseRecorded: boolean;
}

export interface LookupUsecase {
  lookup(query: LookupQuery): Promise<LookupAnswer>;
}

export function createLookupUsecase({ repository }: { repository: LookupRepository }): LookupUsecase {
  return {
    async lookup(query) {
      if ('appAccountToken' in query) {
        return { userId: await repository.userOfToken(query.appAccountToken.toLowerCase()), originalTransactionId: null, purchaseRecorded: false };
      }
      const original = 'transactionId' in query ? await repository.originalOfTransaction(query.transactionId) : query.originalTransactionId;
      if (original === null) return { userId: null, originalTransactionId: null, purchaseRecorded: false };
      const [userId, purchaseRecorded] = await Promise.all([repository.ownerOfPurchase(original), repository.purchaseKnown(original)]);
      return { userId, originalTransactionId: original, purchaseRecorded };
    },
  };
}
