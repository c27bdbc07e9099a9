import type {
  ExtendRenewalDateRequest,
  ExtendRenewalDateResponse,
  MassExtendRenewalDateRequest,
  MassExtendRenewalDateResponse,
  MassExtendRenewalDateStatusResponse,
  StatusResponse,
} from './models.js';
import { type EnvSend, segment } from './request.js';

export interface SubscriptionEndpoints {
  /** `status` keeps only subscriptions in those states (1 active … 5 revoked). */
  getAllSubscriptionStatuses(transactionId: string, status?: number[]): Promise<StatusResponse>;
  extendSubscriptionRenewalDate(originalTransactionId: string, request: ExtendRenewalDateRequest): Promise<ExtendRenewalDateResponse>;
  extendRenewalDateForAllActiveSubscribers(request: MassExtendRenewalDateRequest): Promise<MassExtendRenewalDateResponse>;
  getStatusOfSubscriptionRenewalDateExtensions(requestIdentifier: string, productId: string): Promise<MassExtendRenewalDateStatusResponse>;
}

export function createSubscriptionEndpoints(send: EnvSend): SubscriptionEndpoints {
  return {
    getAllSubscriptionStatuses: async (transactionId, status = []) => {
      const query = new URLSearchParams();
      for (const value of status) query.append('status', String(value));
      return send({
        endpoint: 'getAllSubscriptionStatuses',
        method: 'GET',
        path: `/inApps/v1/subscriptions/${segment(transactionId)}`,
        query,
        expectBody: true,
      });
    },
    extendSubscriptionRenewalDate: async (originalTransactionId, request) =>
      send({
        endpoint: 'extendSubscriptionRenewalDate',
        method: 'PUT',
        path: `/inApps/v1/subscriptions/extend/${segment(originalTransactionId)}`,
        json: request,
        expectBody: true,
      }),
    extendRenewalDateForAllActiveSubscribers: async (request) =>
      send({
        endpoint: 'extendRenewalDateForAllActiveSubscribers',
        method: 'POST',
        path: '/inApps/v1/subscriptions/extend/mass',
        json: request,
        expectBody: true,
      }),
    getStatusOfSubscriptionRenewalDateExtensions: async (requestIdentifier, productId) =>
      send({
        endpoint: 'getStatusOfSubscriptionRenewalDateExtensions',
        method: 'GET',
        path: `/inApps/v1/subscriptions/extend/mass/${segment(productId)}/${segment(requestIdentifier)}`,
        expectBody: true,
      }),
  };
}
