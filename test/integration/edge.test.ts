// The edge, exact, against the real API and PostgreSQL: every date-time the document allows is a
// 200 or a 400 (never a 5xx) and selects what it names; a wrong method is 405 with Allow; a route
// that declares no body takes an empty JSON one.
import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import type { Order } from '../../src/contracts/schemas.js';
import { api } from '../support/api.js';
import { newCreateOrder } from '../support/orders.js';
import { TOKENS } from '../support/stack.js';

const customerId = randomUUID();
let order: Order;

beforeAll(async () => {
  const created = await api<Order>('POST', '/orders', newCreateOrder({ customerId }));
  expect(created.status).toBe(201);
  order = created.body;
});

/** The same instant as `iso` (UTC, to the millisecond), written with an offset of `minutes`. */
function withOffset(iso: string, minutes: number): string {
  const local = new Date(Date.parse(iso) + minutes * 60_000).toISOString().slice(0, 23);
  const sign = minutes < 0 ? '-' : '+';
  const hours = String(Math.floor(Math.abs(minutes) / 60)).padStart(2, '0');
  return `${local}${sign}${hours}:${String(Math.abs(minutes) % 60).padStart(2, '0')}`;
}

/** The ids GET /orders lists for our customer with `filter`; it must answer 200. */
async function listed(filter: Record<string, string>): Promise<string[]> {
  const query = new URLSearchParams({ customerId, ...filter });
  const response = await api<{ orders: Order[] }>('GET', `/orders?${query}`);
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body.orders.map((listedOrder) => listedOrder.orderId);
}

describe('date-time filters of GET /orders', () => {
  it('answers an offset of +16:00 (which PostgreSQL refuses) with 200, not 500', async () => {
    const response = await api('GET', `/orders?createdFrom=${encodeURIComponent('2026-01-01T00:00:00+16:00')}`);
    expect(response.status).toBe(200);
  });

  it.each([16 * 60, 23 * 60 + 59, -(23 * 60 + 59), 5 * 60 + 30, 0])(
    'reads createdFrom (inclusive) and createdTo (exclusive) at the instant they name, offset %i minutes',
    async (minutes) => {
      const at = withOffset(order.createdAt, minutes);
      const justAfter = withOffset(new Date(Date.parse(order.createdAt) + 1).toISOString(), minutes);
      expect(await listed({ createdFrom: at })).toEqual([order.orderId]);
      expect(await listed({ createdTo: at })).toEqual([]);
      expect(await listed({ createdFrom: justAfter })).toEqual([]);
      expect(await listed({ createdTo: justAfter })).toEqual([order.orderId]);
    },
  );

  it('reads a leap second (23:59:60) as the second after 23:59:59', async () => {
    const created = new Date(order.createdAt);
    const dayBefore = new Date(Date.UTC(created.getUTCFullYear(), created.getUTCMonth(), created.getUTCDate() - 1));
    const lastSecondOfDayBefore = `${dayBefore.toISOString().slice(0, 10)}T23:59:60Z`;
    expect(await listed({ createdFrom: lastSecondOfDayBefore })).toEqual([order.orderId]);
    expect(await listed({ createdTo: lastSecondOfDayBefore })).toEqual([]);
  });

  it('answers 400 OUT_OF_RANGE for a time outside years 1970 to 9999 once in UTC', async () => {
    for (const value of ['1970-01-01T00:00:00+00:01', '9999-12-31T23:59:60Z']) {
      const response = await api('GET', `/orders?createdFrom=${encodeURIComponent(value)}`);
      expect(response.status, value).toBe(400);
      expect(response.body.details, value).toEqual([expect.objectContaining({ code: 'OUT_OF_RANGE' })]);
    }
  });

  it('answers a forged cursor with an offset PostgreSQL refuses with 200, not 500', async () => {
    const cursor = Buffer.from(JSON.stringify(['2026-01-01T00:00:00+16:00', randomUUID()])).toString('base64url');
    const response = await api('GET', `/orders?customerId=${customerId}&cursor=${cursor}`);
    expect(response.status).toBe(200);
  });
});

describe('methods', () => {
  it.each([
    ['DELETE', '/orders', 'GET, HEAD, POST'],
    ['PUT', `/orders/${randomUUID()}`, 'GET, HEAD, PATCH'],
    ['PATCH', `/orders/${randomUUID()}/cancel`, 'POST'],
    ['QUERY', '/orders', 'GET, HEAD, POST'],
  ])('%s %s answers 405 with Allow: %s and our error body', async (method, path, allow) => {
    const response = await api(method, path, '{"not":"read"}');
    expect(response.status).toBe(405);
    expect(response.headers.get('allow')).toBe(allow);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.body).toEqual({
      code: 'METHOD_NOT_ALLOWED',
      message: `${method} is not allowed here; this route allows ${allow}`,
      details: [],
    });
  });

  it('keeps 404 for a path no route has, and HEAD on GET routes', async () => {
    const unknown = await api('DELETE', '/admin');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ code: 'ROUTE_NOT_FOUND' });
    expect(unknown.headers.get('allow')).toBeNull();
    const head = await fetch(`${inject('apiUrl')}/orders/${order.orderId}`, {
      method: 'HEAD',
      headers: { authorization: `Bearer ${TOKENS.all}` },
    });
    expect(head.status).toBe(200);
  });
});

describe('requests Node refuses before any route', () => {
  it('answers a request line over 16 KB with 431 in the error body every operation documents', async () => {
    const response = await api('GET', `/orders?customerId=${customerId}&cursor=${'x'.repeat(20_000)}`);
    expect(response.status).toBe(431);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(response.body).toEqual({
      code: 'HEADERS_TOO_LARGE',
      message: 'the request line and headers are over the 16 KB limit',
      details: [],
    });
    const document = await api<{ paths: Record<string, Record<string, { responses: Record<string, unknown> }>> }>(
      'GET',
      '/docs/json',
    );
    for (const [path, operations] of Object.entries(document.body.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        expect(Object.keys(operation.responses), `${method} ${path}`).toContain('431');
      }
    }
  });
});

describe('empty JSON bodies', () => {
  it('complete and resume, which declare no body, take one; cancel, which does, refuses it', async () => {
    const created = await api<Order>('POST', '/orders', newCreateOrder({ customerId }));
    expect(created.status).toBe(201);
    const path = `/orders/${created.body.orderId}`;
    const empty = { 'content-type': 'application/json' };

    const cancel = await api('POST', `${path}/cancel`, '', empty);
    expect(cancel.status).toBe(400);
    expect(cancel.body).toMatchObject({ code: 'EMPTY_BODY' });

    const resume = await api('POST', `${path}/resume`, '', empty);
    expect(resume.status).toBe(409);
    expect(resume.body).toMatchObject({ code: 'ORDER_WORKFLOW_RUNNING' });

    const complete = await api<Order>('POST', `${path}/complete`, '', empty);
    expect(complete.status).toBe(200);
    expect(complete.body.status).toBe('COMPLETED');
  });
});
