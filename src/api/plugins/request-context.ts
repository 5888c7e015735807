// Who is calling (the bearer token and its scopes) and what about (the order in the logs),
// for every route of the app.
import type { FastifyPluginAsync } from 'fastify';
import type { Scope } from '../../config.js';
import { workflowIdForOrder } from '../../ids.js';
import { createAuthenticator } from '../auth.js';
import { unencapsulated } from './unencapsulated.js';

export interface RequestContextOptions {
  apiKeys: Map<string, Set<Scope>>;
}

export const requestContext: FastifyPluginAsync<RequestContextOptions> = unencapsulated(async function requestContext(
  app,
  { apiKeys },
) {
  app.addHook('onRequest', createAuthenticator(apiKeys));
  // Every log line about an order names it and its workflow.
  app.addHook('preHandler', async (request) => {
    const orderId = (request.params as { orderId?: unknown } | undefined)?.orderId;
    if (typeof orderId === 'string') {
      request.log = request.log.child({ orderId, workflowId: workflowIdForOrder(orderId) });
    }
  });
});
