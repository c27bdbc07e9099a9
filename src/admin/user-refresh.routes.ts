import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { EntitlementsResponse, UserIdParams } from '../entitlements/entitlements.schemas.js';
import { requireAdminKey } from '../http/auth.js';
import { errorResponses } from '../http/schemas.js';
import type { ServedApps } from '../http/served-apps.js';
import { canonicalUserId } from '../users/app-account-token.model.js';

// Beyond SPEC: the console's "Refresh from the App Store" (it may call admin routes only).
// The same use case as GET /entitlements/:userId?refresh=true, in its `required` mode.
export const userRefreshRoutes: FastifyPluginAsyncTypebox<{ apps: ServedApps }> = async (app, { apps }) => {
  app.addHook('onRequest', requireAdminKey(app.keys.admin, app.keys.app));

  app.post(
    '/admin/users/:userId/refresh',
    {
      schema: {
        tags: ['admin'],
        summary: "Refresh a user's subscriptions from the App Store (beyond SPEC)",
        description:
          'What `GET /entitlements/:userId?refresh=true` does, for an operator: asks the App Store Server API (Get All Subscription ' +
          "Statuses) about the user's auto-renewable subscriptions, records what it answers (an `entitlements.updated` event when " +
          "the answer changes), and answers the user's entitlements in the same shape. Where `?refresh=true` answers stored data " +
          'marked stale, this route fails instead, so the operator knows Apple was not heard: 400 API_NOT_CONFIGURED without App Store ' +
          'Server API credentials; 503 APP_STORE_UNAVAILABLE (Apple away or failing), REFRESH_TIMEOUT (no answer within 5 s; it goes on ' +
          'and applies later) or DATABASE_UNAVAILABLE; 502 when Apple refuses the request. A user without subscriptions is answered ' +
          'from stored data (nothing to ask).',
        params: UserIdParams,
        response: { 200: EntitlementsResponse, ...errorResponses(400, 401, 403, 502, 503) },
      },
    },
    async (request) => {
      const userId = canonicalUserId(request.params.userId);
      const answer = await apps.of(request).entitlements.entitlementsOf(userId, { refresh: 'required' });
      return { userId, entitlements: answer.entitlements };
    },
  );
};
