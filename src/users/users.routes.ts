import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { EntitlementsResponse, UserIdParams } from '../entitlements/entitlements.schemas.js';
import { requireApiKey } from '../http/auth.js';
import { errorResponses } from '../http/schemas.js';
import type { ServedApps } from '../http/served-apps.js';
import { canonicalUserId } from './app-account-token.model.js';
import { AppAccountTokenResponse, TransactionSubmission, TransactionsQuery, TransactionsResponse } from './users.schemas.js';

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

export const usersRoutes: FastifyPluginAsyncTypebox<{ apps: ServedApps }> = async (app, { apps }) => {
  app.addHook('onRequest', requireApiKey(app.keys.app));

  app.get(
    '/users/:userId/app-account-token',
    {
      schema: {
        tags: ['users'],
        summary: 'The appAccountToken the app passes to StoreKit for this user',
        description:
          'A user id that is a UUID is its own token (compared case-insensitively; answered lower-case). Any other ' +
          "id gets a stable UUID derived under this installation's namespace. Purchases carrying the token are " +
          'attributed to the user automatically.',
        params: UserIdParams,
        response: { 200: AppAccountTokenResponse, ...errorResponses(401, 409, 503) },
      },
    },
    async (request) => ({ appAccountToken: await apps.of(request).users.appAccountToken(canonicalUserId(request.params.userId)) }),
  );

  app.post(
    '/users/:userId/transactions',
    {
      schema: {
        tags: ['users'],
        summary: "Link a purchase to the user and answer with the user's entitlements",
        description:
          'Verifies the signed transaction (or fetches it by id from the App Store Server API, Production then ' +
          'Sandbox), records it and links its originalTransactionId to the user. A purchase linked to another ' +
          'user moves (TRANSFER_POLICY=transfer) or is refused with 409 ALREADY_LINKED (keep). A purchase whose signed ' +
          "data carries another user's appAccountToken is refused with 409 TOKEN_BELONGS_TO_OTHER_USER under either " +
          'policy (the all-zero UUID is no token). 400 FUTURE_DATED: a date more than a minute ahead of the clock.',
        params: UserIdParams,
        body: TransactionSubmission,
        response: { 200: EntitlementsResponse, ...errorResponses(400, 401, 409, 502, 503) },
      },
    },
    async (request) => {
      const userId = canonicalUserId(request.params.userId);
      const { entitlements } = await apps.of(request).users.recordTransaction(userId, request.body);
      return { userId, entitlements };
    },
  );

  app.post(
    '/users/:userId/restore',
    {
      schema: {
        tags: ['users'],
        summary: "Restore: link every purchase of the customer's Apple Account to the user",
        description:
          'Reads the whole transaction history (Get Transaction History v2, every page) of the Apple Account that made the ' +
          'given transaction: a signed transaction (verified like a notification) is asked about in its own environment, a ' +
          'transaction id in Production, then Sandbox. Every purchase in it is linked to the user and recorded in one database ' +
          'transaction, under the rules of POST /users/:userId/transactions: 409 TOKEN_BELONGS_TO_OTHER_USER for a purchase ' +
          "carrying another user's appAccountToken, 409 ALREADY_LINKED under TRANSFER_POLICY=keep with the refused " +
          'originalTransactionIds in error.transactions; nothing is linked then. 404 TRANSACTION_NOT_FOUND when no accepted ' +
          'environment knows the transaction; 400 API_NOT_CONFIGURED without App Store Server API credentials; 503 ' +
          'APP_STORE_UNAVAILABLE when Apple fails on any page (nothing linked). Purchases whose signed data carries no ' +
          "appAccountToken get the user's token set on Apple's side after the answer (Set App Account Token, retried).",
        params: UserIdParams,
        body: TransactionSubmission,
        response: { 200: EntitlementsResponse, ...errorResponses(400, 401, 404, 409, 502, 503) },
      },
    },
    async (request) => {
      const userId = canonicalUserId(request.params.userId);
      const { entitlements } = await apps.of(request).users.restore(userId, request.body);
      return { userId, entitlements };
    },
  );

  app.get(
    '/users/:userId/transactions',
    {
      schema: {
        tags: ['users'],
        summary: "The user's recorded transactions, newest purchase first",
        params: UserIdParams,
        querystring: TransactionsQuery,
        response: { 200: TransactionsResponse, ...errorResponses(400, 401, 503) },
      },
    },
    async (request) => {
      const userId = canonicalUserId(request.params.userId);
      const page = await apps.of(request).users.listTransactions(userId, request.query.limit, request.query.cursor);
      return {
        userId,
        transactions: page.transactions.map((t) => ({
          ...t,
          purchaseDate: t.purchaseDate.toISOString(),
          expiresDate: iso(t.expiresDate),
          revocationDate: iso(t.revocationDate),
        })),
        nextCursor: page.nextCursor,
      };
    },
  );
};
