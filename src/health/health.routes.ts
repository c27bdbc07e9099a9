import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { type Static, Type } from 'typebox';
import type { Clock } from '../clock.js';
import type { DatabaseHandle } from '../db/client.js';
import type { ReplicaStatus } from '../db/read-routing.js';
import { UnavailableError, unavailable } from '../errors.js';
import { errorResponses } from '../http/schemas.js';

const READY_TIMEOUT_MS = 2_000;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

// How long /readyz reuses the database's answer: a flood of probes costs one round trip a second.
export const READY_CACHE_MS = 1_000;

/** The database's answer, asked at most once per READY_CACHE_MS; concurrent probes share the one in flight. */
function cachedPing(database: Pick<DatabaseHandle, 'ping'>, clock: Clock): () => Promise<void> {
  let last: { at: number; answer: Promise<void> } | null = null;
  return () => {
    const now = clock().getTime();
    if (last === null || now - last.at >= READY_CACHE_MS || now < last.at) {
      const answer = withTimeout(database.ping(), READY_TIMEOUT_MS);
      // A failure is reused for the second too (unhandled only if nobody awaits it).
      answer.catch(() => undefined);
      last = { at: now, answer };
    }
    return last.answer;
  };
}

const ReadReplicaStatus = Type.Object(
  {
    state: Type.Union([Type.Literal('unchecked'), Type.Literal('current'), Type.Literal('lagging'), Type.Literal('unreachable'), Type.Literal('not_standby')], {
      description: '`current`: within READ_MAX_LAG; anything else sends reads to the primary',
    }),
    pool: Type.Union([Type.Literal('replica'), Type.Literal('primary')], { description: 'Where read routes read now' }),
    lagMs: Type.Union([Type.Number(), Type.Null()], { description: 'At most this far behind at the last check (ms); null when unknown' }),
    checkedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
    reason: Type.Union([Type.String(), Type.Null()], { description: 'Why reads go to the primary, when they do' }),
  },
  { description: 'Only with DATABASE_READ_URL. A replica that is behind or away never makes the service unready: reads go to the primary.' },
);

/** One app's database, as /readyz sees it. */
export interface ReadinessSource {
  /** The app's id (APPS_FILE `id`). */
  app: string;
  /** The app's primary: its schema's pool on PostgreSQL, its own database on PGlite. */
  database: Pick<DatabaseHandle, 'ping'>;
  /** The app's read replica routing status (DATABASE_READ_URL); null without one. */
  readReplica: (() => ReplicaStatus) | null;
}

export interface HealthRoutesOptions {
  /** Every app's database, in the configured order; ready only while every one answers. */
  apps: readonly ReadinessSource[];
  /**
   * With APPS_FILE: the answer names each app (`apps`), and a 503 the apps that fail.
   * Without, the one app's answer keeps its shape (no `apps`).
   */
  namesApps: boolean;
  clock: Clock;
}

type ReplicaBody = Static<typeof ReadReplicaStatus>;

function replicaBody(status: ReplicaStatus): ReplicaBody {
  const { state, pool, lagMs, checkedAt, reason } = status;
  return { state, pool, lagMs, checkedAt: checkedAt?.toISOString() ?? null, reason };
}

const AppReadiness = Type.Object({ status: Type.Literal('ready'), readReplica: Type.Optional(ReadReplicaStatus) });

export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async (app, { apps, namesApps, clock }) => {
  // Each app's pool answers for itself (on PostgreSQL the schemas share a server, not a pool);
  // each one asked at most once a second, all at once.
  const probes = apps.map((each) => ({ ...each, ping: cachedPing(each.database, clock) }));
  const only = apps.length === 1 ? apps[0]! : null;
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['operations'],
        summary: 'Liveness: 200 while the process runs',
        response: { 200: Type.Object({ status: Type.Literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      schema: {
        tags: ['operations'],
        summary: "Readiness: 200 when every app's database answers, 503 otherwise",
        description:
          'The primary decides readiness; with DATABASE_READ_URL the answer also shows where reads go and why. With APPS_FILE each app answers for itself under `apps`, and a 503 names the apps whose database does not answer (`error.apps`).',
        response: {
          200: Type.Object({
            status: Type.Literal('ready'),
            readReplica: Type.Optional(ReadReplicaStatus),
            apps: Type.Optional(Type.Record(Type.String(), AppReadiness, { description: 'With APPS_FILE: each app by id' })),
          }),
          ...errorResponses(503),
        },
      },
    },
    async (request) => {
      const answers = await Promise.allSettled(probes.map((probe) => probe.ping()));
      const failed: string[] = [];
      answers.forEach((answer, index) => {
        if (answer.status === 'fulfilled') return;
        const { app: appId } = probes[index]!;
        failed.push(appId);
        request.log.warn({ err: answer.reason, ...(namesApps ? { app: appId } : {}) }, 'readiness check failed: database does not answer');
      });
      if (failed.length > 0) {
        if (!namesApps) throw unavailable('DATABASE_UNAVAILABLE', 'The database does not answer');
        const named = failed.map((id) => JSON.stringify(id)).join(', ');
        const message = failed.length === 1 ? `The database of app ${named} does not answer` : `The databases of apps ${named} do not answer`;
        throw new UnavailableError('DATABASE_UNAVAILABLE', message, { details: { apps: failed } });
      }
      if (!namesApps) {
        const readReplica = only?.readReplica ?? null;
        return readReplica === null ? { status: 'ready' as const } : { status: 'ready' as const, readReplica: replicaBody(readReplica()) };
      }
      const byApp: Record<string, Static<typeof AppReadiness>> = {};
      for (const { app: appId, readReplica } of probes) {
        byApp[appId] = readReplica === null ? { status: 'ready' } : { status: 'ready', readReplica: replicaBody(readReplica()) };
      }
      return { status: 'ready' as const, apps: byApp };
    },
  );
};
