import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, Type } from 'typebox';
import type { AppConfig } from '../config.js';
import { requireAdminKey } from '../http/auth.js';
import { errorResponses } from '../http/schemas.js';

// GET /admin/apps (beyond SPEC): the installation's apps, for the console's app switcher and
// for scripts that loop over apps. Says what is configured, never a secret, not even its length.

const AppView = Type.Object(
  {
    id: Type.String({ description: 'What X-App-Id names', examples: ['main'] }),
    bundleId: Type.String({ examples: ['com.example.app'] }),
    environments: Type.Array(Type.Union([Type.Literal('Production'), Type.Literal('Sandbox'), Type.Literal('Xcode'), Type.Literal('LocalTesting')]), {
      description: 'The environments whose payloads the app accepts',
      examples: [['Production', 'Sandbox']],
    }),
    apiConfigured: Type.Boolean({ description: 'Whether the app has App Store Server API credentials (refresh, recovery, order look-ups)' }),
    v1: Type.Boolean({ description: 'Whether the app has a shared secret, so it takes V1 notifications' }),
  },
  { additionalProperties: false },
);

const AppsResponse = Type.Object(
  { apps: Type.Array(AppView, { description: 'In the configured order; without APPS_FILE, the one app `default`' }) },
  { additionalProperties: false },
);

type AppView = Static<typeof AppView>;

/** What an operator may see of an app's configuration. */
export function appView(app: AppConfig): AppView {
  return { id: app.id, bundleId: app.bundleId, environments: [...app.environments], apiConfigured: app.credentials !== null, v1: app.sharedSecret !== null };
}

export const appsRoutes: FastifyPluginAsyncTypebox<{ apps: readonly AppConfig[] }> = async (app, { apps }) => {
  app.addHook('onRequest', requireAdminKey(app.keys.admin, app.keys.app));
  const answer = { apps: apps.map(appView) };

  app.get(
    '/admin/apps',
    {
      schema: {
        tags: ['admin'],
        summary: "The installation's apps (beyond SPEC): ids for X-App-Id, bundle ids, environments, and what each has configured",
        description:
          'In the order APPS_FILE lists them; without APPS_FILE the one app `default` of the APPLE_* settings. No secret is ever shown: ' +
          '`apiConfigured` says whether App Store Server API credentials are set, `v1` whether a shared secret is. Needs no X-App-Id.',
        response: { 200: AppsResponse, ...errorResponses(400, 401, 403) },
      },
    },
    async () => answer,
  );
};
