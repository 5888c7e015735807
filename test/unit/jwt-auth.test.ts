// Access tokens from an identity provider beside the static API_KEYS: the authenticator mounted as
// buildApp mounts it (the request-context plugin) in a tiny app with one read and one manage route,
// against a key set served on 127.0.0.1 (test/support/jwks.ts).
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import { base64url, exportSPKI, type JWTPayload, SignJWT } from 'jose';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import type { JwtOptions } from '../../src/api/auth.js';
import { requestContext } from '../../src/api/plugins/request-context.js';
import { jwtSettingsOf, loadConfig, parseApiKeys } from '../../src/config.js';
import type { Order } from '../../src/contracts/schemas.js';
import type { OrderService } from '../../src/orders/order-service.js';
import { type JwksServer, type SigningKey, signingKey, startJwksServer, unreachableUrl } from '../support/jwks.js';
import { newCreateOrder, orderFromCommand } from '../support/orders.js';

const ISSUER = 'https://login.acme.test/';
const AUDIENCE = 'https://orders.acme.test';
const STATIC = { reader: 'reader-token-0123456789', jwtShaped: 'abcdefgh.ijklmnop.qrstuvwx' };
const ORDER_ID = '0b6f6d6e-1c1a-4d5e-9f0a-1a2b3c4d5e6f';
const GENERIC = 'a valid bearer token is required';

let jwks: JwksServer;
let rsa: SigningKey;
const now = () => Math.floor(Date.now() / 1000);

beforeAll(async () => {
  rsa = await signingKey('RS256', 'rsa-1');
  jwks = await startJwksServer([rsa]);
});
afterAll(() => jwks.close());

/** The tiny app, accepting the test identity provider's access tokens unless told 'off'. */
async function appWith(jwt: Partial<JwtOptions> | 'off' = {}) {
  const lines: string[] = [];
  const logger = pino(
    { level: 'info' },
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    }),
  );
  const app = Fastify({ loggerInstance: logger });
  await app.register(requestContext, {
    apiKeys: parseApiKeys(JSON.stringify({ [STATIC.reader]: ['orders:read'], [STATIC.jwtShaped]: ['orders:read'] })),
    jwt:
      jwt === 'off'
        ? undefined
        : {
            issuer: ISSUER,
            audience: AUDIENCE,
            jwksUrl: jwks.url,
            algorithms: ['RS256', 'ES256', 'PS256', 'EdDSA'],
            // No cooldown: an unknown key id refetches the key set at once, so rotation tests are deterministic.
            jwksCooldownMs: 0,
            ...jwt,
          },
  });
  const identity = async (request: { caller?: string; tokenId?: string }) => ({
    caller: request.caller,
    tokenId: request.tokenId,
  });
  app.get('/orders/:orderId', { config: { scope: 'orders:read' } }, identity);
  app.post('/orders/:orderId/cancel', { config: { scope: 'orders:manage' } }, identity);
  return { app, lines };
}

type App = Awaited<ReturnType<typeof appWith>>['app'];

const read = (app: App, token: string) =>
  app.inject({ method: 'GET', url: `/orders/${ORDER_ID}`, headers: { authorization: `Bearer ${token}` } });
const cancel = (app: App, token: string) =>
  app.inject({ method: 'POST', url: `/orders/${ORDER_ID}/cancel`, headers: { authorization: `Bearer ${token}` } });

interface TokenOptions {
  claims?: JWTPayload;
  key?: SigningKey;
  alg?: string;
  issuer?: string;
  audience?: string;
  expiresAt?: number;
  notBefore?: number;
}

/** An access token as the identity provider issues it, unless told otherwise. */
function tokenFor({
  claims = { sub: 'checkout-service', scope: 'orders:read' },
  key = rsa,
  alg = key.alg,
  issuer = ISSUER,
  audience = AUDIENCE,
  expiresAt = now() + 300,
  notBefore,
}: TokenOptions = {}) {
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg, kid: key.kid, typ: 'JWT' })
    .setIssuer(issuer)
    .setAudience(audience)
    .setIssuedAt()
    .setExpirationTime(expiresAt);
  if (notBefore !== undefined) jwt.setNotBefore(notBefore);
  return jwt.sign(key.privateKey);
}

