// Bearer tokens with scopes (API_KEYS). Each route names the scope it needs in its
// `config.scope`; routes without one (health, docs) are open.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Scope } from '../config.js';
import type { ErrorBody } from '../contracts/schemas.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a caller's token must carry to use the route. */
    scope?: Scope;
  }
  interface FastifyRequest {
    /** Digest of the caller's token: identifies it (rate limits, logs) without revealing it. */
    tokenId?: string;
  }
}

const digest = (value: string) => createHash('sha256').update(value).digest();

export function createAuthenticator(apiKeys: Map<string, Set<Scope>>) {
  // Digests have one length, so comparing them is constant-time whatever the token's length.
  const known = [...apiKeys].map(([token, scopes]) => ({ digest: digest(token), scopes }));

  /** The scopes of the token, or undefined when no known token matches. Compares against every token. */
  function scopesOf(token: string): Set<Scope> | undefined {
    const candidate = digest(token);
    let found: Set<Scope> | undefined;
    for (const key of known) if (timingSafeEqual(key.digest, candidate)) found = key.scopes;
    return found;
  }

  return async function authenticate(request: FastifyRequest, reply: FastifyReply) {
    const scope = request.routeOptions.config.scope;
    if (scope === undefined) return;
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer ([\x21-\x7e]{1,512})$/i.exec(header) : null;
    const token = match?.[1];
    const scopes = token === undefined ? undefined : scopesOf(token);
    if (token === undefined || scopes === undefined) {
      return reply
        .status(401)
        .header('www-authenticate', 'Bearer')
        .send({
          code: 'UNAUTHENTICATED',
          message: 'a valid bearer token is required',
          details: [],
        } satisfies ErrorBody);
    }
    request.tokenId = digest(token).toString('hex').slice(0, 12);
    if (!scopes.has(scope)) {
      return reply
        .status(403)
        .send({ code: 'FORBIDDEN', message: `this token lacks the scope ${scope}`, details: [] } satisfies ErrorBody);
    }
  };
}
