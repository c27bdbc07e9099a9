import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { requireAdminKey } from '../http/auth.js';
import { errorResponses } from '../http/schemas.js';
import type { ServedApps } from '../http/served-apps.js';
import { canonicalUserId } from '../users/app-account-token.model.js';
import { CustomerResponse, NotificationLogQuery, NotificationLogResponse, UserIdParams } from './support-views.schemas.js';

// What the operator console shows: the notification log and one customer's whole record.
export const supportViewsRoutes: FastifyPluginAsyncTypebox<{ apps: ServedApps }> = async (app, { apps }) => {
  app.addHook('onRequest', requireAdminKey(app.keys.admin, app.keys.app));

  app.get(
    '/admin/notifications',
    {
      schema: {
        tags: ['admin'],
        summary: 'The notification log, decoded, newest first',
        description:
          'Every notification the service recorded (V2 and V1, from the webhook, recovery or the API), decoded; the raw JWS only ' +
          'with raw=true. Filters combine; from/to apply to receivedAt. Page with nextCursor. 400 INVALID_CURSOR for a cursor this ' +
          'service did not hand out, INVALID_DATE for a bad from/to, INVALID_WINDOW when from is not before to, VALIDATION_ERROR ' +
          'naming any other bad field.',
        querystring: NotificationLogQuery,
        response: { 200: NotificationLogResponse, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (request) => {
      const { userId, ...query } = request.query;
      return apps.of(request).notificationLog.list({ ...query, ...(userId !== undefined ? { userId: canonicalUserId(userId) } : {}) });
    },
  );

  app.get(
    '/admin/users/:userId',
    {
      schema: {
        tags: ['admin'],
        summary: 'Everything about one user',
        description:
          'Entitlements (stored data, as GET /entitlements answers without refresh), purchases with their transactions and renewal ' +
          'state, links with their history, purchases that moved to another user, and the latest notifications and events concerning ' +
          'the user (bounded lists: `truncated` says which were cut). Nothing is asked of Apple and nothing is written. An unknown ' +
          'user gets 200 with empty lists.',
        params: UserIdParams,
        response: { 200: CustomerResponse, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (request) => apps.of(request).customers.customer(canonicalUserId(request.params.userId)),
  );
};