/** Expects a 401 for an access token: the generic body, the invalid_token challenge, no trace of the token. */
async function expectRefused(app: App, token: string, message = GENERIC) {
  const response = await read(app, token);
  expect(response.statusCode).toBe(401);
  expect(response.headers['www-authenticate']).toBe('Bearer error="invalid_token"');
  expect(response.json()).toEqual({ code: 'UNAUTHENTICATED', message, details: [] });
  expect(response.body).not.toContain(token);
}

describe('access tokens from an identity provider', () => {
  it('accepts a valid token, names its subject as the caller and enforces its scopes', async () => {
    const { app } = await appWith();
    const token = await tokenFor();
    const response = await read(app, token);
    expect(response.statusCode).toBe(200);
    expect(response.json()).toEqual({ caller: 'checkout-service', tokenId: expect.stringMatching(/^[0-9a-f]{12}$/) });
    const forbidden = await cancel(app, token);
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json()).toEqual({
      code: 'FORBIDDEN',
      message: 'this token lacks the scope orders:manage',
      details: [],
    });
  });

  it('takes the scopes from `scp` (a list or space-separated) and `scope`, ignoring unknown names', async () => {
    const { app } = await appWith();
    const scpList = await tokenFor({ claims: { sub: 'ops', scp: ['orders:read', 'orders:manage'] } });
    expect((await read(app, scpList)).statusCode).toBe(200);
    expect((await cancel(app, scpList)).statusCode).toBe(200);
    const scpString = await tokenFor({ claims: { sub: 'ops', scp: 'openid orders:manage' } });
    expect((await cancel(app, scpString)).statusCode).toBe(200);
    expect((await read(app, scpString)).statusCode).toBe(403);
    const unknown = await tokenFor({ claims: { sub: 'ops', scope: 'orders:delete orders:* orders:read:all' } });
    expect((await read(app, unknown)).statusCode).toBe(403);
  });

  it('accepts each configured asymmetric algorithm, and only those', async () => {
    const keys = await Promise.all([
      signingKey('ES256', 'ec-1'),
      signingKey('PS256', 'ps-1'),
      signingKey('EdDSA', 'ed-1'),
    ]);
    const server = await startJwksServer(keys);
    try {
      const { app } = await appWith({ jwksUrl: server.url });
      for (const key of keys) expect((await read(app, await tokenFor({ key }))).statusCode, key.alg).toBe(200);
      const { app: rsaOnly } = await appWith({ jwksUrl: server.url, algorithms: ['RS256'] });
      await expectRefused(rsaOnly, await tokenFor({ key: keys[0] }));
    } finally {
      await server.close();
    }
  });

  it('tolerates 30 s of clock difference, then refuses expired and not-yet-valid tokens', async () => {
    const { app } = await appWith();
    expect((await read(app, await tokenFor({ expiresAt: now() - 10 }))).statusCode).toBe(200);
    await expectRefused(app, await tokenFor({ expiresAt: now() - 120 }), 'the token has expired');
    expect((await read(app, await tokenFor({ notBefore: now() + 10 }))).statusCode).toBe(200);
    await expectRefused(app, await tokenFor({ notBefore: now() + 120 }), 'the token is not valid for this service');
  });

  it('refuses a token for another audience or from another issuer', async () => {
    const { app } = await appWith();
    const notForUs = 'the token is not valid for this service';
    await expectRefused(app, await tokenFor({ audience: 'https://payments.acme.test' }), notForUs);
    await expectRefused(app, await tokenFor({ issuer: 'https://login.evil.test/' }), notForUs);
  });

  it('refuses a token without a subject; bounds the subject and strips its control characters', async () => {
    const { app } = await appWith();
    await expectRefused(
      app,
      await tokenFor({ claims: { scope: 'orders:read' } }),
      'the token is not valid for this service',
    );
    await expectRefused(
      app,
      await tokenFor({ claims: { sub: '\u0000\n', scope: 'orders:read' } }),
      'the token is not valid for this service',
    );
    const long = await tokenFor({ claims: { sub: `ops\n\u0007\u009b:${'x'.repeat(300)}`, scope: 'orders:read' } });
    const response = await read(app, long);
    expect(response.statusCode).toBe(200);
    expect(response.json().caller).toBe(`ops:${'x'.repeat(196)}`);
  });

  it('refuses an unsigned token (alg: none)', async () => {
    const { app } = await appWith();
    const encode = (value: object) => base64url.encode(JSON.stringify(value));
    const claims = { iss: ISSUER, aud: AUDIENCE, sub: 'mallory', scope: 'orders:read', exp: now() + 300 };
    await expectRefused(app, `${encode({ alg: 'none', typ: 'JWT' })}.${encode(claims)}.`);
    await expectRefused(app, `${encode({ alg: 'none', kid: rsa.kid })}.${encode(claims)}.c2ln`);
  });

  it('refuses HS256 signed with the RSA public key as the HMAC secret (key confusion)', async () => {
    const { app } = await appWith();
    const secret = new TextEncoder().encode(await exportSPKI(rsa.publicKey));
    const forged = await new SignJWT({ sub: 'mallory', scope: 'orders:read' })
      .setProtectedHeader({ alg: 'HS256', kid: rsa.kid, typ: 'JWT' })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setExpirationTime(now() + 300)
      .sign(secret);
    await expectRefused(app, forged);
  });

  it('refuses a token signed by a key the key set does not hold, whatever key id it names', async () => {
    const { app } = await appWith();
    const stranger = await signingKey('RS256', 'stranger');
    await expectRefused(app, await tokenFor({ key: stranger }));
    await expectRefused(app, await tokenFor({ key: { ...stranger, kid: rsa.kid } }));
  });

  it('refuses garbage without saying why, as an access token when shaped like one', async () => {
    const { app } = await appWith();
    const valid = await tokenFor();
    const [header, payload] = valid.split('.');
    for (const garbage of ['aaa.bbb.ccc', `${header}.${payload}.AAAA`, `${header}.e30.${valid.split('.')[2]}`]) {
      await expectRefused(app, garbage);
    }
    const opaque = await read(app, 'not-a-known-token-and-no-jwt');
    expect(opaque.statusCode).toBe(401);
    expect(opaque.headers['www-authenticate']).toBe('Bearer');
    expect(opaque.json()).toEqual({ code: 'UNAUTHENTICATED', message: GENERIC, details: [] });
  });

  it('follows a key rotation: fetches again for a new key id, then refuses the removed key', async () => {
    const server = await startJwksServer([rsa]);
    try {
      const { app } = await appWith({ jwksUrl: server.url });
      expect(server.fetches()).toBe(0); // nothing is fetched before the first access token
      expect((await read(app, STATIC.reader)).statusCode).toBe(200);
      expect(server.fetches()).toBe(0);
      const oldToken = await tokenFor();
      expect((await read(app, oldToken)).statusCode).toBe(200);
      expect((await read(app, await tokenFor())).statusCode).toBe(200);
      expect(server.fetches()).toBe(1);

      const rotated = await signingKey('RS256', 'rsa-2');
      server.publish([rotated]);
      expect((await read(app, await tokenFor({ key: rotated }))).statusCode).toBe(200);
      expect(server.fetches()).toBe(2);
      await expectRefused(app, oldToken);
    } finally {
      await server.close();
    }
  });

  it('refetches the key set for unknown key ids at most once per cooldown', async () => {
    const server = await startJwksServer([rsa]);
    try {
      const { app } = await appWith({ jwksUrl: server.url, jwksCooldownMs: undefined }); // jose's 30 s
      expect((await read(app, await tokenFor())).statusCode).toBe(200);
      const stranger = await signingKey('RS256', 'stranger');
      for (let index = 0; index < 3; index++) await expectRefused(app, await tokenFor({ key: stranger }));
      expect(server.fetches()).toBe(1);
    } finally {
      await server.close();
    }
  });

  it('refuses access tokens with 401 when the key set cannot be fetched, and warns once', async () => {
    const { app, lines } = await appWith({ jwksUrl: await unreachableUrl() });
    const token = await tokenFor();
    await expectRefused(app, token);
    await expectRefused(app, token);
    expect((await read(app, STATIC.reader)).statusCode).toBe(200);
    const warnings = lines.filter((line) => line.includes('key set is unusable'));
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('"level":40');
    expect(lines.join('')).not.toContain(token);
  });
});

