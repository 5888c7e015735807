// Bearer tokens with scopes: static keys (API_KEYS) and, when configured, access tokens (JWTs)
// from an identity provider, verified with jose against its JSON Web Key Set. Each route names
// the scope it needs in its `config.scope`; routes without one (health, docs) are open.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { createRemoteJWKSet, errors, type JWTPayload, jwtVerify } from 'jose';
import { type ApiKey, JWT_SHAPE, type JwtSettings, SCOPES, type Scope } from '../config.js';
import type { ErrorBody } from '../contracts/schemas.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The scope a caller's token must carry to use the route. */
    scope?: Scope;
  }
  interface FastifyRequest {
    /** Digest of the caller's token: identifies it (rate limits, logs) without revealing it. */
    tokenId?: string;
    /** Who is calling: `api-key:<tokenId>` for a static key, the `sub` of an access token (at most 200 characters). */
    caller?: string;
  }
}

export interface JwtOptions extends JwtSettings {
  /** How long after a fetch of the key set an unknown `kid` cannot trigger another; jose's 30 s when unset. */
  jwksCooldownMs?: number;
}

export interface AuthenticatorOptions {
  apiKeys: Map<string, ApiKey>;
  /** Access tokens from an identity provider; unset, only the static keys are accepted. */
  jwt?: JwtOptions | undefined;
}

/** What a valid token says about its caller. */
interface Identity {
  caller: string;
  scopes: Set<Scope>;
}

const digest = (value: string) => createHash('sha256').update(value).digest();

const INVALID_TOKEN = 'a valid bearer token is required';
const EXPIRED = 'the token has expired';
const NOT_FOR_THIS_SERVICE = 'the token is not valid for this service';
/** Tolerated clock difference with the identity provider, for `exp` and `nbf`. */
const CLOCK_TOLERANCE_SECONDS = 30;
const CALLER_MAX_LENGTH = 200;
const JWKS_WARNING_INTERVAL_MS = 60_000;

/** Errors that say the token is bad; any other is the key set's trouble (unreachable, slow, malformed). */
const TOKEN_ERRORS = [
  errors.JWTExpired,
  errors.JWTClaimValidationFailed,
  errors.JWTInvalid,
  errors.JWSInvalid,
  errors.JWSSignatureVerificationFailed,
  errors.JOSEAlgNotAllowed,
  errors.JOSENotSupported,
  errors.JWKSNoMatchingKey,
  errors.JWKSMultipleMatchingKeys,
];

/** The service's scopes among those the `scope` (space-separated) and `scp` (list or space-separated) claims grant. */
function scopesOfClaims(payload: JWTPayload): Set<Scope> {
  const granted = [payload.scope, payload.scp].flatMap((claim): unknown[] =>
    typeof claim === 'string' ? claim.split(' ') : Array.isArray(claim) ? claim : [],
  );
  return new Set(SCOPES.filter((scope) => granted.includes(scope)));
}

/** The `sub` claim fit for logs and the order history: no control characters, bounded. */
function callerOfSubject(subject: unknown): string {
  if (typeof subject !== 'string') return '';
  return Array.from(subject.replace(/\p{Cc}/gu, ''))
    .slice(0, CALLER_MAX_LENGTH)
    .join('');
}

/** Verifies access tokens against the identity provider's key set. */
function createJwtVerifier(jwt: JwtOptions) {
  // Fetches nothing yet: the key set is fetched on the first token, kept for jose's cacheMaxAge
  // (10 min), and fetched again when a token names an unknown `kid` (at most once per cooldown).
  const keySet = createRemoteJWKSet(jwt.jwksUrl, { cooldownDuration: jwt.jwksCooldownMs });
  let lastJwksWarningAt = Number.NEGATIVE_INFINITY;

  /** The identity the token proves, or the reason to refuse it (generic: it never says which check failed). */
  return async function identityOfJwt(token: string, request: FastifyRequest): Promise<Identity | string> {
    try {
      const { payload } = await jwtVerify(token, keySet, {
        issuer: jwt.issuer,
        audience: jwt.audience,
        algorithms: jwt.algorithms,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        requiredClaims: ['exp', 'sub'],
      });
      const caller = callerOfSubject(payload.sub);
      if (caller === '') return NOT_FOR_THIS_SERVICE;
      return { caller, scopes: scopesOfClaims(payload) };
    } catch (error) {
      if (error instanceof errors.JWTExpired) return EXPIRED;
      if (error instanceof errors.JWTClaimValidationFailed) return NOT_FOR_THIS_SERVICE;
      // A key set we cannot fetch refuses the token with 401 like any token we cannot verify,
      // not 503: we fail closed, callers learn nothing of our dependencies, and operators get
      // this warning (once a minute at most, so an outage does not flood the logs).
      const tokenError = TOKEN_ERRORS.some((type) => error instanceof type);
      if (!tokenError && Date.now() - lastJwksWarningAt >= JWKS_WARNING_INTERVAL_MS) {
        lastJwksWarningAt = Date.now();
        request.log.warn({ err: error }, 'access token refused: the identity provider’s key set is unusable');
      }
      return INVALID_TOKEN;
    }
  };
}

export function createAuthenticator({ apiKeys, jwt }: AuthenticatorOptions) {
  // Digests have one length, so comparing them is constant-time whatever the token's length.
  const known = [...apiKeys].map(([token, key]) => ({ digest: digest(token), key }));
  const identityOfJwt = jwt === undefined ? undefined : createJwtVerifier(jwt);

  /** The key of the token, or undefined when no known token matches. Compares against every token. */
  function keyOf(token: string): ApiKey | undefined {
    const candidate = digest(token);
    let found: ApiKey | undefined;
    for (const entry of known) if (timingSafeEqual(entry.digest, candidate)) found = entry.key;
    return found;
  }

  return async function authenticate(request: FastifyRequest, reply: FastifyReply) {
    const scope = request.routeOptions.config.scope;
    if (scope === undefined) return;
    const header = request.headers.authorization;
    // Static keys are at most 512 characters; access tokens with RSA signatures and many claims run longer.
    const match = typeof header === 'string' ? /^Bearer ([\x21-\x7e]{1,8192})$/i.exec(header) : null;
    const token = match?.[1];
    if (token === undefined) return refuse(reply, INVALID_TOKEN);
    const tokenId = digest(token).toString('hex').slice(0, 12);
    let identity: Identity;
    // A token shaped like a JWT is verified as one when JWTs are configured, else looked up as a static key.
    if (identityOfJwt !== undefined && JWT_SHAPE.test(token)) {
      const verified = await identityOfJwt(token, request);
      if (typeof verified === 'string') return refuse(reply, verified, 'Bearer error="invalid_token"');
      identity = verified;
    } else {
      const key = keyOf(token);
      if (key === undefined) return refuse(reply, INVALID_TOKEN);
      identity = { caller: `api-key:${key.name ?? tokenId}`, scopes: key.scopes };
    }
    request.tokenId = tokenId;
    request.caller = identity.caller;
    if (!identity.scopes.has(scope)) {
      return reply
        .status(403)
        .send({ code: 'FORBIDDEN', message: `this token lacks the scope ${scope}`, details: [] } satisfies ErrorBody);
    }
  };
}

function refuse(reply: FastifyReply, message: string, challenge = 'Bearer') {
  return reply
    .status(401)
    .header('www-authenticate', challenge)
    .send({ code: 'UNAUTHENTICATED', message, details: [] } satisfies ErrorBody);
}
