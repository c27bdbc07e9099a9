import type { Executor } from '../db/client.js';
import { badRequest } from '../errors.js';
import type { EventType, RecordedEvent } from './event-types.js';
import { lastEventSeq, readEvents } from './events.repository.js';
import type { FeedSignal } from './feed-signal.js';

// GET /events: the recorded events, oldest first, after a cursor (the last seq read, as a
// decimal string). An empty answer may wait for the next event, woken by the feed signal
// rather than by polling the table.

export const MAX_FEED_LIMIT = 1000;
export const DEFAULT_FEED_LIMIT = 100;
export const MAX_FEED_WAIT_SECONDS = 30;

export interface FeedEvent {
  id: string;
  type: EventType;
  timestamp: string;
  data: Record<string, unknown>;
}

export interface FeedPage {
  events: FeedEvent[];
  nextCursor: string;
}

export interface FeedRequest {
  after?: string | undefined;
  limit?: string | undefined;
  wait?: string | undefined;
  /** Fires when the client went away: a waiting request ends early. */
  abort?: AbortSignal;
}

export interface FeedUsecaseDeps {
  db: Executor;
  signal: FeedSignal;
}

export type FeedUsecase = ReturnType<typeof createFeedUsecase>;

export function parseCursor(after: string | undefined): number {
  if (after === undefined || after === '') return 0;
  if (!/^\d{1,15}$/.test(after)) throw badRequest('INVALID_CURSOR', '`after` must be a nextCursor this service handed out');
  return Number(after);
}

export function parseLimit(limit: string | undefined): number {
  if (limit === undefined || limit === '') return DEFAULT_FEED_LIMIT;
  const n = /^\d{1,4}$/.test(limit) ? Number(limit) : NaN;
  if (!(n >= 1 && n <= MAX_FEED_LIMIT)) throw badRequest('INVALID_LIMIT', `\`limit\` must be a whole number from 1 to ${MAX_FEED_LIMIT}`);
  return n;
}

export function parseWait(wait: string | undefined): number {
  if (wait === undefined || wait === '') return 0;
  const n = /^\d{1,2}(\.\d{1,3})?$/.test(wait) ? Number(wait) : NaN;
  if (!(n >= 0 && n <= MAX_FEED_WAIT_SECONDS)) throw badRequest('INVALID_WAIT', `\`wait\` must be a number of seconds from 0 to ${MAX_FEED_WAIT_SECONDS}`);
  return n;
}

export function feedEvent(event: RecordedEvent): FeedEvent {
  const body = JSON.parse(event.body) as { timestamp: string; app?: string; data: Record<string, unknown> };
  return { id: event.id, type: event.type, timestamp: body.timestamp, ...(body.app !== undefined ? { app: body.app } : {}), data: body.data };
}

export function createFeedUsecase(deps: FeedUsecaseDeps) {
  return {
    /** The cursor of the feed's end now: reading from it answers only later events. */
    async endCursor(): Promise<string> {
      return String(await lastEventSeq(deps.db));
    },
    async read(request: FeedRequest): Promise<FeedPage> {
      const afterSeq = parseCursor(request.after);
      const limit = parseLimit(request.limit);
      const waitMs = parseWait(request.wait) * 1000;
      const deadline = Date.now() + waitMs;
      let rows = await readEvents(deps.db, afterSeq, limit);
      while (rows.length === 0 && !request.abort?.aborted) {
        const remaining = deadline - Date.now();
        if (remaining <= 0) break;
        // The signal remembers the last seq it was told of, so an event committed between
        // the read above and this call still wakes it at once.
        if (!(await deps.signal.wait(afterSeq, remaining, request.abort))) break;
        rows = await readEvents(deps.db, afterSeq, limit);
      }
      return {
        events: rows.map(feedEvent),
        nextCursor: String(rows.length > 0 ? rows[rows.length - 1]!.seq : afterSeq),
      };
    },
  };
}
