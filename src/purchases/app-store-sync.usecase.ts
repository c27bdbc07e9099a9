import { apiNotConfigured, appStoreApiError, isNotFoundAnswer } from '../app-store-errors.js';
import { AppStoreApiError, type AppStoreServerApi, type AppStoreServerEnvironmentApi } from '../apple/api/index.js';
import type { JWSRenewalInfoDecodedPayload, JWSTransactionDecodedPayload, SignedDataVerifier } from '../apple/types.js';
import type { Clock } from '../clock.js';
import type { Database } from '../db/client.js';
import { badRequest, notFound } from '../errors.js';
import { datedFieldsOf, futureDatedField } from './future-dated.model.js';
import { renewalFromPayload, transactionFromPayload } from './merge.model.js';
import type { PurchaseUpdate } from './purchase-update.js';
import { sortedUpdates, type UpdatesByPurchase, updateFor } from './purchase-updates.model.js';
import { applyPurchaseUpdates } from './purchases.repository.js';

// The one way the service learns a purchase's state from the App Store Server API:
// statuses (or transaction info) → verify → purchase updates → one apply. The raw
// endpoints are called and verified here, not through helpers that decode and drop the
// JWS, because every record keeps the JWS it came in (the audit columns).
//
// Used by the entitlement refresh (`refresh`), the V1 webhook and receipts (`updatesOf`,
// applied in the caller's own transaction), and linking by transaction id (`transaction`).

/** A purchase to look up: any of its transaction ids, and whether it is a subscription. */
export interface PurchaseRef {
  originalTransactionId: string;
  transactionId: string;
  subscription: boolean;
}

export interface PurchaseToRefresh {
  originalTransactionId: string;
  environment: string;
}

export interface RefreshResult {
  /** Subscriptions Apple reported and that were applied (or already known). */
  applied: number;
}

export type ServerEnvironment = 'Production' | 'Sandbox';

export interface AppStoreSyncDeps {
  db: Database;
  /** null without App Store Server API credentials: only a posted signed transaction can then be synced. */
  appStoreApi: AppStoreServerApi | null;
  verifier: SignedDataVerifier;
  clock: Clock;
}

export interface AppStoreSync {
  /** False without App Store Server API credentials: every call that asks Apple throws API_NOT_CONFIGURED. */
  readonly connected: boolean;
  /**
   * The purchases' current signed state, verified, as updates (one per purchase, sorted);
   * nothing is written. A subscription is asked about with Get All Subscription Statuses
   * (one answer covers every subscription of the customer, so purchases it already
   * answered are not asked about again); anything else, and a subscription the answer
   * left out, with Get Transaction Info. Apple's failures come as coded errors; Apple not
   * knowing a purchase is PURCHASE_NOT_FOUND.
   */
  updatesOf(environment: ServerEnvironment, refs: readonly PurchaseRef[]): Promise<PurchaseUpdate[]>;
  /**
   * One transaction, verified, as an update: the signed transaction an app posted, or the
   * one Get Transaction Info answers for `transactionId` in the first of `environments`
   * that knows it (Production before Sandbox).
   */
  transaction(
    submission: { signedTransaction: string } | { transactionId: string },
    environments: readonly string[],
  ): Promise<{ update: PurchaseUpdate; originalTransactionId: string }>;
  /**
   * Asks Get All Subscription Statuses about the given subscriptions and applies each
   * answer in one transaction, through the same merge rules as notifications. Xcode and
   * LocalTesting purchases are skipped; so is anything dated in the future (a read does
   * not fail for it).
   */
  refresh(purchases: readonly PurchaseToRefresh[]): Promise<RefreshResult>;
  /**
   * The whole transaction history of the Apple Account that made a transaction (Get
   * Transaction History v2, every page), verified, as updates (one per purchase, sorted);
   * nothing is written. A signed transaction is asked about in its own environment; a
   * transaction id in the first of `environments` that knows it (Production before
   * Sandbox). Any failure on any page fails the whole call.
   */
  history(submission: { signedTransaction: string } | { transactionId: string }, environments: readonly string[]): Promise<AccountHistory>;
}

export interface AccountHistory {
  environment: ServerEnvironment;
  /** Every purchase (originalTransactionId) in the history, sorted. */
  purchases: string[];
  updates: PurchaseUpdate[];
  /** Signed transactions read. */
  transactions: number;
}

/** One piece of signed purchase state fetched from the App Store Server API, verified. */
interface SignedPurchaseState {
  transaction: { payload: JWSTransactionDecodedPayload; jws: string };
  /** Present for auto-renewable subscriptions answered by Get All Subscription Statuses. */
  renewal?: { payload: JWSRenewalInfoDecodedPayload; jws: string } | undefined;
  /** Apple's status (1 active … 5 revoked); undefined for non-subscriptions. */
  appleStatus?: number | null | undefined;
}

