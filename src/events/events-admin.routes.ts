import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { requireAdminKey } from '../http/auth.js';
import { errorResponses, Nullable, NullableDateTime } from '../http/schemas.js';
import type { ServedApps } from '../http/served-apps.js';

const Status = Type.Union([Type.Literal('pending'), Type.Literal('failed'), Type.Literal('delivered')], {
  description: 'pending: not delivered yet (retrying or waiting for an earlier event of its user); failed: gave up after 3 days; delivered: a 2xx came back',
});

const DeliveriesQuery = Type.Object(
  {
    status: Status,
    cursor: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'nextCursor of the previous page (400 INVALID_CURSOR otherwise)' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50, description: 'Deliveries per page' })),
  },
  { additionalProperties: false },
);

const Delivery = Type.Object({
  eventId: Type.String({ description: 'The event id: webhook-id of every attempt, id in GET /events', examples: ['evt_0f8e4c2a-5b1d-4c3e-9a7f-2d6b8e1c4a90'] }),
  type: Type.String({ examples: ['entitlements.updated'] }),
  userId: Nullable(Type.String(), { examples: ['u-42'] }),
  url: Type.String({ description: 'The receiving URL, without credentials or query', examples: ['https://backend.example.com/webhooks/entitlements'] }),
  status: Status,
  attempts: Type.Integer({ description: 'Attempts so far (since the last redelivery)', examples: [3] }),
  recordedAt: Type.String({ format: 'date-time', description: "The event's timestamp" }),
  firstAttemptAt: NullableDateTime('2026-12-01T10:00:00.120Z'),
  lastAttemptAt: NullableDateTime('2026-12-01T10:00:13.400Z'),
  nextAttemptAt: NullableDateTime('2026-12-01T10:00:31.000Z'),
  lastStatus: Nullable(Type.Integer(), { description: 'HTTP status of the last attempt; null when no answer came', examples: [503] }),
  lastError: Nullable(Type.String(), { description: 'Why the last attempt failed: HTTP <status>, timeout, ECONNREFUSED, redirect …', examples: ['HTTP 503'] }),
  deliveredAt: NullableDateTime(null),
});

const DeliveriesResponse = Type.Object({
  deliveries: Type.Array(Delivery, { description: 'One per event and URL, newest event first' }),
  nextCursor: Nullable(Type.String(), { description: 'Pass as cursor for the next page; null on the last page' }),
});

const RedeliverParams = Type.Object({
  eventId: Type.String({ minLength: 1, maxLength: 128, description: 'The event id (webhook-id)' }),
});

const RedeliverResponse = Type.Object(
  {
    eventId: Type.String(),
    deliveries: Type.Integer({ description: 'URLs the event is now pending for (each of EVENTS_WEBHOOK_URLS)' }),
  },
  { examples: [{ eventId: 'evt_0f8e4c2a-5b1d-4c3e-9a7f-2d6b8e1c4a90', deliveries: 1 }] },
);

export const eventsAdminRoutes: FastifyPluginAsyncTypebox<{ apps: ServedApps }> = async (app, { apps }) => {
  app.addHook('onRequest', requireAdminKey(app.keys.admin, app.keys.app));

  app.get(
    '/admin/events/deliveries',
    {
      schema: {
        tags: ['admin'],
        summary: 'Event deliveries to EVENTS_WEBHOOK_URLS, by status',
        description:
          'One entry per event and URL, newest event first, page by page (cursor). An event recorded in the last second may ' +
          'not be listed yet: the worker creates its deliveries when it picks it up. 400 INVALID_CURSOR for a cursor this ' +
          'service did not hand out.',
        querystring: DeliveriesQuery,
        response: { 200: DeliveriesResponse, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (request) => apps.of(request).deliveries.list(request.query),
  );

  app.post(
    '/admin/events/:eventId/redeliver',
    {
      schema: {
        tags: ['admin'],
        summary: 'Deliver an event again to every URL',
        description:
          'Whatever its state (delivered, failed or pending), the event is delivered again to each of EVENTS_WEBHOOK_URLS with ' +
          'the same webhook-id, as a fresh delivery: attempts start from zero and retries run for another 3 days. Later events ' +
          'of the same user wait for it (per-user order). 404 EVENT_NOT_FOUND for an id no kept event has; 409 ' +
          'EVENTS_WEBHOOK_NOT_CONFIGURED without EVENTS_WEBHOOK_URLS.',
        params: RedeliverParams,
        response: { 200: RedeliverResponse, ...errorResponses(401, 403, 404, 409, 503) },
      },
    },
    async (request) => apps.of(request).deliveries.redeliver(request.params.eventId),
  );
};
