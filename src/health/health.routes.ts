import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { Clock } from '../clock.js';
import type { DatabaseHandle } from '../db/client.js';
import type { ReplicaStatus } from '../db/read-routing.js';
import { unavailable } from '../errors.js';
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
function cachedPing(database: DatabaseHandle, clock: Clock): () => Promise<void> {
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

export interface HealthRoutesOptions {
  database: DatabaseHandle;
  clock: Clock;
  /** The read replica's routing status (DATABASE_READ_URL); null without one. */
  readReplica: (() => ReplicaStatus) | null;
}

export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async (app, { database, clock, readReplica }) => {
  const ping = cachedPing(database, clock);
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
        summary: 'Readiness: 200 when the database answers, 503 otherwise',
        description: 'The primary decides readiness; with DATABASE_READ_URL the answer also shows where reads go and why.',
        response: {
          200: Type.Object({ status: Type.Literal('ready'), readReplica: Type.Optional(ReadReplicaStatus) }),
          ...errorResponses(503),
        },
      },
    },
    async (request) => {
      try {
        await ping();
      } catch (error) {
        request.log.warn({ err: error }, 'readiness check failed: database does not answer');
        throw unavailable('DATABASE_UNAVAILABLE', 'The database does not answer');
      }
      if (readReplica === null) return { status: 'ready' as const };
      const { state, pool, lagMs, checkedAt, reason } = readReplica();
      return { status: 'ready' as const, readReplica: { state, pool, lagMs, checkedAt: checkedAt?.toISOString() ?? null, reason } };
    },
  );
};
