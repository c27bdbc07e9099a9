import type { Clock } from '../clock.js';
import type { AppleEnvironment, TransferPolicy } from '../config.js';
import type { Database } from '../db/client.js';
import type { EntitlementView } from '../entitlements/entitlements.model.js';
import type { EntitlementsUsecase } from '../entitlements/entitlements.usecase.js';
import type { AppStoreSync } from '../purchases/app-store-sync.usecase.js';
import { assertNotFutureDated } from '../purchases/future-dated.model.js';
import { linkAndApply } from './link-and-apply.js';
import type { LinkOutcome } from './purchase-links.repository.js';
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
}

export type TransactionSubmission = { signedTransaction: string } | { transactionId: string };

export interface RecordedTransaction {
  entitlements: EntitlementView[];
  link: LinkOutcome;
}

export interface TransactionsPage {
  transactions: UserTransactionRow[];
  nextCursor: string | null;
}

export function createUsersUsecase(deps: UsersUsecaseDeps) {
  return {
    async appAccountToken(userId: string): Promise<string> {
      return deps.users.ensureUser(deps.db, userId, await deps.users.namespace());
    },

    /** Verifies (or fetches and verifies) a transaction, records it and links its purchase to the user. */
    async recordTransaction(userId: string, submission: TransactionSubmission): Promise<RecordedTransaction> {
      const { update, originalTransactionId } = await deps.sync.transaction(submission, deps.environments);
      assertNotFutureDated([update], deps.clock());
      const [linked] = await linkAndApply(deps, { userId, purchases: [originalTransactionId], reason: 'transaction', updates: [update] });
      const { entitlements } = await deps.entitlements.entitlementsOf(userId, { refresh: 'never' });
      return { entitlements, link: linked!.outcome };
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
