import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { requireAdminKey, requireApiKey } from '../http/auth.js';
import { errorResponses } from '../http/schemas.js';
import type { ServedApps } from '../http/served-apps.js';
import type { ConsumptionFacts } from './consumption.model.js';
import type { ConsumptionRequestRow, StoredFacts } from './consumption.repository.js';
import { ConsumptionFactsBody, ConsumptionListQuery, ConsumptionListResponse, FactsResponse, TransactionIdParams } from './consumption.schemas.js';

const iso = (date: Date | null) => (date === null ? null : date.toISOString());

function factsView(facts: StoredFacts) {
  return {
    customerConsented: facts.customerConsented,
    sampleContentProvided: facts.sampleContentProvided,
    deliveryStatus: facts.deliveryStatus,
    consumptionPercentage: facts.consumptionPercentage,
    refundPreference: facts.refundPreference,
    updatedAt: facts.updatedAt.toISOString(),
  };
}

function requestView(row: ConsumptionRequestRow) {
  return {
    ...row,
    requestedAt: row.requestedAt.toISOString(),
    deadline: row.deadline.toISOString(),
    sentAt: iso(row.sentAt),
    facts: row.facts === null ? null : factsView(row.facts),
  };
}

export const consumptionRoutes: FastifyPluginAsyncTypebox<{ apps: ServedApps }> = async (app, { apps }) => {
  app.addHook('onRequest', requireApiKey(app.keys.app));

  app.put(
    '/transactions/:transactionId/consumption',
    {
      schema: {
        tags: ['users'],
        summary: "The app backend's consumption facts, for Apple's refund requests",
        description:
          "Stores Apple's ConsumptionRequest (v2) fields for the transaction, replacing earlier ones; accepted before Apple asks. " +
          'When Apple sends CONSUMPTION_REQUEST for it, the service answers through Send Consumption Information as soon as both the ' +
          'request and the facts are there, and never after the 12-hour deadline; only when customerConsented is true (otherwise the ' +
          'request is recorded as not_sent, reason customer_did_not_consent; new facts before the deadline open it again). The answer ' +
          "is sent in the background: the response shows the requests' state at the time. 400 VALIDATION_ERROR names the invalid field.",
        params: TransactionIdParams,
        body: ConsumptionFactsBody,
        response: { 200: FactsResponse, ...errorResponses(400, 401, 503) },
      },
    },
    async (request) => {
      const body = request.body;
      const facts: ConsumptionFacts = {
        customerConsented: body.customerConsented,
        sampleContentProvided: body.sampleContentProvided,
        deliveryStatus: body.deliveryStatus as ConsumptionFacts['deliveryStatus'],
        consumptionPercentage: body.consumptionPercentage ?? null,
        refundPreference: (body.refundPreference ?? null) as ConsumptionFacts['refundPreference'],
      };
      const answer = await apps.of(request).consumption.putFacts(request.params.transactionId, facts, request.apiKeyId ?? null);
      return { transactionId: answer.transactionId, facts: factsView(answer.facts), requests: answer.requests.map(requestView) };
    },
  );
};

export const consumptionAdminRoutes: FastifyPluginAsyncTypebox<{ apps: ServedApps }> = async (app, { apps }) => {
  app.addHook('onRequest', requireAdminKey(app.keys.admin, app.keys.app));

  app.get(
    '/admin/consumption',
    {
      schema: {
        tags: ['admin'],
        summary: "Apple's consumption requests, the answers sent and the reasons for none",
        description:
          'Newest request first, with the facts stored for each transaction. status: pending (waiting for facts or for a retry), sent, ' +
          'not_sent (reason customer_did_not_consent, expired, api_not_configured or no_app_store_environment), failed (Apple refused ' +
          'the answer: reason apple_refused, lastError has its code).',
        querystring: ConsumptionListQuery,
        response: { 200: ConsumptionListResponse, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (request) => ({ requests: (await apps.of(request).consumption.list(request.query)).map(requestView) }),
  );
};
