import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { requireApiKey } from '../http/auth.js';
import { errorResponses } from '../http/schemas.js';
import type { ServedApps } from '../http/served-apps.js';
import { canonicalUserId } from '../users/app-account-token.model.js';
import type { EntitlementView } from './entitlements.model.js';
import { EntitlementsQuery, EntitlementsResponse, STALE_HEADER, UserIdParams } from './entitlements.schemas.js';

// The JSON of an answer the use case hands out again (a cached user's kept answer,
// entitlements.usecase.ts), kept beside it: written once by the route's own serializer, so
// the bytes are those Fastify would write, then sent as they are. Only such answers (the
// use case freezes an answer when it hands it out a second time): a first answer is most
// often the only one (no cache, a user read once), and a WeakMap's values outlive their
// keys until V8's next full collection, however young the key dies, so every read's JSON
// would.
const JSON_TYPE = 'application/json; charset=utf-8';

export const entitlementsRoutes: FastifyPluginAsyncTypebox<{ apps: ServedApps }> = async (app, { apps }) => {
  const bodies = new WeakMap<readonly EntitlementView[], { userId: string; body: string }>();
  app.addHook('onRequest', requireApiKey(app.keys.app));

  app.get(
    '/entitlements/:userId',
    {
      schema: {
        tags: ['entitlements'],
        summary: 'What the user is entitled to right now',
        description:
          'Status is evaluated at request time. With `refresh=true` (or automatically, briefly, when a subscription ' +
          'period has ended without news) the App Store Server API is asked first; when it cannot be reached the ' +
          `answer comes from stored data with the header \`${STALE_HEADER}: true\`. With \`environment\`, only purchases of ` +
          'that environment count (and only they are refreshed).',
        params: UserIdParams,
        querystring: EntitlementsQuery,
        response: { 200: EntitlementsResponse, ...errorResponses(400, 401, 503) },
      },
    },
    async (request, reply) => {
      const userId = canonicalUserId(request.params.userId);
      const { refresh, environment } = request.query;
      const answer = await apps.of(request).entitlementReads.entitlementsOf(userId, {
        refresh: refresh ? 'always' : 'when-stale',
        ...(environment !== undefined ? { environment } : {}),
      });
      if (answer.stale) void reply.header(STALE_HEADER, 'true');
      let kept = bodies.get(answer.entitlements);
      if (kept === undefined || kept.userId !== userId) {
        kept = { userId, body: reply.serialize({ userId, entitlements: answer.entitlements }) as string };
        if (Object.isFrozen(answer.entitlements)) bodies.set(answer.entitlements, kept);
      }
      // Already JSON: with its JSON content type Fastify sends the string as it is.
      return reply.type(JSON_TYPE).send(kept.body as unknown as EntitlementsResponse);
    },
  );
};
