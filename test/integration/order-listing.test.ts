// GET /orders: filters, newest first, keyset pagination, and indexes that serve it.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Order } from '../../src/contracts/schemas.js';
import { listOrdersQuery, type OrderListFilter } from '../../src/db/orders-repository.js';
import { api } from '../support/api.js';
import { newCreateOrder } from '../support/orders.js';

const customerId = randomUUID();
const created: Order[] = [];
let db: pg.Pool;

beforeAll(async () => {
  db = new pg.Pool({ connectionString: inject('env').DATABASE_URL, max: 2 });
  for (let index = 0; index < 5; index++) {
    const response = await api<Order>('POST', '/orders', newCreateOrder({ customerId }));
    expect(response.status).toBe(201);
    created.push(response.body);
  }
  const cancelled = await api('POST', `/orders/${created[1]!.orderId}/cancel`, { reason: 'FRAUD' });
  expect(cancelled.status).toBe(200);
});

afterAll(async () => {
  await db?.end();
});

const newestFirst = () => [...created].reverse().map((order) => order.orderId);

describe('GET /orders', () => {
  it('pages through a customer’s orders newest first, without gaps or repeats', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `customerId=${customerId}&limit=2${cursor === null ? '' : `&cursor=${cursor}`}`;
      const page = await api<{ orders: Order[]; nextCursor: string | null }>('GET', `/orders?${query}`);
      expect(page.status).toBe(200);
      expect(page.body.orders.length).toBeLessThanOrEqual(2);
      seen.push(...page.body.orders.map((order) => order.orderId));
      cursor = page.body.nextCursor;
      pages++;
    } while (cursor !== null);
    expect(pages).toBe(3);
    expect(seen).toEqual(newestFirst());
  });

  it('filters by status and by creation time', async () => {
    const cancelled = await api('GET', `/orders?customerId=${customerId}&status=CANCELLED`);
    expect(cancelled.body.orders.map((order: Order) => order.orderId)).toEqual([created[1]!.orderId]);

    const from = created[2]!.createdAt;
    const to = created[4]!.createdAt;
    const window = await api('GET', `/orders?customerId=${customerId}&createdFrom=${from}&createdTo=${to}`);
    expect(window.body.orders.map((order: Order) => order.orderId)).toEqual([created[3]!.orderId, created[2]!.orderId]);
  });

  it('rejects a forged cursor, an unknown filter and a limit out of range with 400', async () => {
    for (const query of ['cursor=bm90LWEtY3Vyc29y', 'colour=red', 'limit=0', 'limit=1000', 'status=SHIPPED']) {
      const response = await api('GET', `/orders?${query}`);
      expect(response.status, query).toBe(400);
      expect(response.body.code, query).toBe('VALIDATION_FAILED');
    }
  });

  it('is served by the keyset indexes, in index order, without a sort', async () => {
    const plans: Record<string, string> = {};
    const client = await db.connect();
    try {
      await client.query('BEGIN');
      // A small test table would be scanned whole and sorted anyway. With scans, bitmaps and sorts
      // priced out, the planner shows whether an index gives these rows in this order: a Sort
      // node would remain only if none did.
      await client.query('SET LOCAL enable_seqscan = off');
      await client.query('SET LOCAL enable_bitmapscan = off');
      await client.query('SET LOCAL enable_sort = off');
      // The statement GET /orders runs, as the repository builds it; only the plan of the
      // orders themselves counts (the items' subquery below it is per row).
      const explain = async (filter: OrderListFilter) => {
        const { text, values } = listOrdersQuery(filter);
        const { rows } = await client.query(`EXPLAIN ${text}`, values);
        const lines = rows.map((row) => row['QUERY PLAN'] as string);
        const subPlan = lines.findIndex((line) => /SubPlan/.test(line));
        return (subPlan === -1 ? lines : lines.slice(0, subPlan)).join('\n');
      };
      plans.all = await explain({ limit: 21 });
      plans.customer = await explain({ customerId, limit: 21 });
      plans.status = await explain({ status: 'CREATED', limit: 21 });
      plans.keyset = await explain({
        customerId,
        after: { createdAt: created[2]!.createdAt, orderId: created[2]!.orderId },
        limit: 21,
      });
      await client.query('ROLLBACK');
    } finally {
      client.release();
    }
    // Which keyset index serves a filter depends on the data; one of them does, in its order.
    for (const plan of Object.values(plans)) expect(plan).toMatch(/Index Scan using orders_\w*keyset/);
    expect(plans.customer).toContain('orders_customer_created_keyset');
    expect(plans.keyset).toContain('orders_customer_created_keyset');
    for (const plan of Object.values(plans)) expect(plan).not.toMatch(/\bSort\b/);
  });
});