const SERVER_ENVIRONMENTS: ReadonlySet<string> = new Set(['Production', 'Sandbox']);

const transactionNotFound = (transactionId: string, environments: readonly string[]) =>
  notFound('TRANSACTION_NOT_FOUND', `The App Store knows no transaction ${transactionId} in ${environments.join(' or ') || 'an accepted environment'}`);
const purchaseNotFound = () => badRequest('PURCHASE_NOT_FOUND', 'The App Store Server API does not know this purchase');
const invalidTransactionId = () => badRequest('INVALID_TRANSACTION_ID', 'The App Store does not accept this transaction id');

// Apple answers 404 (TRANSACTION_ID_NOT_FOUND) when the id belongs to the other environment;
// a "_RETRYABLE" not found is no such answer (Apple may not know it yet), see isNotFoundAnswer.
const notFoundHere = (error: unknown) => error instanceof AppStoreApiError && error.httpStatus === 404 && isNotFoundAnswer(error);

async function signedTransactionInfo(api: AppStoreServerEnvironmentApi, transactionId: string): Promise<string> {
  const answer = await api.getTransactionInfo(transactionId);
  if (!answer.signedTransactionInfo) {
    throw new AppStoreApiError('API_BAD_RESPONSE', 'getTransactionInfo: answer has no signedTransactionInfo', { endpoint: 'getTransactionInfo' });
  }
  return answer.signedTransactionInfo;
}

/**
 * Signed state as updates, one per purchase, sorted. The status has no signing time of its
 * own: it is as fresh as the newest signed item Apple sent with it.
 */
function updatesFromSignedState(states: readonly SignedPurchaseState[]): PurchaseUpdate[] {
  const updates: UpdatesByPurchase = new Map();
  for (const state of states) {
    const originalTransactionId = state.transaction.payload.originalTransactionId;
    const update = updateFor(updates, originalTransactionId);
    update.transactions.push({ record: transactionFromPayload(state.transaction.payload, 'api'), signedTransaction: state.transaction.jws });
    if (state.renewal && state.renewal.payload.originalTransactionId === originalTransactionId) {
      update.renewal = { record: renewalFromPayload(state.renewal.payload, 'api'), signedRenewalInfo: state.renewal.jws };
    }
    if (state.appleStatus !== undefined) {
      const signedDate = Math.max(state.transaction.payload.signedDate, state.renewal?.payload.signedDate ?? 0);
      update.status = { originalTransactionId, appleStatus: state.appleStatus, statusSignedDate: new Date(signedDate) };
    }
  }
  return sortedUpdates(updates);
}

