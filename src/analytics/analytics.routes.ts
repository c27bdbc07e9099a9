import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { ENVIRONMENTS } from '../apple/types.js';
import { requireAdminKey } from '../http/auth.js';
import { errorResponses } from '../http/schemas.js';
import type { ServedApps } from '../http/served-apps.js';
import { INTERVALS, MAX_BUCKETS, METRICS } from './analytics.model.js';

const Environment = Type.Union(
  ENVIRONMENTS.map((environment) => Type.Literal(environment)),
  { description: 'Only purchases of this App Store environment; absent: every environment' },
);

const Counts = (description: string, example: Record<string, number>) => Type.Record(Type.String(), Type.Integer(), { description, examples: [example] });

const SummaryQuery = Type.Object({ environment: Type.Optional(Environment) }, { additionalProperties: false });

const SummaryResponse = Type.Object({
  asOf: Type.String({ format: 'date-time', description: 'The instant the counts were taken (the request’s)' }),
  activeSubscriptions: Type.Object(
    {
      total: Type.Integer({
        description: 'Auto-renewable subscriptions (one per originalTransactionId) whose status is active or grace_period',
        examples: [1520],
      }),
      byProduct: Counts('The current period’s product id → count', { 'com.example.pro.monthly': 1200, 'com.example.pro.yearly': 320 }),
      byStatus: Counts('active / grace_period → count', { active: 1500, grace_period: 20 }),
      byPeriodType: Counts('The current period’s periodType (trial, intro, promotional, offer_code, win_back, normal, unknown) → count', {
        normal: 1400,
        trial: 120,
      }),
    },
    { description: 'Subscriptions whose entitlement answer would say active right now' },
  ),
  activeEntitlements: Counts('Entitlement id → users (linked purchases only) holding it active now, each user once', { pro: 1490, lifetime: 80 }),
});

const TimeseriesQuery = Type.Object(
  {
    metric: Type.Union(
      METRICS.map((metric) => Type.Literal(metric)),
      { description: 'What to count per bucket (definitions in docs/analytics.md)' },
    ),
    from: Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'Start, inclusive: an ISO 8601 instant with a time zone (counted from its UTC day’s midnight)',
      examples: ['2026-11-01T00:00:00Z'],
    }),
    to: Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'End, exclusive: an ISO 8601 instant after from (counted to the end of its UTC day, unless it is a midnight)',
      examples: ['2026-12-01T00:00:00Z'],
    }),
    interval: Type.Union(
      INTERVALS.map((interval) => Type.Literal(interval)),
      { description: `Bucket size, in UTC: day, week (ISO weeks, starting Monday 00:00 UTC) or month; at most ${MAX_BUCKETS} buckets` },
    ),
    environment: Type.Optional(Environment),
  },
  { additionalProperties: false },
);

const Start = Type.String({
  format: 'date-time',
  description: 'The bucket’s UTC start (the first bucket may start before from; only the days from..to touch are counted)',
});

const TimeseriesResponse = Type.Union([
  Type.Object(
    {
      metric: Type.String({ examples: ['new_subscriptions'] }),
      interval: Type.String({ examples: ['day'] }),
      points: Type.Array(Type.Object({ start: Start, value: Type.Integer({ examples: [42] }) }), { description: 'Every bucket, oldest first, 0 when none' }),
    },
    { description: 'Every metric but revenue' },
  ),
  Type.Object(
    {
      metric: Type.Literal('revenue'),
      interval: Type.String({ examples: ['month'] }),
      points: Type.Array(
        Type.Object({
          start: Start,
          byCurrency: Type.Record(Type.String(), Type.Number(), {
            description: "Gross (refunds not deducted) from Apple's prices, in units of each currency, on the purchase date",
            examples: [{ EUR: 89.91, USD: 123.45 }],
          }),
        }),
      ),
    },
    { description: 'metric=revenue' },
  ),
]);

export const analyticsRoutes: FastifyPluginAsyncTypebox<{ apps: ServedApps }> = async (app, { apps }) => {
  app.addHook('onRequest', requireAdminKey(app.keys.admin, app.keys.app));

  app.get(
    '/admin/analytics/summary',
    {
      schema: {
        tags: ['admin'],
        summary: 'Active subscriptions and entitlements now',
        description:
          'Counted at request time (asOf) from the per-purchase state the write side keeps with every purchase change: ' +
          'a purchase is active while not revoked and its period, or its grace period while Apple retries billing, has not ended. ' +
          'See docs/analytics.md.',
        querystring: SummaryQuery,
        response: { 200: SummaryResponse, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (request) => apps.of(request).analytics.summary(request.query),
  );

  app.get(
    '/admin/analytics/timeseries',
    {
      schema: {
        tags: ['admin'],
        summary: 'New subscriptions, renewals, expirations, refunds, trial conversions or revenue per day, week or month',
        description:
          'From the daily rollup the write side keeps: buckets in UTC, counted by whole UTC days (from rounded down to its midnight, ' +
          'to up to the next). 400 VALIDATION_ERROR for an unknown metric, interval or environment (the ' +
          `message names the field), INVALID_DATE for a from or to that is not an ISO 8601 instant, INVALID_RANGE when from is not before to, ` +
          `TOO_MANY_BUCKETS past ${MAX_BUCKETS} buckets. Definitions in docs/analytics.md.`,
        querystring: TimeseriesQuery,
        response: { 200: TimeseriesResponse, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (request) => apps.of(request).analytics.timeseries(request.query),
  );
};
