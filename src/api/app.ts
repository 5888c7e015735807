// The HTTP gateway: a Fastify instance with its dependencies passed in, nothing global.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import type { ErrorBody } from '../contracts/schemas.js';
import { sendError } from './errors.js';
import { orderRoutes } from './order-routes.js';
import type { OrderService } from './order-service.js';

export interface AppDependencies {
  orders: OrderService;
  logger: FastifyBaseLogger;
  /** Largest accepted request body, in bytes. */
  bodyLimit?: number;
}

/** Two validators: bodies are taken as sent (a "5" is not a 5); path and query strings are coerced. */
function createValidators() {
  const options = { allErrors: true, strict: false, removeAdditional: false } as const;
  const exact = addFormats.default(new Ajv({ ...options, coerceTypes: false }));
  const coercing = addFormats.default(new Ajv({ ...options, coerceTypes: true, useDefaults: true }));
  return (httpPart: string | undefined) => (httpPart === 'body' ? exact : coercing);
}

export async function buildApp({ orders, logger, bodyLimit = 256 * 1024 }: AppDependencies) {
  const app = Fastify({
    loggerInstance: logger,
    bodyLimit,
    requestIdHeader: 'x-request-id',
    // Bound what a hostile client can make the server hold.
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 100 },
  }).withTypeProvider<TypeBoxTypeProvider>();

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

  app.get('/healthz', { schema: { response: { 200: Type.Object({ status: Type.Literal('ok') }) } } }, async () => ({
    status: 'ok' as const,
  }));
  await app.register(orderRoutes, { orders });
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
