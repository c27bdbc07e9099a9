import type { Environment, SignedDataVerifier } from '../apple/types.js';
import type { Clock } from '../clock.js';
import type { Database } from '../db/client.js';
import type { EntitlementView } from '../entitlements/entitlements.model.js';
import type { EntitlementsUsecase } from '../entitlements/entitlements.usecase.js';
import { badRequest } from '../errors.js';
import { noteUsers } from '../events/transaction-changes.js';
import { futureDatedField } from '../purchases/future-dated.model.js';
import { storeAppTransaction } from './app-transactions.repository.js';

// POST /users/:userId/app-transaction: StoreKit 2's AppTransaction, verified like any
// signed data (the verifier's chain, bundle id, app id and environment checks), kept for
// the user; the catalog's `appPurchase` rule reads its originalApplicationVersion
// (entitlements/sources.model.ts). The write goes through the recording database and
// notes the user, so an answer it changes becomes an `entitlements.updated` event.

export interface AppTransactionUsecaseDeps {
  /** The recording database (services.ts). */
  db: Database;
  verifier: SignedDataVerifier;
  entitlements: EntitlementsUsecase;
  clock: Clock;
}

export interface RecordedAppTransaction {
  entitlements: EntitlementView[];
  /** False when the stored AppTransaction was signed as late or later (this one changed nothing). */
  stored: boolean;
}

export function createAppTransactionUsecase(deps: AppTransactionUsecaseDeps) {
  return {
    async record(userId: string, signedAppTransaction: string): Promise<RecordedAppTransaction> {
      const appTransaction = await deps.verifier.verifyAppTransaction(signedAppTransaction);
      const signedDate = appTransaction.signedDate ?? appTransaction.receiptCreationDate;
      if (typeof signedDate !== 'number') {
        throw badRequest('MALFORMED_PAYLOAD', 'the app transaction has neither signedDate nor receiptCreationDate: nothing says which is newer');
      }
      const future = futureDatedField(
        [
          ['app transaction signedDate', signedDate],
          ['app transaction originalPurchaseDate', appTransaction.originalPurchaseDate],
        ],
        deps.clock(),
      );
      if (future !== null) throw future;
      const now = deps.clock();
      const stored = await deps.db.transaction(async (tx) => {
        const written = await storeAppTransaction(tx, {
          userId,
          appTransactionId: appTransaction.appTransactionId ?? null,
          bundleId: appTransaction.bundleId,
          environment: (appTransaction.environment ?? appTransaction.receiptType) as Environment,
          originalApplicationVersion: appTransaction.originalApplicationVersion ?? null,
          originalPurchaseDate: appTransaction.originalPurchaseDate === undefined ? null : new Date(appTransaction.originalPurchaseDate),
          signedDate: new Date(signedDate),
          signedAppTransaction,
          updatedAt: now,
        });
        if (written) noteUsers(tx, [userId]);
        return written;
      });
      const { entitlements } = await deps.entitlements.entitlementsOf(userId, { refresh: 'never' });
      return { entitlements, stored };
    },
  };
}

export type AppTransactionUsecase = ReturnType<typeof createAppTransactionUsecase>;
