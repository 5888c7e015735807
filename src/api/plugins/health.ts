// Liveness (/healthz) and readiness (/readyz). Routes only, so an ordinary encapsulated plugin.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';

export interface HealthRoutesOptions {
  /** Checks each dependency for /readyz: the names of those that do not answer. */
  readiness?: () => Promise<string[]>;
}

export const healthRoutes: FastifyPluginAsyncTypebox<HealthRoutesOptions> = async (app, { readiness }) => {
  app.get(
    '/healthz',
    { schema: { summary: 'The process is up', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );
  app.get(
    '/readyz',
    {
      schema: {
        summary: 'PostgreSQL, Temporal and Kafka answer',
        response: {
          200: Type.Object({ status: Type.Literal('ready') }),
          503: Type.Object({ status: Type.Literal('unavailable'), unavailable: Type.Array(Type.String()) }),
        },
      },
    },
    async (_request, reply) => {
      const unavailable = readiness === undefined ? [] : await readiness();
      if (unavailable.length > 0) return reply.status(503).send({ status: 'unavailable' as const, unavailable });
      return { status: 'ready' as const };
    },
  );
};
