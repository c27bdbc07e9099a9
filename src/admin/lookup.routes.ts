import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { badRequest } from '../errors.js';
import { requireAdminKey } from '../http/auth.js';
import { errorResponses, Nullable } from '../http/schemas.js';
import type { ServedApps } from '../http/served-apps.js';
import type { LookupQuery } from './lookup.usecase.js';

const Id = (description: string) => Type.Optional(Type.String({ minLength: 1, maxLength: 64, pattern: '^[\\x21-\\x7E]+$', description }));

const LookupQuerySchema = Type.Object(
  {
    transactionId: Id('A transaction id (any transaction of the purchase)'),
    originalTransactionId: Id('The purchase’s original transaction id'),
    appAccountToken: Type.Optional(Type.String({ format: 'uuid', description: 'The appAccountToken the app passed to StoreKit' })),
  },
  { additionalProperties: false },
);

const LookupResponse = Type.Object(
  {
    userId: Nullable(Type.String(), { description: 'The user it belongs to now; null when none', examples: ['u-42'] }),
    originalTransactionId: Nullable(Type.String(), { description: 'The purchase the id names; null for a token or an unknown transaction' }),
    purchaseRecorded: Type.Boolean({ description: 'Whether the service has recorded that purchase' }),
  },
  { examples: [{ userId: 'u-42', originalTransactionId: '2000000000000001', purchaseRecorded: true }] },
);

// The console's customer search by an id other than the user id (the order id goes through
// GET /admin/orders/:orderId, which asks Apple).
export const lookupRoutes: FastifyPluginAsyncTypebox<{ apps: ServedApps }> = async (app, { apps }) => {
  app.addHook('onRequest', requireAdminKey(app.keys.admin, app.keys.app));

  app.get(
    '/admin/lookup',
    {
      schema: {
        tags: ['admin'],
        summary: 'Whose is this transaction, purchase or app account token',
        description:
          'Exactly one of transactionId, originalTransactionId, appAccountToken (400 VALIDATION_ERROR otherwise). From stored data ' +
          'only: nothing is asked of Apple. An id the service does not know answers 200 with userId null.',
        querystring: LookupQuerySchema,
        response: { 200: LookupResponse, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (request) => {
      const given = Object.entries(request.query).filter(([, value]) => value !== undefined);
      if (given.length !== 1) throw badRequest('VALIDATION_ERROR', 'Give exactly one of transactionId, originalTransactionId, appAccountToken');
      return apps.of(request).lookup.lookup(Object.fromEntries(given) as LookupQuery);
    },
  );
};
