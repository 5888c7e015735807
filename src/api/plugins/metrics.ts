// Latency of every route of the app, and /metrics for Prometheus to scrape.
import type { FastifyPluginAsync } from 'fastify';
import type { ApiMetrics } from '../metrics.js';
import { unencapsulated } from './unencapsulated.js';

export interface HttpMetricsOptions {
  metrics: ApiMetrics;
}

export const httpMetrics: FastifyPluginAsync<HttpMetricsOptions> = unencapsulated(async function httpMetrics(
  app,
  { metrics },
) {
  app.addHook('onResponse', async (request, reply) => {
    metrics.httpDuration.observe(
      { route: request.routeOptions.url ?? 'unmatched', method: request.method, status: reply.statusCode },
      reply.elapsedTime / 1000,
    );
  });
  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
    reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
});
