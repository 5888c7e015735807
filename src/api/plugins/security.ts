// Security headers and the rate limit, for every route of the app.
import { createHash } from 'node:crypto';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import type { FastifyPluginAsync } from 'fastify';
import { unencapsulated } from './unencapsulated.js';

export interface SecurityOptions {
  /** Requests per minute per token (per address without one); 0 switches the limit off. */
  rateLimitPerMinute: number;
}

export const security: FastifyPluginAsync<SecurityOptions> = unencapsulated(async function security(
  app,
  { rateLimitPerMinute },
) {
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
});
