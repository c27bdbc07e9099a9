import { badRequest } from '../errors.js';
import {
  decodeNotificationCursor,
  encodeNotificationCursor,
  type NotificationLogOutcome,
  type NotificationView,
  notificationView,
  parseLogDate,
} from './notification-log.model.js';
import type { SupportViewsRepository } from './support-views.repository.js';

export interface NotificationLogQuery {
  type?: string | undefined;
  outcome?: NotificationLogOutcome | undefined;
  from?: string | undefined;
  to?: string | undefined;
  originalTransactionId?: string | undefined;
  userId?: string | undefined;
  cursor?: string | undefined;
  limit?: number | undefined;
  raw?: boolean | undefined;
}

export interface NotificationLogPage {
  notifications: NotificationView[];
  nextCursor: string | null;
}

export interface NotificationLogUsecase {
  /** Newest received first; 400 INVALID_CURSOR, INVALID_DATE, INVALID_WINDOW for bad paging or dates. */
  list(query: NotificationLogQuery): Promise<NotificationLogPage>;
}

export const DEFAULT_NOTIFICATION_LOG_LIMIT = 50;

export function createNotificationLogUsecase(deps: { repository: SupportViewsRepository }): NotificationLogUsecase {
  return {
    async list(query) {
      const from = query.from === undefined ? undefined : parseLogDate('from', query.from);
      const to = query.to === undefined ? undefined : parseLogDate('to', query.to);
      if (from !== undefined && to !== undefined && from.getTime() >= to.getTime()) throw badRequest('INVALID_WINDOW', 'from must be before to');
      const after = query.cursor === undefined ? null : decodeNotificationCursor(query.cursor);
      const limit = query.limit ?? DEFAULT_NOTIFICATION_LOG_LIMIT;
      const rows = await deps.repository.notifications({
        type: query.type?.toUpperCase(),
        outcome: query.outcome,
        from,
        to,
        originalTransactionId: query.originalTransactionId,
        userId: query.userId,
        after,
        limit: limit + 1,
      });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        notifications: page.map((row) => notificationView(row, { raw: query.raw === true })),
        nextCursor: rows.length > limit && last ? encodeNotificationCursor({ receivedAt: last.receivedAtKey, id: last.id }) : null,
      };
    },
  };
}
