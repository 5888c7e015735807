// The HTTP edge on its own: authentication, scopes, rate limits, headers, error bodies and
// logs. The order service behind it is a stub here; test/integration covers the real one.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { parseApiKeys } from '../../src/config.js';
import type { Order } from '../../src/contracts/schemas.js';
import type { Database } from '../../src/db/index.js';
import { ErrorCode, lifecycleFieldsOfNewOrder, OrderError } from '../../src/domain/order.js';
import { createOrderService, type OrderService } from '../../src/orders/order-service.js';
import type { OrderWorkflowClient } from '../../src/temporal/client.js';
import { newCreateOrder } from '../support/orders.js';

const TOKENS = {
  reader: 'reader-token-0123456789',
  creator: 'creator-token-0123456789',
  manager: 'manager-token-0123456789',
};
const API_KEYS = JSON.stringify({
  [TOKENS.reader]: ['orders:read'],
  [TOKENS.creator]: ['orders:create'],
  [TOKENS.manager]: ['orders:manage'],
});

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
  ...lifecycleFieldsOfNewOrder(newCreateOrder()),
};

async function appWith(
  getOrder: OrderService['getOrder'],
  options: { rateLimitPerMinute?: number; readiness?: () => Promise<string[]>; orders?: Partial<OrderService> } = {},
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
  const orders = { getOrder, ...options.orders } as unknown as OrderService;
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

describe('routes and methods', () => {
  const reader = { authorization: `Bearer ${TOKENS.reader}` };

  it.each([
    ['DELETE', '/orders', 'GET, HEAD, POST'],
    ['PUT', `/orders/${ORDER.orderId}`, 'GET, HEAD, PATCH'],
    ['POST', `/orders/${ORDER.orderId}/delivery-address`, 'PUT'],
    ['GET', `/orders/${ORDER.orderId}/complete`, 'POST'],
    ['QUERY', `/orders/${ORDER.orderId}/history`, 'GET, HEAD'],
    ['OPTIONS', '/healthz', 'GET, HEAD'],
  ])('answers %s %s with 405 and Allow: %s', async (method, url, allow) => {
    const { app } = await appWith(async () => ORDER);
    const response = await app.inject({ method: method as 'GET', url, headers: reader });
    expect(response.statusCode).toBe(405);
    expect(response.headers.allow).toBe(allow);
    expect(response.json()).toEqual({
      code: 'METHOD_NOT_ALLOWED',
      message: `${method} is not allowed here; this route allows ${allow}`,
      details: [],
    });
  });

  it('answers a wrong method before reading the body, whatever the body is', async () => {
    const { app } = await appWith(async () => ORDER);
    for (const [contentType, payload] of [
      ['application/json', '{"broken'],
      ['application/json', ''],
      ['text/plain', 'hello'],
    ]) {
      const response = await app.inject({
        method: 'DELETE',
        url: `/orders/${ORDER.orderId}`,
        headers: { ...reader, 'content-type': contentType! },
        payload,
      });
      expect(response.statusCode, `${contentType} ${payload}`).toBe(405);
      expect(response.json()).toMatchObject({ code: 'METHOD_NOT_ALLOWED' });
    }
  });

  it('keeps 404 for paths no route has, and HEAD on GET routes', async () => {
    const { app } = await appWith(async () => ORDER);
    for (const url of ['/admin', `/orders/${ORDER.orderId}/refund`, '/orders/', '/healthz/x']) {
      const response = await app.inject({ method: 'DELETE', url, headers: reader });
      expect(response.statusCode, url).toBe(404);
      expect(response.json()).toMatchObject({ code: 'ROUTE_NOT_FOUND' });
      expect(response.headers.allow, url).toBeUndefined();
    }
    const head = await app.inject({ method: 'HEAD', url: `/orders/${ORDER.orderId}`, headers: reader });
    expect(head.statusCode).toBe(200);
    expect(head.body).toBe('');
  });
});

describe('empty bodies', () => {
  const manager = { authorization: `Bearer ${TOKENS.manager}`, 'content-type': 'application/json' };
  const orders: Partial<OrderService> = {
    transitionOrder: async () => ({ kind: 'done', order: { ...ORDER, status: 'COMPLETED' }, changed: true }),
    resumeOrder: async () => ORDER,
  };

  it.each(['complete', 'resume'])(
    'POST /orders/{orderId}/%s takes an empty JSON body: it declares none',
    async (command) => {
      const { app } = await appWith(async () => ORDER, { orders });
      const response = await app.inject({
        method: 'POST',
        url: `/orders/${ORDER.orderId}/${command}`,
        headers: manager,
        payload: '',
      });
      expect(response.statusCode, response.body).toBe(200);
    },
  );

  it('routes with a body schema still refuse an empty one', async () => {
    const { app } = await appWith(async () => ORDER, { orders });
    const cancel = await app.inject({
      method: 'POST',
      url: `/orders/${ORDER.orderId}/cancel`,
      headers: manager,
      payload: '',
    });
    expect(cancel.statusCode).toBe(400);
    expect(cancel.json()).toMatchObject({ code: 'EMPTY_BODY' });
    const create = await app.inject({
      method: 'POST',
      url: '/orders',
      headers: { authorization: `Bearer ${TOKENS.creator}`, 'content-type': 'application/json' },
      payload: '',
    });
    expect(create.statusCode).toBe(400);
    expect(create.json()).toMatchObject({ code: 'EMPTY_BODY' });
  });

  it('a route without a body schema still refuses malformed JSON and other media types', async () => {
    const { app } = await appWith(async () => ORDER, { orders });
    const url = `/orders/${ORDER.orderId}/complete`;
    const malformed = await app.inject({ method: 'POST', url, headers: manager, payload: '{' });
    expect(malformed.json()).toMatchObject({ code: 'MALFORMED_JSON' });
    const poisoned = await app.inject({ method: 'POST', url, headers: manager, payload: '{"__proto__":{"x":1}}' });
    expect(poisoned.statusCode).toBe(400);
    const text = await app.inject({
      method: 'POST',
      url,
      headers: { ...manager, 'content-type': 'text/plain' },
      payload: 'x',
    });
    expect(text.statusCode).toBe(415);
  });
});

describe('GET /orders date-time filters', () => {
  /** The app over a real order service whose database records the values each query is given. */
  async function listingApp() {
    const queries: unknown[][] = [];
    const db = {
      query: async (_text: string, values: unknown[] = []) => {
        queries.push(values);
        return { rows: [], rowCount: 0 };
      },
    } as unknown as Database;
    const orders = createOrderService({
      db,
      workflows: {} as OrderWorkflowClient,
      createTimeoutMs: 1,
      transitionWaitMs: 1,
    });
    const { app } = await appWith(async () => ORDER, { orders });
    const list = (query: string) =>
      app.inject({ method: 'GET', url: `/orders?${query}`, headers: { authorization: `Bearer ${TOKENS.reader}` } });
    return { list, queries };
  }

  it.each([
    // PostgreSQL refuses offsets of ±16:00 and beyond: it gets UTC.
    ['2026-01-01T00:00:00+16:00', '2025-12-31T08:00:00.000Z'],
    ['2026-01-01T00:00:00-23:59', '2026-01-01T23:59:00.000Z'],
    ['2026-01-01T00:00:00+0530', '2025-12-31T18:30:00.000Z'],
    ['2026-01-01 00:00:00+05', '2025-12-31T19:00:00.000Z'],
    ['2026-01-01t00:00:00z', '2026-01-01T00:00:00.000Z'],
    // A leap second is the second after 23:59:59, as PostgreSQL reads it.
    ['2016-12-31T23:59:60Z', '2017-01-01T00:00:00.000Z'],
    ['2016-12-31T23:59:60.5Z', '2017-01-01T00:00:00.500Z'],
    ['2017-01-01T00:59:60+01:00', '2017-01-01T00:00:00.000Z'],
    // createdAt is stored to the millisecond: a finer bound rounds up, selecting the same orders.
    ['2026-01-01T00:00:00.0001Z', '2026-01-01T00:00:00.001Z'],
    ['2026-01-01T00:00:00.999999Z', '2026-01-01T00:00:01.000Z'],
    ['2026-01-01T00:00:00.120000Z', '2026-01-01T00:00:00.120Z'],
  ])('createdFrom=%s reaches PostgreSQL as %s', async (value, utc) => {
    const { list, queries } = await listingApp();
    const response = await list(`createdFrom=${encodeURIComponent(value)}&createdTo=${encodeURIComponent(value)}`);
    expect(response.statusCode, response.body).toBe(200);
    expect(queries).toEqual([[utc, utc, 21]]);
  });

  it.each(['1970-01-01T00:00:00+00:01', '9999-12-31T23:59:59-00:01', '9999-12-31T23:59:60Z', '0000-01-01T00:00:00Z'])(
    'answers %s, beyond years 1970 to 9999 once in UTC, with 400 OUT_OF_RANGE',
    async (value) => {
      const { list, queries } = await listingApp();
      const response = await list(`createdTo=${encodeURIComponent(value)}`);
      expect(response.statusCode).toBe(400);
      expect(response.json().details).toEqual([
        { field: 'querystring/createdTo', code: 'OUT_OF_RANGE', message: 'must be between years 1970 and 9999' },
      ]);
      expect(queries).toEqual([]);
    },
  );

  it('normalises the time of a cursor too, and refuses one PostgreSQL could not read', async () => {
    const { list, queries } = await listingApp();
    const cursor = (createdAt: string) => Buffer.from(JSON.stringify([createdAt, ORDER.orderId])).toString('base64url');
    expect((await list(`cursor=${cursor('2026-01-01T00:00:00+16:00')}`)).statusCode).toBe(200);
    expect(queries).toEqual([['2025-12-31T08:00:00.000Z', ORDER.orderId, 21]]);
    const unreadable = await list(`cursor=${cursor('Thu, 01 Jan 2026 00:00:00 GMT')}`);
    expect(unreadable.statusCode).toBe(400);
    expect(unreadable.json()).toMatchObject({ details: [{ code: 'INVALID_CURSOR' }] });
  });
});
