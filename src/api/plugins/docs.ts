// The OpenAPI document and Swagger UI at /docs. Register before any route: Swagger learns
// the routes as they are added.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyPluginAsync } from 'fastify';
import { unencapsulated } from './unencapsulated.js';

export const apiDocs: FastifyPluginAsync = unencapsulated(async function apiDocs(app) {
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'Acme Order Management System',
        version: '1.1.0',
        description:
          'Creates and reads orders and takes them through the catalog’s full lifecycle: confirmation, holds, ' +
          'amendments, delivery address, fulfilment, completion, cancellation, archival. 1.1.0 only adds to 1.0.0 ' +
          '(routes, optional fields, statuses): every 1.0.0 request works and is answered as before. Contracts: ' +
          'the Acme event catalog v1.0.0 and its head AsyncAPI.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
});
