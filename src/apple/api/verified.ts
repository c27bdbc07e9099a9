import type {
  AppTransaction,
  Environment,
  JWSRenewalInfoDecodedPayload,
  JWSTransactionDecodedPayload,
  SignedDataVerifier,
  VerifiedNotification,
} from '../types.js';
import { AppStoreApiError } from './errors.js';
import type { NotificationHistoryRequest, SendAttemptItem, TransactionHistoryQuery } from './models.js';
import type { NotificationEndpoints } from './notifications.js';
import type { PagingIterators } from './paging.js';
import type { SubscriptionEndpoints } from './subscriptions.js';
import type { TransactionEndpoints } from './transactions.js';

export interface VerifiedSubscriptionStatus {
  subscriptionGroupIdentifier: string | null;
  originalTransactionId: string | null;
  /** 1 active, 2 expired, 3 billing retry, 4 grace period, 5 revoked. */
  status: number | null;
  transaction: JWSTransactionDecodedPayload;
  renewalInfo: JWSRenewalInfoDecodedPayload | null;
}

export interface VerifiedSubscriptionStatuses {
  environment: Environment | null;
  bundleId: string | null;
  appAppleId: number | null;
  subscriptions: VerifiedSubscriptionStatus[];
}

export interface VerifiedHistoryNotification {
  signedPayload: string;
  notification: VerifiedNotification;
  sendAttempts: SendAttemptItem[];
}

/**
 * The same calls with every signed field verified and decoded. Any field failing
 * verification fails the whole call with the verifier's error: half-trusted answers are
 * worse than none.
 */
export interface VerifiedHelpers {
  getTransactionInfoVerified(transactionId: string): Promise<JWSTransactionDecodedPayload>;
  iterateTransactionHistoryVerified(
    transactionId: string,
    query?: TransactionHistoryQuery,
  ): AsyncGenerator<JWSTransactionDecodedPayload, void>;
  iterateRefundHistoryVerified(transactionId: string, revision?: string): AsyncGenerator<JWSTransactionDecodedPayload, void>;
  getAllSubscriptionStatusesVerified(transactionId: string, status?: number[]): Promise<VerifiedSubscriptionStatuses>;
  lookUpOrderIdVerified(orderId: string): Promise<{ status: number | null; transactions: JWSTransactionDecodedPayload[] }>;
  getAppTransactionInfoVerified(transactionId: string): Promise<AppTransaction>;
  iterateNotificationHistoryVerified(
    request: NotificationHistoryRequest,
    paginationToken?: string,
  ): AsyncGenerator<VerifiedHistoryNotification, void>;
  getTestNotificationStatusVerified(
    testNotificationToken: string,
  ): Promise<{ notification: VerifiedNotification; sendAttempts: SendAttemptItem[] }>;
}

type Calls = TransactionEndpoints & SubscriptionEndpoints & NotificationEndpoints & PagingIterators;

export function createVerifiedHelpers(calls: Calls, verifier: SignedDataVerifier | undefined): VerifiedHelpers {
  function need(endpoint: string): SignedDataVerifier {
    if (verifier) return verifier;
    throw new AppStoreApiError('API_NO_VERIFIER', `${endpoint}: the API client was built without a verifier`, {
      endpoint,
    });
  }
  function present(endpoint: string, field: string, value: string | undefined): string {
    if (typeof value === 'string' && value.length > 0) return value;
    throw new AppStoreApiError('API_BAD_RESPONSE', `${endpoint}: answer has no ${field}`, { endpoint });
  }

  return {
    async getTransactionInfoVerified(transactionId) {
      const v = need('getTransactionInfo');
      const answer = await calls.getTransactionInfo(transactionId);
      return v.verifyTransaction(present('getTransactionInfo', 'signedTransactionInfo', answer.signedTransactionInfo));
    },
    async *iterateTransactionHistoryVerified(transactionId, query) {
      const v = need('getTransactionHistory');
      for await (const page of calls.iterateTransactionHistory(transactionId, query)) {
        for (const jws of page.signedTransactions ?? []) yield await v.verifyTransaction(jws);
      }
    },
    async *iterateRefundHistoryVerified(transactionId, revision) {
      const v = need('getRefundHistory');
      for await (const page of calls.iterateRefundHistory(transactionId, revision)) {
        for (const jws of page.signedTransactions ?? []) yield await v.verifyTransaction(jws);
      }
    },
    async getAllSubscriptionStatusesVerified(transactionId, status) {
      const v = need('getAllSubscriptionStatuses');
      const answer = await calls.getAllSubscriptionStatuses(transactionId, status);
      const subscriptions: VerifiedSubscriptionStatus[] = [];
      for (const group of answer.data ?? []) {
        for (const item of group.lastTransactions ?? []) {
          const signedTransaction = present('getAllSubscriptionStatuses', 'signedTransactionInfo', item.signedTransactionInfo);
          subscriptions.push({
            subscriptionGroupIdentifier: group.subscriptionGroupIdentifier ?? null,
            originalTransactionId: item.originalTransactionId ?? null,
            status: item.status ?? null,
            transaction: await v.verifyTransaction(signedTransaction),
            renewalInfo: item.signedRenewalInfo ? await v.verifyRenewalInfo(item.signedRenewalInfo) : null,
          });
        }
      }
      return {
        environment: answer.environment ?? null,
        bundleId: answer.bundleId ?? null,
        appAppleId: answer.appAppleId ?? null,
        subscriptions,
      };
    },
    async lookUpOrderIdVerified(orderId) {
      const v = need('lookUpOrderId');
      const answer = await calls.lookUpOrderId(orderId);
      const transactions: JWSTransactionDecodedPayload[] = [];
      for (const jws of answer.signedTransactions ?? []) transactions.push(await v.verifyTransaction(jws));
      return { status: answer.status ?? null, transactions };
    },
    async getAppTransactionInfoVerified(transactionId) {
      const v = need('getAppTransactionInfo');
      const answer = await calls.getAppTransactionInfo(transactionId);
      return v.verifyAppTransaction(
        present('getAppTransactionInfo', 'signedAppTransactionInfo', answer.signedAppTransactionInfo),
      );
    },
    async *iterateNotificationHistoryVerified(request, paginationToken) {
      const v = need('getNotificationHistory');
      for await (const page of calls.iterateNotificationHistory(request, paginationToken)) {
        for (const item of page.notificationHistory ?? []) {
          const signedPayload = present('getNotificationHistory', 'signedPayload', item.signedPayload);
          yield {
            signedPayload,
            notification: await v.verifyNotification(signedPayload),
            sendAttempts: item.sendAttempts ?? [],
          };
        }
      }
    },
    async getTestNotificationStatusVerified(testNotificationToken) {
      const v = need('getTestNotificationStatus');
      const answer = await calls.getTestNotificationStatus(testNotificationToken);
      const signedPayload = present('getTestNotificationStatus', 'signedPayload', answer.signedPayload);
      return { notification: await v.verifyNotification(signedPayload), sendAttempts: answer.sendAttempts ?? [] };
    },
  };
}
