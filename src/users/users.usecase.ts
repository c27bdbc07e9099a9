import { AppStoreApiError, type AppStoreServerApi } from '../apple/api/index.js';
import type { JWSTransactionDecodedPayload, SignedDataVerifier } from '../apple/types.js';
import type { Clock } from '../clock.js';
import type { AppleEnvironment, TransferPolicy } from '../config.js';
import type { Database } from '../db/client.js';
import type { EntitlementView } from '../entitlements/entitlements.model.js';
import type { EntitlementsUsecase } from '../entitlements/entitlements.usecase.js';
import { transactionFromPayload } from '../purchases/merge.model.js';
import type { StoredTransaction } from '../purchases/purchase-update.js';
import { assertNotFutureDated } from '../purchases/future-dated.model.js';
import { applyPurchaseUpdate, lockPurchases } from '../purchases/purchases.repository.js';
import { badRequest } from '../errors.js';
import { apiNotConfigured, appStoreApiError, isNotFoundAnswer } from '../app-store-errors.js';
import { linkPurchase, type LinkOutcome } from './purchase-links.repository.js';
import { assertTokensAllow } from './token-ownership.repository.js';
import { decodeCursor, encodeCursor } from './transactions-cursor.model.js';
import type { TransactionsRepository, UserTransactionRow } from './transactions.repository.js';
import type { UsersRepository } from './users.repository.js';

export interface UsersUsecaseDeps {
  db: Database;
  users: UsersRepository;
  transactions: TransactionsRepository;
  entitlements: EntitlementsUsecase;
  verifier: SignedDataVerifier;
  appStoreApi: AppStoreServerApi | null;
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

// Apple answers 404 (TRANSACTION_ID_NOT_FOUND) when the id belongs to the other environment;
// a "_RETRYABLE" not found is no such answer (Apple may not know it yet), see isNotFoundAnswer.
const notFoundHere = (error: unknown) => error instanceof AppStoreApiError && error.httpStatus === 404 && isNotFoundAnswer(error);

const invalidTransactionId = () => badRequest('INVALID_TRANSACTION_ID', 'The App Store does not accept this transaction id');

// Signed by Apple but not delivered as a notification: recorded as 'api' like Server API data.
// An InvalidRecordError is a coded refusal of the data, answered with its own code.
function toRecord(payload: JWSTransactionDecodedPayload): StoredTransaction {
  return transactionFromPayload(payload, 'api');
}

export function createUsersUsecase(deps: UsersUsecaseDeps) {
  const lookupEnvironments = (['Production', 'Sandbox'] as const).filter((env) => deps.environments.includes(env));

  async function fetchSigned(transactionId: string): Promise<string> {
    if (deps.appStoreApi === null) throw apiNotConfigured();
    for (const environment of lookupEnvironments) {
      try {
        const answer = await deps.appStoreApi.forEnvironment(environment).getTransactionInfo(transactionId);
        if (!answer.signedTransactionInfo) {
          throw new AppStoreApiError('API_BAD_RESPONSE', 'getTransactionInfo: answer has no signedTransactionInfo', { endpoint: 'getTransactionInfo' });
        }
        return answer.signedTransactionInfo;
      } catch (error) {
        if (notFoundHere(error)) continue;
        throw error instanceof AppStoreApiError ? appStoreApiError(error, { notFound: invalidTransactionId }) : error;
      }
    }
    throw badRequest('TRANSACTION_NOT_FOUND', `The App Store knows no transaction ${transactionId} in ${lookupEnvironments.join(' or ')}`);
  }

  return {
    async appAccountToken(userId: string): Promise<string> {
      return deps.users.ensureUser(deps.db, userId, await deps.users.namespace());
    },

    /** Verifies (or fetches and verifies) a transaction, records it and links its purchase to the user. */
    async recordTransaction(userId: string, submission: TransactionSubmission): Promise<RecordedTransaction> {
      const signed = 'signedTransaction' in submission ? submission.signedTransaction : await fetchSigned(submission.transactionId);
      const record = toRecord(await deps.verifier.verifyTransaction(signed));
      assertNotFutureDated([{ transactions: [{ record, signedTransaction: null }] }], deps.clock());
      const namespace = await deps.users.namespace();
      const at = deps.clock();
      const link = await deps.db.transaction(async (tx) => {
        await deps.users.ensureUser(tx, userId, namespace);
        await lockPurchases(tx, [record.originalTransactionId]);
        await assertTokensAllow(tx, userId, [{ originalTransactionId: record.originalTransactionId, tokens: [record.appAccountToken] }]);
        // Linked before the data is applied; a token on the purchase was checked above, so
        // attribution by token then agrees with this link.
        const outcome = await linkPurchase(tx, {
          originalTransactionId: record.originalTransactionId,
          userId,
          policy: deps.transferPolicy,
          reason: 'transaction',
          at,
        });
        await applyPurchaseUpdate(tx, { transactions: [{ record, signedTransaction: signed }] });
        return outcome;
      });
      const { entitlements } = await deps.entitlements.entitlementsOf(userId, { refresh: 'never' });
      return { entitlements, link };
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
