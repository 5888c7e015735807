// The HTTP gateway: a Fastify instance with its dependencies passed in, nothing global.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { PayloadCodec } from '@temporalio/common';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyPluginCallback,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import type { ApiKey } from '../config.js';
import { ErrorBody } from '../contracts/schemas.js';
import { createCoercingAjv, createExactAjv } from '../contracts/validation.js';
import { workflowIdForOrder } from '../ids.js';
import type { CustomerErasure } from '../orders/customer-erasure.js';
import type { OrderService } from '../orders/order-service.js';
import { annotateActiveSpan } from '../tracing.js';
import type { JwtOptions } from './auth.js';
import { codecRoutes } from './codec-routes.js';
import { customerRoutes } from './customer-routes.js';
import { sendClientError, sendError, sendRouteMiss } from './errors.js';
import type { ApiMetrics } from './metrics.js';
import { orderRoutes } from './order-routes.js';
import { apiDocs } from './plugins/docs.js';
import { healthRoutes } from './plugins/health.js';
import { httpMetrics } from './plugins/metrics.js';
import { requestContext } from './plugins/request-context.js';
import { security } from './plugins/security.js';

export interface AppDependencies {
  orders: OrderService;
  /** The erasure of a customer's personal data (POST /customers/{customerId}/erasure); unset, no such route. */
  erasure?: CustomerErasure | undefined;
  logger: FastifyBaseLogger;
  apiKeys: Map<string, ApiKey>;
  /** Access tokens from an identity provider; unset, only the API_KEYS tokens are accepted. */
  jwt?: JwtOptions | undefined;
  /** Largest accepted request body, in bytes. */
  bodyLimit: number;
  /** Requests per minute per token (per address without one); 0 switches the limit off. */
  rateLimitPerMinute: number;
  /** Checks each dependency for /readyz: the names of those that do not answer. */
  readiness?: () => Promise<string[]>;
  metrics?: ApiMetrics;
  /** OpenTelemetry's Fastify instrumentation (src/telemetry.ts), when tracing is on. */
  tracing?: FastifyPluginCallback | undefined;
  /** The codec server's codec (TEMPORAL_PAYLOAD_KEYS) and the Web UI origins allowed to call it. */
  codec?: { codec: PayloadCodec | undefined; corsOrigins: string[] };
}

/**
 * The methods each route path answers, to tell a wrong method (405) from a wrong path (404).
 * Our routes put a parameter in a whole segment (`:orderId`) and a wildcard only at the end.
 */
function createRouteMethods() {
  const routes: { pattern: RegExp; methods: string[] }[] = [];
  const segmentPattern = (segment: string) =>
    segment === '*' ? '.*' : segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return {
    add(url: string, method: string | string[]) {
      const pattern = new RegExp(`^${url.split('/').map(segmentPattern).join('/')}$`);
      routes.push({ pattern, methods: Array.isArray(method) ? method : [method] });
    },
    /** Every method some route answers at `path`, sorted; empty when no route has the path. */
    allowedAt(path: string): string[] {
      const methods = routes.filter((route) => route.pattern.test(path)).flatMap((route) => route.methods);
      return [...new Set(methods)].sort();
    },
  };
}

/** Two validators: bodies are taken as sent (a "5" is not a 5); path and query strings are coerced. */
function createValidators() {
  const exact = createExactAjv();
  const coercing = createCoercingAjv();
  return (httpPart: string | undefined) => (httpPart === 'body' ? exact : coercing);
}

export async function buildApp({
  orders,
  erasure,
  logger,
  apiKeys,
  jwt,
  bodyLimit,
  rateLimitPerMinute,
  readiness,
  metrics,
  tracing,
  codec = { codec: undefined, corsOrigins: [] },
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
    // What Node refuses before Fastify parses a request (431 for oversized headers) too.
    clientErrorHandler: sendClientError,
  }).withTypeProvider<TypeBoxTypeProvider>();

  if (tracing !== undefined) {
    // First: each request is a span continuing the caller's traceparent, around every hook and handler.
    await app.register(tracing);
    // The order an answer is about, on the request's span: operators find its trace by order.id.
    app.addHook('preSerialization', async (request, _reply, payload) => {
      const { orderId, status } = (payload ?? {}) as { orderId?: unknown; status?: unknown };
      const otel = request.opentelemetry();
      if (otel.enabled && typeof orderId === 'string') {
        annotateActiveSpan(
          {
            orderId,
            status: typeof status === 'string' ? status : undefined,
            workflowId: workflowIdForOrder(orderId),
          },
          otel.span,
        );
      }
      return payload;
    });
  }

  // JSON only: a text/plain body is refused with 415 rather than parsed as a string.
  app.removeContentTypeParser('text/plain');
  // Routes that take no body (complete, resume) accept an empty one: clients send it with a JSON
  // content type. Routes with a body schema still refuse it (EMPTY_BODY).
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, json, done) => {
    if (json === '' && request.routeOptions.schema?.body === undefined) return done(null, undefined);
    parseJson(request, json as string, done);
  });
  const validatorFor = createValidators();
  app.setValidatorCompiler(({ schema, httpPart }) => validatorFor(httpPart).compile(schema));
  app.setErrorHandler((error, request, reply) => sendError(error, request, reply));

  const routeMethods = createRouteMethods();
  app.addHook('onRoute', (route) => {
    routeMethods.add(route.url, route.method);
    // Any request can be refused for its size before routing (sendClientError): every documented operation may answer 431.
    const responses = route.schema?.response as Record<string, unknown> | undefined;
    if (responses !== undefined) responses[431] ??= ErrorBody;
  });
  const routeMiss = (request: FastifyRequest, reply: FastifyReply) =>
    sendRouteMiss(request, reply, routeMethods.allowedAt(request.url.split('?')[0] ?? ''));
  app.setNotFoundHandler(routeMiss);
  // Answered before the body is read: a body (malformed, empty, of any type) must not turn a
  // wrong path into a 400 or a wrong method into a 415.
  app.addHook('onRequest', async (request, reply) => {
    if (request.is404) return routeMiss(request, reply);
  });

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
  await app.register(requestContext, { apiKeys, jwt });
  if (metrics !== undefined) await app.register(httpMetrics, { metrics });
  await app.register(healthRoutes, { readiness });
  await app.register(orderRoutes, { orders, metrics });
  await app.register(codecRoutes, codec);
  if (erasure !== undefined) await app.register(customerRoutes, { erasure });
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
