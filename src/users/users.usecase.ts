import type { Clock } from '../clock.js';
import type { AppleEnvironment, TransferPolicy } from '../config.js';
import type { Database } from '../db/client.js';
import type { EntitlementView } from '../entitlements/entitlements.model.js';
import type { EntitlementsUsecase } from '../entitlements/entitlements.usecase.js';
import type { AppStoreSync } from '../purchases/app-store-sync.usecase.js';
import { assertNotFutureDated } from '../purchases/future-dated.model.js';
import type { PurchaseUpdate } from '../purchases/purchase-update.js';
import { type LinkedPurchase, linkAndApply } from './link-and-apply.js';
import type { LinkOutcome } from './purchase-links.repository.js';
import type { TokenUpdates } from './token-updates.job.js';
import type { TransactionsRepository, UserTransactionRow } from './transactions.repository.js';
import { decodeCursor, encodeCursor } from './transactions-cursor.model.js';
import type { UsersRepository } from './users.repository.js';

export interface UsersUsecaseDeps {
  db: Database;
  users: UsersRepository;
  transactions: TransactionsRepository;
  entitlements: EntitlementsUsecase;
  /** Verifies a posted transaction, or looks one up by id. */
  sync: AppStoreSync;
  /** Environments the service accepts; `transactionId` look-ups try Production, then Sandbox, among them. */
  environments: readonly AppleEnvironment[];
  transferPolicy: TransferPolicy;
  clock: Clock;
  /** Set App Account Token for linked purchases whose signed data has no token. */
  tokenUpdates: TokenUpdates;
}

export type TransactionSubmission = { signedTransaction: string } | { transactionId: string };

export interface RecordedTransaction {
  entitlements: EntitlementView[];
  link: LinkOutcome;
}

export interface RestoredPurchases {
  entitlements: EntitlementView[];
  /** Each purchase of the Apple Account's history and what linking it did. */
  linked: LinkedPurchase[];
}

export interface TransactionsPage {
  transactions: UserTransactionRow[];
  nextCursor: string | null;
}

export function createUsersUsecase(deps: UsersUsecaseDeps) {
  /** Link and apply; then, committed, Apple is asked to set the user's token where its data has none (not awaited). */
  async function link(userId: string, purchases: string[], reason: 'transaction' | 'restore', updates: PurchaseUpdate[]): Promise<LinkedPurchase[]> {
    const linked = await linkAndApply(deps, { userId, purchases, reason, updates, setMissingTokens: deps.tokenUpdates.enabled });
    deps.tokenUpdates.sendSoon(linked.filter((purchase) => purchase.tokenUpdate).map((purchase) => purchase.originalTransactionId));
    return linked;
  }

  return {
    async appAccountToken(userId: string): Promise<string> {
      return deps.users.ensureUser(deps.db, userId, await deps.users.namespace());
    },

    /** Verifies (or fetches and verifies) a transaction, records it and links its purchase to the user. */
    async recordTransaction(userId: string, submission: TransactionSubmission): Promise<RecordedTransaction> {
      const { update, originalTransactionId } = await deps.sync.transaction(submission, deps.environments);
      assertNotFutureDated([update], deps.clock());
      const [linked] = await link(userId, [originalTransactionId], 'transaction', [update]);
      const { entitlements } = await deps.entitlements.entitlementsOf(userId, { refresh: 'never' });
      return { entitlements, link: linked!.outcome };
    },

    /**
     * Restore: links every purchase in the transaction history of the Apple Account that
     * made the given transaction, under the same rules as one transaction, all or nothing.
     */
    async restore(userId: string, submission: TransactionSubmission): Promise<RestoredPurchases> {
      const history = await deps.sync.history(submission, deps.environments);
      assertNotFutureDated(history.updates, deps.clock());
      const linked = await link(userId, history.purchases, 'restore', history.updates);
      const { entitlements } = await deps.entitlements.entitlementsOf(userId, { refresh: 'never' });
      return { entitlements, linked };
    },

    async listTransactions(userId: string, limit: number, cursor: string | undefined): Promise<TransactionsPage> {
      const after = cursor ? decodeCursor(cursor) : null;
      // One row more than asked says whether another page exists without a count query.
      const rows = await deps.transactions.transactionsOfUser(userId, limit + 1, after);
      const page = rows.slice(0, limit);
      const last = page[page.length - 1];
      return {
        transactions: page,
        nextCursor: rows.length > limit && last ? encodeCursor({ purchaseDate: last.purchaseDate, transactionId: last.transactionId }) : null,
      };
    },
  };
}

export type UsersUsecase = ReturnType<typeof createUsersUsecase>;
