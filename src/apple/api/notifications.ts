import type { CheckTestNotificationResponse, NotificationHistoryRequest, NotificationHistoryResponse, SendTestNotificationResponse } from './models.js';
import { type EnvSend, millis, segment } from './request.js';

export interface NotificationEndpoints {
  /** One page; see `iterateNotificationHistory` for all of them. Apple keeps 180 days. */
  getNotificationHistory(request: NotificationHistoryRequest, paginationToken?: string): Promise<NotificationHistoryResponse>;
  requestTestNotification(): Promise<SendTestNotificationResponse>;
  getTestNotificationStatus(testNotificationToken: string): Promise<CheckTestNotificationResponse>;
}

function historyBody(request: NotificationHistoryRequest): Record<string, unknown> {
  const body: Record<string, unknown> = { ...request };
  if (request.startDate !== undefined) body.startDate = millis(request.startDate);
  if (request.endDate !== undefined) body.endDate = millis(request.endDate);
  return body;
}

export function createNotificationEndpoints(send: EnvSend): NotificationEndpoints {
  return {
    getNotificationHistory: async (request, paginationToken) =>
      send({
        endpoint: 'getNotificationHistory',
        method: 'POST',
        path: '/inApps/v1/notifications/history',
        query: new URLSearchParams(paginationToken === undefined ? {} : { paginationToken }),
        json: historyBody(request),
        expectBody: true,
      }),
    requestTestNotification: async () => send({ endpoint: 'requestTestNotification', method: 'POST', path: '/inApps/v1/notifications/test', expectBody: true }),
    getTestNotificationStatus: async (testNotificationToken) =>
      send({
        endpoint: 'getTestNotificationStatus',
        method: 'GET',
        path: `/inApps/v1/notifications/test/${segment(testNotificationToken)}`,
        expectBody: true,
      }),
  };
}
