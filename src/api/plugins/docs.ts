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
        version: '1.0.0',
        description: 'Creates, reads, completes and cancels orders. Contracts: the Acme event catalog v1.0.0.',
      },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });
});
