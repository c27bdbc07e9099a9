import { Type } from 'typebox';
import { EVENT_TYPES, type EventType } from './event-types.js';
import { MAX_FEED_LIMIT, MAX_FEED_WAIT_SECONDS } from './feed.usecase.js';

// Query values stay strings here: the use case checks them, so each bad one gets its own
// code (INVALID_CURSOR, INVALID_LIMIT, INVALID_WAIT) rather than a generic validation error.
export const FeedQuery = Type.Object({
  after: Type.Optional(
    Type.String({ maxLength: 64, description: '`nextCursor` of the previous answer; without it, from the oldest kept event (400 INVALID_CURSOR otherwise)' }),
  ),
  limit: Type.Optional(
    Type.String({ maxLength: 16, description: `Most events in the answer, 1-${MAX_FEED_LIMIT} (default 100; 400 INVALID_LIMIT otherwise)`, examples: ['100'] }),
  ),
  wait: Type.Optional(
    Type.String({
      maxLength: 16,
      description: `Seconds (0-${MAX_FEED_WAIT_SECONDS}) an empty answer waits for the next event (400 INVALID_WAIT otherwise)`,
      examples: ['30'],
    }),
  ),
});

export const FeedEventSchema = Type.Object({
  id: Type.String({ description: 'The event id, also `webhook-id` of its deliveries', examples: ['evt_2b0d7a4e-4c1f-4a53-9f55-0a4e33c1d7b2'] }),
  type: Type.Unsafe<EventType>(Type.String({ enum: [...EVENT_TYPES], description: 'What happened' })),
  timestamp: Type.String({ format: 'date-time', description: 'When it was recorded' }),
  app: Type.Optional(Type.String({ description: 'With APPS_FILE: the id of the app the event is about (the key’s app)', examples: ['default'] })),
  data: Type.Object(
    {},
    {
      additionalProperties: true,
      description:
        'entitlements.updated: {userId, entitlements, previous} (the GET /entitlements answer now and as last recorded); ' +
        'notification.received: {notificationUUID, notificationType, subtype, environment, signedDate, userId, transactionId, ' +
        'originalTransactionId, productId}; consumption.requested: {userId, transactionId, productId, deadline}',
    },
  ),
});

export const FeedResponse = Type.Object({
  events: Type.Array(FeedEventSchema, { description: 'Oldest first' }),
  nextCursor: Type.String({ description: 'Pass as `after` to continue; at the end of the feed it still points there', examples: ['1042'] }),
});
