import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { requireAdminKey } from '../http/auth.js';
import { errorResponses, Nullable } from '../http/schemas.js';
import type { ServedApps } from '../http/served-apps.js';

const OrderParams = Type.Object({
  orderId: Type.String({
    minLength: 1,
    maxLength: 64,
    pattern: '^[0-9A-Za-z_-]+$',
    description: "The order id on the customer's emailed App Store receipt",
    examples: ['MK5TTTVWJH'],
  }),
});

const OrderResponse = Type.Object(
  {
    orderId: Type.String({ examples: ['MK5TTTVWJH'] }),
    environment: Type.Union([Type.Literal('Production'), Type.Literal('Sandbox')], { description: 'Where Apple knew the order' }),
    transactions: Type.Array(
      Type.Object(
        {
          transactionId: Type.String({ examples: ['2000000000000007'] }),
          originalTransactionId: Type.String({ examples: ['2000000000000001'] }),
          productId: Type.String({ examples: ['com.example.pro.monthly'] }),
          purchaseDate: Type.String({ format: 'date-time', examples: ['2026-11-01T10:00:00.000Z'] }),
          userId: Nullable(Type.String(), { examples: ['u-42'], description: 'The user the purchase is linked to; null when none' }),
        },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);

export const ordersRoutes: FastifyPluginAsyncTypebox<{ apps: ServedApps }> = async (app, { apps }) => {
  app.addHook('onRequest', requireAdminKey(app.keys.admin, app.keys.app));

  app.get(
    '/admin/orders/:orderId',
    {
      schema: {
        tags: ['admin'],
        summary: "Find a customer from the order id on their emailed receipt (Apple's Look Up Order ID)",
        description:
          'Asks Production, then Sandbox (those APPLE_ENVIRONMENTS accepts); verifies every signed transaction Apple returns and ' +
          'names the user each purchase is linked to. 404 ORDER_NOT_FOUND for an order Apple does not know; 400 API_NOT_CONFIGURED ' +
          'without App Store Server API credentials; 503 APP_STORE_UNAVAILABLE when Apple is unavailable; 502 when Apple refuses.',
        params: OrderParams,
        response: { 200: OrderResponse, ...errorResponses(400, 401, 403, 404, 502, 503) },
      },
    },
    async (request) => apps.of(request).orders.lookUp(request.params.orderId),
  );
};
