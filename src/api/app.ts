// The HTTP gateway: a Fastify instance with its dependencies passed in, nothing global.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import type { Scope } from '../config.js';
import type { ErrorBody } from '../contracts/schemas.js';
import { createCoercingAjv, createExactAjv } from '../contracts/validation.js';
import type { OrderService } from '../orders/order-service.js';
import { sendError } from './errors.js';
import type { ApiMetrics } from './metrics.js';
import { orderRoutes } from './order-routes.js';
import { apiDocs } from './plugins/docs.js';
import { healthRoutes } from './plugins/health.js';
import { httpMetrics } from './plugins/metrics.js';
import { requestContext } from './plugins/request-context.js';
import { security } from './plugins/security.js';

export interface AppDependencies {
  orders: OrderService;
  logger: FastifyBaseLogger;
  apiKeys: Map<string, Set<Scope>>;
  /** Largest accepted request body, in bytes. */
  bodyLimit: number;
  /** Requests per minute per token (per address without one); 0 switches the limit off. */
  rateLimitPerMinute: number;
  /** Checks each dependency for /readyz: the names of those that do not answer. */
  readiness?: () => Promise<string[]>;
  metrics?: ApiMetrics;
}

/** Two validators: bodies are taken as sent (a "5" is not a 5); path and query strings are coerced. */
function createValidators() {
  const exact = createExactAjv();
  const coercing = createCoercingAjv();
  return (httpPart: string | undefined) => (httpPart === 'body' ? exact : coercing);
}

export async function buildApp({
  orders,
  logger,
  apiKeys,
  bodyLimit,
  rateLimitPerMinute,
  readiness,
  metrics,
}: AppDependencies) {
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit,
    requestIdHeader: 'x-request-id',
    // Bound what a slow or hostile client can make the server hold.
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 100 },
    // Errors the router raises before any route (bad URL, overlong parameter) get our error body too.
    frameworkErrors: (error, request, reply) => sendError(error, request, reply),
  }).withTypeProvider<TypeBoxTypeProvider>();

  // JSON only: a text/plain body is refused with 415 rather than parsed as a string.
  app.removeContentTypeParser('text/plain');
  const validatorFor = createValidators();
  app.setValidatorCompiler(({ schema, httpPart }) => validatorFor(httpPart).compile(schema));
  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler((request, reply) =>
    reply.status(404).send({
      code: 'ROUTE_NOT_FOUND',
      message: `no route ${request.method} ${request.url.split('?')[0]}`,
      details: [],
    } satisfies ErrorBody),
  );

  // Once closing, every answer closes its connection: a keep-alive client would otherwise hold
  // the process open until keepAliveTimeout (72 s) after the last request in flight.
  let draining = false;
  app.addHook('preClose', async () => {
    draining = true;
  });
  app.addHook('onSend', async (_request, reply) => {
    if (draining) reply.header('connection', 'close');
  });

  // Before any route: the rate limit and Swagger each learn of a route only as it is added.
  await app.register(security, { rateLimitPerMinute });
  await app.register(apiDocs);
  await app.register(requestContext, { apiKeys });
  if (metrics !== undefined) await app.register(httpMetrics, { metrics });
  await app.register(healthRoutes, { readiness });
  await app.register(orderRoutes, { orders, metrics });
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
