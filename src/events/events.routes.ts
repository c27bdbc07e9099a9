import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { requireApiKey } from '../http/auth.js';
import { errorResponses } from '../http/schemas.js';
import type { ServedApps } from '../http/served-apps.js';
import { FeedQuery, FeedResponse } from './events.schemas.js';

export const eventsRoutes: FastifyPluginAsyncTypebox<{ apps: ServedApps }> = async (app, { apps }) => {
  app.addHook('onRequest', requireApiKey(app.keys.app));

  app.get(
    '/events',
    {
      schema: {
        tags: ['events'],
        summary: 'The event feed, oldest first',
        description:
          'The events also delivered to EVENTS_WEBHOOK_URLS (same ids and bodies): entitlements.updated, ' +
          'notification.received, consumption.requested, each recorded in the transaction of its change. Events ' +
          'appear in the order they committed, so reading on from `nextCursor` never skips one. With `wait`, an ' +
          'empty answer waits up to that many seconds for the next event. Kept for EVENTS_RETENTION.',
        querystring: FeedQuery,
        response: { 200: FeedResponse, ...errorResponses(400, 401, 503) },
      },
    },
    async (request, reply) => {
      const gone = new AbortController();
      reply.raw.once('close', () => gone.abort());
      return apps.of(request).feed.read({ ...request.query, abort: gone.signal });
    },
  );
};
