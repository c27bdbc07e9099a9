import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { EntitlementsResponse, UserIdParams } from '../entitlements/entitlements.schemas.js';
import { requireApiKey } from '../http/auth.js';
import { errorResponses } from '../http/schemas.js';
import { canonicalUserId } from './app-account-token.model.js';
import { AppAccountTokenResponse, TransactionSubmission, TransactionsQuery, TransactionsResponse } from './users.schemas.js';
import type { UsersUsecase } from './users.usecase.js';

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

export const usersRoutes: FastifyPluginAsyncTypebox<{ users: UsersUsecase }> = async (app, { users }) => {
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
    async (request) => ({ appAccountToken: await users.appAccountToken(canonicalUserId(request.params.userId)) }),
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
      const { entitlements } = await users.recordTransaction(userId, request.body);
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
      const page = await users.listTransactions(userId, request.query.limit, request.query.cursor);
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
