import { apiNotConfigured, appStoreApiError, isNotFoundAnswer } from '../app-store-errors.js';
import { AppStoreApiError, type AppStoreServerApi } from '../apple/api/index.js';
import type { SignedDataVerifier } from '../apple/types.js';
import type { AppleEnvironment } from '../config.js';
import type { Database } from '../db/client.js';
import { notFound } from '../errors.js';
import { linkedUsersOf } from '../users/purchase-links.repository.js';
import { historyEnvironments } from './recovery.usecase.js';

// Support's "who is this customer?": the order id on the customer's emailed receipt, looked
// up with Apple's Look Up Order ID, each transaction verified and shown with its linked user.

export interface OrderTransaction {
  transactionId: string;
  originalTransactionId: string;
  productId: string;
  purchaseDate: string;
  /** The user the purchase is linked to; null when none. */
  userId: string | null;
}

export interface Order {
  orderId: string;
  environment: 'Production' | 'Sandbox';
  transactions: OrderTransaction[];
}

export interface OrdersDeps {
  api: AppStoreServerApi | null;
  environments: readonly AppleEnvironment[];
  verifier: SignedDataVerifier;
  db: Database;
}

export interface OrdersUsecase {
  lookUp(orderId: string): Promise<Order>;
}

const orderNotFound = (orderId: string) => notFound('ORDER_NOT_FOUND', `The App Store knows no order ${orderId}`);

export function createOrdersUsecase(deps: OrdersDeps): OrdersUsecase {
  return {
    async lookUp(orderId) {
      if (deps.api === null) throw apiNotConfigured();
      // Orders are Production's; Sandbox is asked too when accepted (testers' purchases).
      for (const environment of historyEnvironments(deps.environments)) {
        let signed: string[];
        try {
          const answer = await deps.api.forEnvironment(environment).lookUpOrderId(orderId);
          // status 1: Apple does not know the order here.
          if (answer.status !== 0) continue;
          signed = answer.signedTransactions ?? [];
        } catch (error) {
          if (!(error instanceof AppStoreApiError)) throw error;
          if (error.httpStatus === 404 && isNotFoundAnswer(error)) continue;
          throw appStoreApiError(error, { notFound: () => orderNotFound(orderId) });
        }
        const payloads = [];
        for (const jws of signed) payloads.push(await deps.verifier.verifyTransaction(jws));
        const users = await linkedUsersOf(
          deps.db,
          payloads.map((payload) => payload.originalTransactionId),
        );
        return {
          orderId,
          environment,
          transactions: payloads.map((payload) => ({
            transactionId: payload.transactionId,
            originalTransactionId: payload.originalTransactionId,
            productId: payload.productId,
            purchaseDate: new Date(payload.purchaseDate).toISOString(),
            userId: users.get(payload.originalTransactionId) ?? null,
          })),
        };
      }
      throw orderNotFound(orderId);
    },
  };
}
