import type {
  ConsumptionRequest,
  HistoryResponse,
  OrderLookupResponse,
  TransactionHistoryQuery,
  TransactionInfoResponse,
  UpdateAppAccountTokenRequest,
} from './models.js';
import { type EnvSend, millis, segment } from './request.js';

export interface TransactionEndpoints {
  getTransactionInfo(transactionId: string): Promise<TransactionInfoResponse>;
  /** One page; see `iterateTransactionHistory` for all of them. */
  getTransactionHistory(transactionId: string, query?: TransactionHistoryQuery): Promise<HistoryResponse>;
  lookUpOrderId(orderId: string): Promise<OrderLookupResponse>;
  setAppAccountToken(originalTransactionId: string, request: UpdateAppAccountTokenRequest): Promise<void>;
  /** Send Consumption Information, current (v2) endpoint. */
  sendConsumptionInformation(transactionId: string, request: ConsumptionRequest): Promise<void>;
}

export function transactionHistoryQuery(query: TransactionHistoryQuery): URLSearchParams {
  const params = new URLSearchParams();
  if (query.revision !== undefined) params.append('revision', query.revision);
  if (query.startDate !== undefined) params.append('startDate', String(millis(query.startDate)));
  if (query.endDate !== undefined) params.append('endDate', String(millis(query.endDate)));
  for (const id of query.productIds ?? []) params.append('productId', id);
  for (const type of query.productTypes ?? []) params.append('productType', type);
  if (query.sort !== undefined) params.append('sort', query.sort);
  for (const group of query.subscriptionGroupIdentifiers ?? []) params.append('subscriptionGroupIdentifier', group);
  if (query.inAppOwnershipType !== undefined) params.append('inAppOwnershipType', query.inAppOwnershipType);
  if (query.revoked !== undefined) params.append('revoked', String(query.revoked));
  return params;
}

export function createTransactionEndpoints(send: EnvSend): TransactionEndpoints {
  return {
    getTransactionInfo: async (transactionId) =>
      send({
        endpoint: 'getTransactionInfo',
        method: 'GET',
        path: `/inApps/v1/transactions/${segment(transactionId)}`,
        expectBody: true,
      }),
    getTransactionHistory: async (transactionId, query = {}) =>
      send({
        endpoint: 'getTransactionHistory',
        method: 'GET',
        path: `/inApps/${query.version ?? 'v2'}/history/${segment(transactionId)}`,
        query: transactionHistoryQuery(query),
        expectBody: true,
      }),
    lookUpOrderId: async (orderId) => send({ endpoint: 'lookUpOrderId', method: 'GET', path: `/inApps/v1/lookup/${segment(orderId)}`, expectBody: true }),
    setAppAccountToken: async (originalTransactionId, request) =>
      send({
        endpoint: 'setAppAccountToken',
        method: 'PUT',
        path: `/inApps/v1/transactions/${segment(originalTransactionId)}/appAccountToken`,
        json: request,
        expectBody: false,
      }),
    sendConsumptionInformation: async (transactionId, request) =>
      send({
        endpoint: 'sendConsumptionInformation',
        method: 'PUT',
        path: `/inApps/v2/transactions/consumption/${segment(transactionId)}`,
        json: request,
        expectBody: false,
      }),
  };
}