describe('static API_KEYS beside access tokens', () => {
  it('answer as before: 200 with the scope, 403 without, 401 unknown; the caller is the key digest id', async () => {
    const { app } = await appWith();
    const response = await read(app, STATIC.reader);
    expect(response.statusCode).toBe(200);
    const { caller, tokenId } = response.json();
    expect(caller).toBe(`api-key:${tokenId}`);
    expect(tokenId).toMatch(/^[0-9a-f]{12}$/);
    expect((await cancel(app, STATIC.reader)).statusCode).toBe(403);
    expect((await read(app, 'reader-token-0123456780')).statusCode).toBe(401);
    // With access tokens on, a token of their shape is only verified as one (loadConfig refuses such keys).
    await expectRefused(app, STATIC.jwtShaped);
  });

  it('look up a JWT-shaped token as a static key when access tokens are off', async () => {
    const { app } = await appWith('off');
    expect((await read(app, STATIC.jwtShaped)).statusCode).toBe(200);
    const token = await tokenFor();
    const refused = await read(app, token);
    expect(refused.statusCode).toBe(401);
    expect(refused.headers['www-authenticate']).toBe('Bearer');
  });
});

describe('jwtSettingsOf', () => {
  it('is undefined without an identity provider, and its settings with one', () => {
    expect(jwtSettingsOf(loadConfig({}))).toBeUndefined();
    const config = loadConfig({
      JWT_ISSUER: ISSUER,
      JWT_AUDIENCE: AUDIENCE,
      JWT_JWKS_URL: 'https://login.acme.test/.well-known/jwks.json',
      JWT_ALGORITHMS: 'ES256, RS256',
    });
    expect(jwtSettingsOf(config)).toEqual({
      issuer: ISSUER,
      audience: AUDIENCE,
      jwksUrl: new URL('https://login.acme.test/.well-known/jwks.json'),
      algorithms: ['ES256', 'RS256'],
    });
  });
});

