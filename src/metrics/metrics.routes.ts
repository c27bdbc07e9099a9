import { Type } from 'typebox';
import type { FastifyInstance } from 'fastify';
import type { DatabaseHandle } from '../db/client.js';
import type { Metrics } from './metrics.js';

/**
 * Serves `/metrics` and times every request. Installed on the root instance (not as an
 * encapsulated plugin) so the timing hook sees the routes of every module.
 */
export function installMetrics(app: FastifyInstance, { metrics, database }: { metrics: Metrics; database: DatabaseHandle }): void {
  metrics.trackDatabasePool(() => database.poolStats());

  app.addHook('onResponse', async (request, reply) => {
    // The route template keeps the label set bounded; unmatched URLs share one label.
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.observeHttpRequest({ route, method: request.method, status: reply.statusCode }, reply.elapsedTime / 1000);
  });

  app.get(
    '/metrics',
    {
      schema: {
        tags: ['operations'],
        summary: 'Prometheus metrics in the text exposition format',
        produces: ['text/plain'],
        response: {
          200: Type.String({
            description: 'Prometheus text format',
            examples: ['# HELP ase_notifications_total ...\nase_notifications_total{version="v2",type="DID_RENEW",outcome="processed"} 12\n'],
          }),
        },
      },
    },
    async (_request, reply) => {
      const body = await metrics.registry.metrics();
      return reply.type(metrics.registry.contentType).send(body);
    },
  );
}
