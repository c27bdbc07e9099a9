import type { Clock } from '../clock.js';
import type { Database } from '../db/client.js';
import { conflict, notFound } from '../errors.js';
import { decodePageCursor, encodePageCursor, invalidCursor } from '../http/page-cursor.js';
import { type DeliveryCursor, type DeliveryRow, type DeliveryStatus, listDeliveries, redeliverEvent } from './deliveries.repository.js';
import { urlLabel } from './delivery.worker.js';

// The operator's view of deliveries (admin route, console, CLI): list them by status, and
// start an event's delivery again.

export interface DeliveryView {
  eventId: string;
  type: string;
  userId: string | null;
  /** The URL without credentials or query. */
  url: string;
  status: DeliveryStatus;
  attempts: number;
  recordedAt: string;
  firstAttemptAt: string | null;
  lastAttemptAt: string | null;
  /** Pending: when the next attempt is due. */
  nextAttemptAt: string | null;
  lastStatus: number | null;
  lastError: string | null;
  deliveredAt: string | null;
}

export interface DeliveriesPage {
  deliveries: DeliveryView[];
  nextCursor: string | null;
}

export interface DeliveriesUsecase {
  list(input: { status: DeliveryStatus; cursor?: string | undefined; limit?: number | undefined }): Promise<DeliveriesPage>;
  /** 404 EVENT_NOT_FOUND for an unknown id; 409 EVENTS_WEBHOOK_NOT_CONFIGURED without URLs. */
  redeliver(eventId: string): Promise<{ eventId: string; deliveries: number }>;
}

const encodeCursor = (cursor: DeliveryCursor) => encodePageCursor([cursor.eventSeq, cursor.url]);

function decodeCursor(raw: string): DeliveryCursor {
  const invalid = invalidCursor;
  const [eventSeq, url] = decodePageCursor(raw, 2);
  if (typeof eventSeq !== 'number' || !Number.isSafeInteger(eventSeq) || eventSeq < 0 || typeof url !== 'string') throw invalid();
  return { eventSeq, url };
}

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

function view(row: DeliveryRow): DeliveryView {
  return {
    eventId: row.eventId,
    type: row.type,
    userId: row.userId,
    url: urlLabel(row.url),
    status: row.status,
    attempts: row.attempts,
    recordedAt: row.recordedAt.toISOString(),
    firstAttemptAt: iso(row.firstAttemptAt),
    lastAttemptAt: iso(row.lastAttemptAt),
    nextAttemptAt: row.status === 'pending' ? row.nextAttemptAt.toISOString() : null,
    lastStatus: row.lastStatus,
    lastError: row.lastError,
    deliveredAt: iso(row.deliveredAt),
  };
}

export const DEFAULT_DELIVERIES_LIMIT = 50;

export function createDeliveriesUsecase(deps: {
  db: Database;
  urls: readonly string[];
  clock: Clock;
  /** Wakes the worker so a redelivery goes out at once (absent in the CLI: the service's worker polls). */
  wake?: () => void;
}): DeliveriesUsecase {
  return {
    async list({ status, cursor, limit = DEFAULT_DELIVERIES_LIMIT }) {
      const rows = await listDeliveries(deps.db, { status, cursor: cursor === undefined ? null : decodeCursor(cursor), limit: limit + 1 });
      const page = rows.slice(0, limit);
      const last = page.at(-1);
      return {
        deliveries: page.map(view),
        nextCursor: rows.length > limit && last ? encodeCursor({ eventSeq: last.eventSeq, url: last.url }) : null,
      };
    },
    async redeliver(eventId) {
      const count = await redeliverEvent(deps.db, { eventId, urls: deps.urls, now: deps.clock() });
      if (count === null) throw notFound('EVENT_NOT_FOUND', `No event has the id ${eventId} (or it is older than EVENTS_RETENTION)`);
      if (deps.urls.length === 0) {
        throw conflict('EVENTS_WEBHOOK_NOT_CONFIGURED', 'EVENTS_WEBHOOK_URLS is not set: there is nowhere to deliver to');
      }
      deps.wake?.();
      return { eventId, deliveries: count };
    },
  };
}