describe('the API with access tokens', () => {
  it("records the token's subject as who asked, through buildApp", async () => {
    const actors: string[] = [];
    const order: Order = {
      ...orderFromCommand(ORDER_ID, newCreateOrder(), '2026-11-30T10:00:00.000Z'),
      status: 'CANCELLED',
      cancelledAt: '2026-11-30T11:00:00.000Z',
      cancellationReason: 'FRAUD',
    };
    const orders = {
      transitionOrder: async (_orderId: string, _request: unknown, actor: string) => {
        actors.push(actor);
        return { kind: 'done', order, changed: true };
      },
    } as unknown as OrderService;
    const app = await buildApp({
      orders,
      logger: pino({ level: 'silent' }),
      apiKeys: new Map(),
      jwt: { issuer: ISSUER, audience: AUDIENCE, jwksUrl: jwks.url, algorithms: ['RS256'] },
      bodyLimit: 4096,
      rateLimitPerMinute: 0,
    });
    const token = await tokenFor({ claims: { sub: 'ops:alice', scope: 'orders:read orders:manage' } });
    const response = await app.inject({
      method: 'POST',
      url: `/orders/${ORDER_ID}/cancel`,
      headers: { authorization: `Bearer ${token}` },
      payload: { reason: 'FRAUD' },
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(actors).toEqual(['ops:alice']);
    await app.close();
  });
});
