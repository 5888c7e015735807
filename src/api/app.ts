// The HTTP gateway: a Fastify instance with its dependencies passed in, nothing global.
import { createHash } from 'node:crypto';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import type { Scope } from '../config.js';
import type { ErrorBody } from '../contracts/schemas.js';
import type { OrderService } from '../orders/order-service.js';
import { createAuthenticator } from './auth.js';
import { sendError } from './errors.js';
import type { ApiMetrics } from './metrics.js';
import { orderRoutes } from './order-routes.js';

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
  const options = { allErrors: true, strict: false, removeAdditional: false } as const;
  const exact = addFormats.default(new Ajv({ ...options, coerceTypes: false }));
  const coercing = addFormats.default(new Ajv({ ...options, coerceTypes: true, useDefaults: true }));
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

  await app.register(helmet, {
    // Swagger UI at /docs needs its own inline styles; everything else is JSON.
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
      },
    },
  });
  if (rateLimitPerMinute > 0) {
    await app.register(rateLimit, {
      max: rateLimitPerMinute,
      timeWindow: 60_000,
      // Per token (its digest, never the token itself), per address for callers without one.
      keyGenerator: (request) => {
        const header = request.headers.authorization;
        return typeof header === 'string'
          ? `token:${createHash('sha256').update(header).digest('hex')}`
          : `ip:${request.ip}`;
      },
      allowList: (request) => request.url === '/healthz' || request.url === '/readyz',
      // Thrown as an error, so the one error handler writes the body.
      errorResponseBuilder: (_request, context) =>
        Object.assign(
          new Error(`rate limit of ${context.max} requests per minute exceeded; retry in ${context.after}`),
          {
            statusCode: 429,
          },
        ),
    });
  }
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Acme Order Management System',
        version: '1.0.0',
        description: 'Creates, reads, completes and cancels orders. Contracts: the Acme event catalog v1.0.0.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });

  app.addHook('onRequest', createAuthenticator(apiKeys));
  // Every log line about an order names it and its workflow.
  app.addHook('preHandler', async (request) => {
    const orderId = (request.params as { orderId?: unknown } | undefined)?.orderId;
    if (typeof orderId === 'string') {
      request.log = request.log.child({ orderId, workflowId: `order-${orderId.toLowerCase()}` });
    }
  });
  if (metrics !== undefined) {
    app.addHook('onResponse', async (request, reply) => {
      metrics.httpDuration.observe(
        { route: request.routeOptions.url ?? 'unmatched', method: request.method, status: reply.statusCode },
        reply.elapsedTime / 1000,
      );
    });
    app.get('/metrics', { schema: { hide: true } }, async (_request, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
    );
  }

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
  await app.register(orderRoutes, { orders, metrics });
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