export function createAppStoreSync(deps: AppStoreSyncDeps): AppStoreSync {
  function apiFor(environment: ServerEnvironment): AppStoreServerEnvironmentApi {
    if (deps.appStoreApi === null) throw apiNotConfigured();
    return deps.appStoreApi.forEnvironment(environment);
  }

  /**
   * Fetches and verifies. `covered` holds the purchases already answered (and gains those
   * answered now); `statusesOnly` leaves a subscription the statuses left out unasked.
   */
  async function fetchStates(
    environment: ServerEnvironment,
    refs: readonly PurchaseRef[],
    covered: Set<string>,
    statusesOnly: boolean,
  ): Promise<SignedPurchaseState[]> {
    const api = apiFor(environment);
    const states: SignedPurchaseState[] = [];
    for (const ref of refs) {
      if (covered.has(ref.originalTransactionId)) continue;
      if (ref.subscription) {
        const answer = await api.getAllSubscriptionStatuses(ref.transactionId);
        for (const group of answer.data ?? []) {
          for (const item of group.lastTransactions ?? []) {
            if (!item.signedTransactionInfo) continue;
            const transaction = await deps.verifier.verifyTransaction(item.signedTransactionInfo);
            const renewal = item.signedRenewalInfo
              ? { payload: await deps.verifier.verifyRenewalInfo(item.signedRenewalInfo), jws: item.signedRenewalInfo }
              : undefined;
            states.push({
              transaction: { payload: transaction, jws: item.signedTransactionInfo },
              renewal,
              appleStatus: typeof item.status === 'number' ? item.status : null,
            });
            covered.add(transaction.originalTransactionId);
          }
        }
        if (statusesOnly) covered.add(ref.originalTransactionId);
        if (covered.has(ref.originalTransactionId)) continue;
        // Apple answered without this subscription: still record its transaction as Apple signs it.
      }
      const jws = await signedTransactionInfo(api, ref.transactionId);
      const transaction = await deps.verifier.verifyTransaction(jws);
      states.push({ transaction: { payload: transaction, jws } });
      covered.add(transaction.originalTransactionId);
    }
    return states;
  }

  async function fetchSigned(transactionId: string, environments: readonly string[]): Promise<string> {
    if (deps.appStoreApi === null) throw apiNotConfigured();
    const lookIn = (['Production', 'Sandbox'] as const).filter((environment) => environments.includes(environment));
    for (const environment of lookIn) {
      try {
        return await signedTransactionInfo(apiFor(environment), transactionId);
      } catch (error) {
        if (notFoundHere(error)) continue;
        throw error instanceof AppStoreApiError ? appStoreApiError(error, { notFound: invalidTransactionId }) : error;
      }
    }
    throw badRequest('TRANSACTION_NOT_FOUND', `The App Store knows no transaction ${transactionId} in ${lookIn.join(' or ')}`);
  }

  /**
   * Every signed transaction of the history, or null when this environment does not know
   * the transaction (Apple's not-found answer, or an empty first page).
   */
  async function historyIn(environment: ServerEnvironment, transactionId: string): Promise<string[] | null> {
    const signed: string[] = [];
    let pages = 0;
    try {
      for await (const page of apiFor(environment).iterateTransactionHistory(transactionId)) {
        pages += 1;
        signed.push(...(page.signedTransactions ?? []));
        if (pages === 1 && signed.length === 0 && page.hasMore !== true) return null;
      }
    } catch (error) {
      if (pages === 0 && notFoundHere(error)) return null;
      throw error instanceof AppStoreApiError ? appStoreApiError(error, { notFound: invalidTransactionId }) : error;
    }
    return signed;
  }

  return {
    connected: deps.appStoreApi !== null,

    async history(submission, environments) {
      if (deps.appStoreApi === null) throw apiNotConfigured();
      let transactionId: string;
      let lookIn: ServerEnvironment[];
      if ('signedTransaction' in submission) {
        const posted = await deps.verifier.verifyTransaction(submission.signedTransaction);
        if (!SERVER_ENVIRONMENTS.has(posted.environment)) {
          throw badRequest('UNSUPPORTED_ENVIRONMENT', `A ${posted.environment} transaction has no history on the App Store's servers`);
        }
        transactionId = posted.transactionId;
        lookIn = [posted.environment as ServerEnvironment];
      } else {
        transactionId = submission.transactionId;
        lookIn = (['Production', 'Sandbox'] as const).filter((environment) => environments.includes(environment));
      }
      for (const environment of lookIn) {
        const signed = await historyIn(environment, transactionId);
        if (signed === null) continue;
        const states: SignedPurchaseState[] = [];
        for (const jws of signed) states.push({ transaction: { payload: await deps.verifier.verifyTransaction(jws), jws } });
        const updates = updatesFromSignedState(states);
        const purchases = [...new Set(states.map((state) => state.transaction.payload.originalTransactionId))].sort();
        return { environment, purchases, updates, transactions: signed.length };
      }
      throw transactionNotFound(transactionId, lookIn);
    },

    async updatesOf(environment, refs) {
      if (refs.length === 0) return [];
      try {
        return updatesFromSignedState(await fetchStates(environment, refs, new Set(), false));
      } catch (error) {
        // Apple's failures mapped as on every other route; only Apple not knowing the purchase is the caller's problem.
        throw error instanceof AppStoreApiError ? appStoreApiError(error, { notFound: purchaseNotFound }) : error;
      }
    },

    async transaction(submission, environments) {
      const signedTransaction = 'signedTransaction' in submission ? submission.signedTransaction : await fetchSigned(submission.transactionId, environments);
      // Signed by Apple but not delivered as a notification: recorded as 'api' like Server API data.
      // An InvalidRecordError is a coded refusal of the data, answered with its own code.
      const record = transactionFromPayload(await deps.verifier.verifyTransaction(signedTransaction), 'api');
      return {
        update: { transactions: [{ record, signedTransaction }] },
        originalTransactionId: record.originalTransactionId,
      };
    },

    async refresh(purchases) {
      const covered = new Set<string>();
      let applied = 0;
      for (const purchase of purchases) {
        // Xcode and LocalTesting purchases never reach Apple's servers.
        if (covered.has(purchase.originalTransactionId) || !SERVER_ENVIRONMENTS.has(purchase.environment)) continue;
        const ref = { originalTransactionId: purchase.originalTransactionId, transactionId: purchase.originalTransactionId, subscription: true };
        const states = await fetchStates(purchase.environment as ServerEnvironment, [ref], covered, true);
        // Nothing dated in the future is accepted from any source; a read does not fail for it.
        const now = deps.clock();
        const updates = updatesFromSignedState(states).filter((update) => futureDatedField(datedFieldsOf([update]), now) === null);
        if (updates.length === 0) continue;
        await deps.db.transaction((tx) => applyPurchaseUpdates(tx, updates, { now }));
        applied += updates.length;
      }
      return { applied };
    },
  };
}
