// Who is calling (the bearer token, a static key or an identity provider's access token, and its
// scopes) and what about (the order in the logs), for every route of the app.
import type { FastifyPluginAsync } from 'fastify';
import { workflowIdForOrder } from '../../ids.js';
import { type AuthenticatorOptions, createAuthenticator } from '../auth.js';
import { unencapsulated } from './unencapsulated.js';

/** The static keys and, when configured, the identity provider whose access tokens are accepted. */
export type RequestContextOptions = AuthenticatorOptions;

export const requestContext: FastifyPluginAsync<RequestContextOptions> = unencapsulated(async function requestContext(
  app,
  { apiKeys, jwt },
) {
  app.addHook('onRequest', createAuthenticator({ apiKeys, jwt }));
  // Every log line about an order names it and its workflow.
  app.addHook('preHandler', async (request) => {
    const orderId = (request.params as { orderId?: unknown } | undefined)?.orderId;
    if (typeof orderId === 'string') {
      request.log = request.log.child({ orderId, workflowId: workflowIdForOrder(orderId) });
    }
  });
});
