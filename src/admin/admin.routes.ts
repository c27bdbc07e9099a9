import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import { apiNotConfigured } from '../app-store-errors.js';
import { requireAdminKey } from '../http/auth.js';
import { errorResponses, NullableDateTime } from '../http/schemas.js';
import type { ServedApps } from '../http/served-apps.js';
import { RECOVERY_RUNS_KEPT } from './recovery-runs.repository.js';

const IsoDateTime = (description: string, example: string) => Type.String({ minLength: 1, maxLength: 64, description, examples: [example] });

const RecoverBody = Type.Object(
  {
    startDate: IsoDateTime('Start of the window, ISO 8601; at most 180 days ago (Apple keeps no older history)', '2026-11-01T00:00:00Z'),
    endDate: IsoDateTime('End of the window, ISO 8601, after startDate and not in the future', '2026-11-02T00:00:00Z'),
    onlyFailures: Type.Optional(
      Type.Boolean({ description: 'Only notifications Apple failed to deliver (default false: every notification)', examples: [true] }),
    ),
  },
  { additionalProperties: false },
);

const Environment = Type.Union([Type.Literal('Production'), Type.Literal('Sandbox')]);

const RecoverResponse = Type.Object(
  {
    fetched: Type.Integer({ description: "Notifications in Apple's history for the window", examples: [12] }),
    applied: Type.Integer({ description: 'Not recorded before: now recorded and applied', examples: [2] }),
    duplicate: Type.Integer({ description: 'Already recorded (by the webhook or an earlier recovery): not applied again', examples: [10] }),
    rejected: Type.Integer({ description: 'Failed verification or were malformed; logged with their code', examples: [0] }),
    environments: Type.Array(Environment, { description: 'Whose histories were read: the accepted ones among Production and Sandbox' }),
  },
  {
    examples: [{ fetched: 12, applied: 2, duplicate: 10, rejected: 0, environments: ['Production', 'Sandbox'] }],
  },
);

const RunsQuery = Type.Object(
  {
    limit: Type.Optional(
      Type.Integer({ minimum: 1, maximum: RECOVERY_RUNS_KEPT, default: 50, description: `How many runs, newest first (1-${RECOVERY_RUNS_KEPT}, default 50)` }),
    ),
  },
  { additionalProperties: false },
);

const RecoveryRun = Type.Object(
  {
    id: Type.Integer({ examples: [42] }),
    trigger: Type.Union([Type.Literal('schedule'), Type.Literal('admin'), Type.Literal('cli')], {
      description: 'The periodic job (RECOVERY_INTERVAL), POST /admin/notifications/recover, or `npm run cli -- recover`',
    }),
    outcome: Type.Union([Type.Literal('success'), Type.Literal('failure')]),
    startedAt: Type.String({ format: 'date-time', examples: ['2026-12-01T10:00:00.000Z'] }),
    finishedAt: Type.String({ format: 'date-time', examples: ['2026-12-01T10:00:02.400Z'] }),
    startDate: NullableDateTime('2026-12-01T08:55:00.000Z'),
    endDate: NullableDateTime('2026-12-01T10:00:00.000Z'),
    onlyFailures: Type.Boolean({ description: 'Only notifications Apple failed to deliver (always true for the periodic job)' }),
    fetched: Type.Integer({ examples: [3] }),
    applied: Type.Integer({ examples: [1] }),
    duplicate: Type.Integer({ examples: [2] }),
    rejected: Type.Integer({ examples: [0] }),
    error: Type.Union(
      [
        Type.Object({
          code: Type.String({ examples: ['APP_STORE_UNAVAILABLE'] }),
          message: Type.String({ examples: ['The App Store Server API is unavailable (HTTP 503); try again later'] }),
        }),
        Type.Null(),
      ],
      { description: "A failed run's code and message, as the admin route answers them; null on success" },
    ),
  },
  { additionalProperties: false },
);

const RunsResponse = Type.Object({
  runs: Type.Array(RecoveryRun, { description: `Newest first (by start); the service keeps the last ${RECOVERY_RUNS_KEPT}` }),
});

const EnvironmentQuery = Type.Object(
  {
    environment: Type.Optional(
      Type.Union([Type.Literal('Production'), Type.Literal('Sandbox')], {
        description: 'Which App Store environment; default Production when accepted, else Sandbox',
      }),
    ),
  },
  { additionalProperties: false },
);

const TestNotificationResponse = Type.Object(
  {
    testNotificationToken: Type.String({ examples: ['ce3af791-365e-4c60-841b-1674b43c1609_1700000000000'] }),
    environment: Environment,
  },
  { examples: [{ testNotificationToken: 'ce3af791-365e-4c60-841b-1674b43c1609_1700000000000', environment: 'Sandbox' }] },
);

const SendAttempt = Type.Object(
  {
    attemptDate: Type.Optional(Type.Number({ description: 'Milliseconds since the epoch', examples: [1700000000000] })),
    sendAttemptResult: Type.Optional(Type.String({ description: "Apple's result, e.g. SUCCESS or TIMED_OUT", examples: ['SUCCESS'] })),
  },
  { additionalProperties: true },
);

