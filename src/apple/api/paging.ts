import { AppStoreApiError } from './errors.js';
import type { HistoryResponse, NotificationHistoryRequest, NotificationHistoryResponse, TransactionHistoryQuery } from './models.js';
import type { NotificationEndpoints } from './notifications.js';
import type { TransactionEndpoints } from './transactions.js';

export interface PagingIterators {
  /** Every page of the history, following `revision` while `hasMore`. */
  iterateTransactionHistory(transactionId: string, query?: TransactionHistoryQuery): AsyncGenerator<HistoryResponse, void>;
  /** Every page for the request, following `paginationToken` while `hasMore`. */
  iterateNotificationHistory(request: NotificationHistoryRequest, paginationToken?: string): AsyncGenerator<NotificationHistoryResponse, void>;
}

/**
 * A page that says "more" without a new cursor would make us ask for the same page
 * forever; better to stop loudly.
 */
function nextCursor(endpoint: string, previous: string | undefined, next: string | undefined): string {
  if (next === undefined || next === '' || next === previous) {
    throw new AppStoreApiError('API_BAD_RESPONSE', `${endpoint}: hasMore without a new cursor`, { endpoint });
  }
  return next;
}

export function createPagingIterators(endpoints: TransactionEndpoints & NotificationEndpoints): PagingIterators {
  return {
    async *iterateTransactionHistory(transactionId, query = {}) {
      let revision = query.revision;
      for (;;) {
        const page = await endpoints.getTransactionHistory(transactionId, { ...query, revision });
        yield page;
        if (page.hasMore !== true) return;
        revision = nextCursor('getTransactionHistory', revision, page.revision);
      }
    },
    async *iterateNotificationHistory(request, paginationToken) {
      for (;;) {
        const page = await endpoints.getNotificationHistory(request, paginationToken);
        yield page;
        if (page.hasMore !== true) return;
        paginationToken = nextCursor('getNotificationHistory', paginationToken, page.paginationToken);
      }
    },
  };
}
