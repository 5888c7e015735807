// The HTTP edge on its own: authentication, scopes, rate limits, headers, error bodies and
// logs. The order service behind it is a stub here; test/integration covers the real one.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { parseApiKeys } from '../../src/config.js';
import type { Order } from '../../src/contracts/schemas.js';
import { ErrorCode, OrderError } from '../../src/domain/order.js';
import type { OrderService } from '../../src/orders/order-service.js';

const TOKENS = { reader: 'reader-token-0123456789', creator: 'creator-token-0123456789' };
const API_KEYS = JSON.stringify({ [TOKENS.reader]: ['orders:read'], [TOKENS.creator]: ['orders:create'] });

const ORDER: Order = {
  orderId: '0b6f6d6e-1c1a-4d5e-9f0a-1a2b3c4d5e6f',
  customerId: '5d1f8f2e-7a8b-4c9d-8e0f-112233445566',
  status: 'CREATED',
  items: [{ productId: 'a1a1a1a1-0000-4000-8000-000000000001', quantity: 1, unitPrice: 100 }],
  total: 100,
  currency: 'EUR',
  createdAt: '2026-11-26T10:00:00.000Z',
  cartId: '6f1c2a3b-0000-4000-8000-00000000a001',
  paymentAuthorizationId: null,
  updatedAt: '2026-11-26T10:00:00.000Z',
  completedAt: null,
  cancelledAt: null,
  cancellationReason: null,
};

async function appWith(
  getOrder: OrderService['getOrder'],
  options: { rateLimitPerMinute?: number; readiness?: () => Promise<string[]> } = {},
) {
  const lines: string[] = [];
  const logger = pino(
    { level: 'info', redact: ['req.headers.authorization'] },
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(chunk.toString());
        done();
      },
    }),
  );
  const orders = { getOrder } as unknown as OrderService;
  const app = await buildApp({
    orders,
    logger,
    apiKeys: parseApiKeys(API_KEYS),
    bodyLimit: 4096,
    rateLimitPerMinute: options.rateLimitPerMinute ?? 0,
    ...(options.readiness && { readiness: options.readiness }),
  });
  return { app, lines };
}

const get = (app: Awaited<ReturnType<typeof appWith>>['app'], token?: string) =>
  app.inject({
    method: 'GET',
    url: `/orders/${ORDER.orderId}`,
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });

describe('authentication and scopes', () => {
  it('answers 401 without a token or with an unknown one, 403 without the scope, 200 with it', async () => {
    const { app } = await appWith(async () => ORDER);
    const missing = await get(app);
    expect(missing.statusCode).toBe(401);
    expect(missing.headers['www-authenticate']).toBe('Bearer');
    expect(missing.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
    expect((await get(app, 'not-a-known-token-at-all')).statusCode).toBe(401);
    const forbidden = await get(app, TOKENS.creator);
    expect(forbidden.statusCode).toBe(403);
    expect(forbidden.json()).toMatchObject({ code: 'FORBIDDEN' });
    expect((await get(app, TOKENS.reader)).statusCode).toBe(200);
    const malformed = await app.inject({
      method: 'GET',
      url: `/orders/${ORDER.orderId}`,
      headers: { authorization: `Basic ${TOKENS.reader}` },
    });
    expect(malformed.statusCode).toBe(401);
  });

  it('leaves health and docs open', async () => {
    const { app } = await appWith(async () => ORDER);
    expect((await app.inject({ method: 'GET', url: '/healthz' })).statusCode).toBe(200);
    expect((await app.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(200);
  });

  it('never writes a token into the logs', async () => {
    const { app, lines } = await appWith(async () => ORDER);
    await get(app, TOKENS.reader);
    await get(app, 'an-unknown-token-xyz-123');
    await get(app, TOKENS.creator);
    const logs = lines.join('');
    expect(logs).toContain('"statusCode":403');
    for (const token of [...Object.values(TOKENS), 'an-unknown-token-xyz-123']) expect(logs).not.toContain(token);
  });
});

describe('readiness', () => {
  it('answers 503 naming the dependencies that do not answer', async () => {
    const { app } = await appWith(async () => ORDER, { readiness: async () => ['kafka'] });
    const response = await app.inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode).toBe(503);
    expect(response.json()).toEqual({ status: 'unavailable', unavailable: ['kafka'] });
  });
});

describe('rate limit', () => {
  it('answers 429 with a JSON error once a token used its allowance, and counts tokens apart', async () => {
    const { app } = await appWith(async () => ORDER, { rateLimitPerMinute: 3 });
    const statuses = [];
    for (let index = 0; index < 4; index++) statuses.push((await get(app, TOKENS.reader)).statusCode);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const limited = await get(app, TOKENS.reader);
    expect(limited.json()).toMatchObject({ code: 'RATE_LIMITED' });
    expect(limited.headers['retry-after']).toBeDefined();
    expect((await get(app, TOKENS.creator)).statusCode).toBe(403); // another token: not limited
  });
});

describe('responses', () => {
  it('carries security headers', async () => {
    const { app } = await appWith(async () => ORDER);
    const response = await get(app, TOKENS.reader);
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['strict-transport-security']).toBeDefined();
    expect(response.headers['content-security-policy']).toContain("default-src 'self'");
  });

  it('turns domain error codes into statuses at the edge', async () => {
    const { app } = await appWith(async () => {
      throw new OrderError(ErrorCode.ORDER_NOT_FOUND, 'no such order');
    });
    const response = await get(app, TOKENS.reader);
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({ code: 'ORDER_NOT_FOUND', message: 'no such order', details: [] });
  });

  it('answers 500 without internals, and logs them instead', async () => {
    const { app, lines } = await appWith(async () => {
      throw new Error('relation "orders" does not exist at /work/main/src/db/orders-repository.ts:42');
    });
    const response = await get(app, TOKENS.reader);
    expect(response.statusCode).toBe(500);
    expect(response.json()).toEqual({
      code: 'INTERNAL_ERROR',
      message: 'the order service failed to handle the request',
      details: [],
    });
    expect(response.body).not.toMatch(/relation|\/work\/|\.ts|at /);
    expect(lines.join('')).toContain('relation \\"orders\\" does not exist');
  });

  it('answers 503 with Retry-After when a dependency is unreachable', async () => {
    const { app } = await appWith(async () => {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    });
    const response = await get(app, TOKENS.reader);
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('1');
    expect(response.json()).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
    expect(response.body).not.toContain('5432');
  });

  it('refuses bodies over the configured limit with 413', async () => {
    const { app } = await appWith(async () => ORDER);
    const response = await app.inject({
      method: 'POST',
      url: '/orders',
      headers: { authorization: `Bearer ${TOKENS.creator}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ padding: 'x'.repeat(10_000) }),
    });
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ code: 'BODY_TOO_LARGE' });
  });
});