const TestNotificationStatusResponse = Type.Object(
  {
    environment: Environment,
    signedPayload: Type.Optional(Type.String({ description: 'The TEST notification Apple sent (JWS)' })),
    sendAttempts: Type.Array(SendAttempt, { description: "Apple's delivery attempts, as Apple returns them" }),
    notificationType: Type.Optional(Type.String({ description: 'From the payload, when it verifies', examples: ['TEST'] })),
    notificationUUID: Type.Optional(Type.String({ description: 'From the payload, when it verifies' })),
    verificationError: Type.Optional(Type.String({ description: "The verifier's code when the payload does not verify", examples: ['WRONG_BUNDLE_ID'] })),
  },
  {
    examples: [
      {
        environment: 'Sandbox',
        sendAttempts: [{ attemptDate: 1700000000000, sendAttemptResult: 'SUCCESS' }],
        notificationType: 'TEST',
        notificationUUID: '9f1d2c3b-0000-4000-8000-000000000001',
      },
    ],
  },
);

const TokenParams = Type.Object({
  token: Type.String({ minLength: 1, maxLength: 256, description: 'The testNotificationToken from POST /admin/notifications/test' }),
});

export const adminRoutes: FastifyPluginAsyncTypebox<{ apps: ServedApps }> = async (app, { apps }) => {
  app.addHook('onRequest', requireAdminKey(app.keys.admin, app.keys.app));

  app.get(
    '/admin/notifications/recover/runs',
    {
      schema: {
        tags: ['admin'],
        summary: 'The last recovery runs (beyond SPEC)',
        description:
          "Every run of recovery, the periodic job's (RECOVERY_INTERVAL), the admin route's and the CLI's, with its window, counts " +
          `and, when it failed, the error; newest first. The last ${RECOVERY_RUNS_KEPT} are kept. A periodic run skipped because another ` +
          'replica ran it is not listed (that replica lists its run). Empty without App Store Server API credentials (recovery cannot run).',
        querystring: RunsQuery,
        response: { 200: RunsResponse, ...errorResponses(400, 401, 403, 503) },
      },
    },
    async (request) => {
      const runs = await apps.of(request).recoveryRuns.latest(request.query.limit ?? 50);
      return {
        runs: runs.map((run) => ({
          id: run.id,
          trigger: run.trigger,
          outcome: run.outcome,
          startedAt: run.startedAt.toISOString(),
          finishedAt: run.finishedAt.toISOString(),
          startDate: run.window?.startDate.toISOString() ?? null,
          endDate: run.window?.endDate.toISOString() ?? null,
          onlyFailures: run.window?.onlyFailures ?? false,
          ...run.counts,
          error: run.error,
        })),
      };
    },
  );

  app.post(
    '/admin/notifications/recover',
    {
      schema: {
        tags: ['admin'],
        summary: "Recover missed notifications from Apple's notification history",
        description:
          'Reads Get Notification History for the window in each accepted environment (Production, Sandbox) and feeds every ' +
          'notification through the webhook ingest path: already-recorded ones count as duplicates and are not applied again. ' +
          '400 INVALID_DATE / INVALID_WINDOW / WINDOW_IN_FUTURE / WINDOW_TOO_OLD for a bad window, API_NOT_CONFIGURED without ' +
          'App Store Server API credentials; 503 when Apple, the database or OCSP is unavailable (what was applied stays; run it again); ' +
          '502 when Apple refuses the request (its error code is in the message).',
        body: RecoverBody,
        response: { 200: RecoverResponse, ...errorResponses(400, 401, 403, 502, 503) },
      },
    },
    async (request) => {
      const { recovery } = apps.of(request);
      if (recovery === null) throw apiNotConfigured();
      const window = recovery.window(request.body);
      const logger = request.log.child({ startDate: window.startDate.toISOString(), endDate: window.endDate.toISOString() });
      return recovery.recover(window, { trigger: 'admin', logger });
    },
  );

  app.post(
    '/admin/notifications/test',
    {
      schema: {
        tags: ['admin'],
        summary: 'Ask the App Store to send a TEST notification to this service',
        description:
          'Apple sends it to the notification URL set in App Store Connect. 400 API_NOT_CONFIGURED without credentials, ' +
          'ENVIRONMENT_NOT_ACCEPTED for an environment outside APPLE_ENVIRONMENTS; 503 when Apple is unreachable; 502 when Apple refuses.',
        querystring: EnvironmentQuery,
        response: { 200: TestNotificationResponse, ...errorResponses(400, 401, 403, 502, 503) },
      },
    },
    async (request) => apps.of(request).testNotifications.request(request.query.environment),
  );

  app.get(
    '/admin/notifications/test/:token',
    {
      schema: {
        tags: ['admin'],
        summary: "A test notification's delivery attempts",
        description:
          "Apple's sendAttempts for the token, with the payload (decoded when it verifies). Ask the same environment the token " +
          'came from. 404 TEST_NOTIFICATION_NOT_FOUND for a token Apple does not know.',
        params: TokenParams,
        querystring: EnvironmentQuery,
        response: { 200: TestNotificationStatusResponse, ...errorResponses(400, 401, 403, 404, 502, 503) },
      },
    },
    async (request) => apps.of(request).testNotifications.status(request.params.token, request.query.environment),
  );
};
