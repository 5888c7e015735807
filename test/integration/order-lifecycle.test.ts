// The order lifecycle over HTTP on the real stack: PostgreSQL rows, Temporal workflows and
// the events on Kafka, checked against the catalog's schemas.
import { WorkflowNotFoundError } from '@temporalio/client';
import { describe, expect, it } from 'vitest';
import type { CreateOrder, Order } from '../../src/contracts/schemas.js';
import { orderIdForCart, workflowIdForOrder } from '../../src/ids.js';
import { api } from '../support/api.js';
import { expectValid } from '../support/catalog.js';
import { newCreateOrder } from '../support/orders.js';
import { useStackClients } from '../support/stack-clients.js';

const stack = useStackClients();

async function createOrder(command: CreateOrder = newCreateOrder()) {
  const response = await api<Order>('POST', '/orders', command);
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return { command, order: response.body, response };
}

async function rowsOf(orderId: string) {
  const order = await stack.db.query('SELECT * FROM orders WHERE order_id = $1', [orderId]);
  const items = await stack.db.query('SELECT * FROM order_items WHERE order_id = $1 ORDER BY line_number', [orderId]);
  return { order: order.rows[0], items: items.rows };
}

async function workflowExists(orderId: string): Promise<boolean> {
  try {
    await stack.temporal.workflow.getHandle(workflowIdForOrder(orderId)).describe();
    return true;
  } catch (error) {
    if (error instanceof WorkflowNotFoundError) return false;
    throw error;
  }
}

/** Waits until the order's terminal event arrives, then asserts the whole event stream of the order. */
async function expectEventStream(orderId: string, types: string[]) {
  const seen = await stack.events.waitFor(orderId, types.length);
  expect(seen.map((event) => event.headers.ce_type)).toEqual(types);
  expect(new Set(seen.map((event) => event.partition)).size).toBe(1);
  for (const event of seen) {
    expect(event.headers).toMatchObject({
      ce_specversion: '1.0',
      ce_source: '/acme/ordering/order-service',
      ce_subject: orderId,
      'content-type': 'application/json',
    });
    expect(event.headers.ce_id).toMatch(/^[0-9a-f-]{36}$/);
    expectValid(event.headers.ce_type as 'OrderCreated', event.payload);
  }
  return seen;
}

describe('POST /orders', () => {
  it('answers 201 with Location and the order, once it is committed, and announces OrderCreated', async () => {
    const { command, order, response } = await createOrder();
    expect(response.headers.get('location')).toBe(`/orders/${order.orderId}`);
    expectValid('GetOrderResponse', order);
    expect(order).toMatchObject({
      status: 'CREATED',
      customerId: command.customerId,
      cartId: command.cartId,
      total: command.total,
      currency: command.currency,
      items: command.items,
      paymentAuthorizationId: command.paymentAuthorizationId,
      completedAt: null,
      cancelledAt: null,
    });

    // Read-your-write: the GET right after the 201 sees it.
    const read = await api<Order>('GET', `/orders/${order.orderId}`);
    expect(read.status).toBe(200);
    expect(read.body).toEqual(order);

    const rows = await rowsOf(order.orderId);
    expect(rows.order).toMatchObject({ status: 'CREATED', total_cents: command.total, cart_id: command.cartId });
    expect(rows.items.map((item) => [item.product_id, item.quantity, item.unit_price_cents])).toEqual(
      command.items.map((item) => [item.productId, item.quantity, item.unitPrice]),
    );

    const [created] = await expectEventStream(order.orderId, ['OrderCreated']);
    expect(created?.payload).toEqual({
      orderId: order.orderId,
      customerId: command.customerId,
      total: command.total,
      currency: command.currency,
      status: 'created',
      items: command.items.map((item) => ({ sku: item.productId, quantity: item.quantity, unitPrice: item.unitPrice })),
      createdAt: order.createdAt,
    });
    expect(created?.headers.ce_time).toBe(order.createdAt);
    expect(new Date(created?.payload.createdAt as string)).toEqual(rows.order.created_at);
  });

  it('returns the same order for a repeated command, and 409 for the same cart with another body', async () => {
    const { command, order } = await createOrder();
    const again = await api<Order>('POST', '/orders', command);
    expect(again.status).toBe(200);
    expect(again.body.orderId).toBe(order.orderId);

    const conflict = await api('POST', '/orders', { ...command, paymentAuthorizationId: 'another' });
    expect(conflict.status).toBe(409);
    expect(conflict.body).toMatchObject({ code: 'ORDER_CONFLICT' });

    // Nothing new was published: after the terminal event there is still one OrderCreated.
    await api('POST', `/orders/${order.orderId}/complete`);
    await expectEventStream(order.orderId, ['OrderCreated', 'OrderCompleted', 'OrderStatusChanged']);
  });

  it('turns concurrent identical requests into one order', async () => {
    const command = newCreateOrder();
    const responses = await Promise.all(Array.from({ length: 12 }, () => api<Order>('POST', '/orders', command)));
    const statuses = responses.map((response) => response.status).sort();
    expect(statuses.filter((status) => status === 201)).toHaveLength(1);
    expect(statuses.filter((status) => status === 200)).toHaveLength(11);
    const orderId = orderIdForCart(command.cartId);
    expect(new Set(responses.map((response) => response.body.orderId))).toEqual(new Set([orderId]));
    const { rows } = await stack.db.query('SELECT count(*)::int AS n FROM orders WHERE cart_id = $1', [command.cartId]);
    expect(rows[0].n).toBe(1);
    await api('POST', `/orders/${orderId}/cancel`, { reason: 'CUSTOMER_REQUESTED' });
    await expectEventStream(orderId, ['OrderCreated', 'OrderCancelled', 'OrderStatusChanged']);
  });

  it.each([
    // The schema says minItems: 1 (and the OpenAPI document with it); the domain rule stays behind it.
    ['no items', (c: CreateOrder) => ({ ...c, items: [], total: 0 }), 'body/items', 'minItems'],
    [
      'a productId twice',
      (c: CreateOrder) => ({
        ...c,
        items: [c.items[0], c.items[0]],
        total: 2 * c.items[0]!.quantity * c.items[0]!.unitPrice,
      }),
      '/items/1/productId',
      'DUPLICATE_PRODUCT',
    ],
    ['a total that is not the sum', (c: CreateOrder) => ({ ...c, total: c.total + 1 }), '/total', 'TOTAL_MISMATCH'],
    [
      'a total beyond the INTEGER column',
      (c: CreateOrder) => ({
        ...c,
        items: [{ ...c.items[0]!, quantity: 3, unitPrice: 1_000_000_000 }],
        total: 2_000_000_000,
      }),
      '/total',
      'AMOUNT_TOO_LARGE',
    ],
    [
      'a negative unit price',
      (c: CreateOrder) => ({ ...c, items: [{ ...c.items[0]!, unitPrice: -5 }], total: 0 }),
      '/items/0/unitPrice',
      'NEGATIVE_AMOUNT',
    ],
    ['an unknown currency', (c: CreateOrder) => ({ ...c, currency: 'XQQ' }), '/currency', 'UNKNOWN_CURRENCY'],
    ['a lowercase currency', (c: CreateOrder) => ({ ...c, currency: 'eur' }), 'body/currency', 'pattern'],
    [
      'a quantity as a string',
      (c: CreateOrder) => ({ ...c, items: [{ ...c.items[0]!, quantity: '2' }] }),
      'body/items/0/quantity',
      'type',
    ],
    ['an unknown field', (c: CreateOrder) => ({ ...c, discount: 5 }), 'body/discount', 'additionalProperties'],
    ['a missing cartId', ({ cartId: _cartId, ...rest }: CreateOrder) => rest, 'body/cartId', 'required'],
    ['a malformed customerId', (c: CreateOrder) => ({ ...c, customerId: 'nope' }), 'body/customerId', 'format'],
  ])(
    'rejects %s with 400 naming the field, and stores, starts and publishes nothing',
    async (_name, mutate, field, code) => {
      const command = newCreateOrder();
      const response = await api('POST', '/orders', mutate(command));
      expect(response.status).toBe(400);
      expect(response.body).toMatchObject({ code: 'VALIDATION_FAILED', message: expect.any(String) });
      expect(response.body.details).toContainEqual(expect.objectContaining({ field, code }));
      const { rows } = await stack.db.query('SELECT 1 FROM orders WHERE cart_id = $1', [command.cartId]);
      expect(rows).toHaveLength(0);
      expect(await workflowExists(orderIdForCart(command.cartId))).toBe(false);
      expect(stack.events.ofOrder(orderIdForCart(command.cartId))).toHaveLength(0);
    },
  );
});

describe('GET /orders/{orderId}', () => {
  it('answers 400 for a malformed id and 404 for an unknown one', async () => {
    const malformed = await api('GET', '/orders/not-a-uuid');
    expect(malformed.status).toBe(400);
    expect(malformed.body).toMatchObject({ code: 'VALIDATION_FAILED' });
    const unknown = await api('GET', `/orders/${orderIdForCart('00000000-0000-4000-8000-000000000000')}`);
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ code: 'ORDER_NOT_FOUND' });
  });
});

describe('cancel and complete', () => {
  it('cancels: 200 once persisted, OrderCancelled with the reason, repeat is a no-op, complete is 409', async () => {
    const { order } = await createOrder();
    const cancelled = await api<Order>('POST', `/orders/${order.orderId}/cancel`, { reason: 'OUT_OF_STOCK' });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'CANCELLED', cancellationReason: 'OUT_OF_STOCK' });
    expect(cancelled.body.cancelledAt).not.toBeNull();

    const again = await api<Order>('POST', `/orders/${order.orderId}/cancel`, { reason: 'OUT_OF_STOCK' });
    expect(again.status).toBe(200);
    expect(again.body.cancelledAt).toBe(cancelled.body.cancelledAt);

    const complete = await api('POST', `/orders/${order.orderId}/complete`);
    expect(complete.status).toBe(409);
    expect(complete.body).toMatchObject({ code: 'TRANSITION_NOT_ALLOWED' });

    const seen = await expectEventStream(order.orderId, ['OrderCreated', 'OrderCancelled', 'OrderStatusChanged']);
    expect(seen[1]?.payload).toEqual({
      orderId: order.orderId,
      customerId: order.customerId,
      reason: 'OUT_OF_STOCK',
      cancelledAt: cancelled.body.cancelledAt,
    });
    expect(seen[1]?.headers.ce_time).toBe(cancelled.body.cancelledAt);
    const rows = await rowsOf(order.orderId);
    expect(rows.order.cancelled_at).toEqual(new Date(cancelled.body.cancelledAt!));
  });

  it('completes: 200 once persisted, OrderCompleted, cancel afterwards is 409', async () => {
    const { order } = await createOrder();
    const completed = await api<Order>('POST', `/orders/${order.orderId}/complete`);
    expect(completed.status).toBe(200);
    expect(completed.body.status).toBe('COMPLETED');
    const cancel = await api('POST', `/orders/${order.orderId}/cancel`, { reason: 'FRAUD' });
    expect(cancel.status).toBe(409);
    const seen = await expectEventStream(order.orderId, ['OrderCreated', 'OrderCompleted', 'OrderStatusChanged']);
    expect(seen[1]?.payload).toEqual({
      orderId: order.orderId,
      customerId: order.customerId,
      completedAt: completed.body.completedAt,
    });
    expect((await rowsOf(order.orderId)).order.status).toBe('COMPLETED');
  });

  it('answers 400 for an unknown reason and 404 for an unknown order', async () => {
    const { order } = await createOrder();
    const badReason = await api('POST', `/orders/${order.orderId}/cancel`, { reason: 'BORED' });
    expect(badReason.status).toBe(400);
    expect(badReason.body.details).toContainEqual(expect.objectContaining({ field: 'body/reason', code: 'enum' }));
    const unknown = await api('POST', `/orders/${orderIdForCart('00000000-0000-4000-8000-000000000001')}/complete`);
    expect(unknown.status).toBe(404);
    await api('POST', `/orders/${order.orderId}/complete`);
  });

  it('lets exactly one of racing cancels and completes win, in the database and on Kafka', async () => {
    const { order } = await createOrder();
    const requests = Array.from({ length: 10 }, (_, index) =>
      index % 2 === 0
        ? api('POST', `/orders/${order.orderId}/cancel`, { reason: 'CUSTOMER_REQUESTED' })
        : api('POST', `/orders/${order.orderId}/complete`),
    );
    const responses = await Promise.all(requests);
    const final = (await rowsOf(order.orderId)).order.status as 'COMPLETED' | 'CANCELLED';
    expect(['COMPLETED', 'CANCELLED']).toContain(final);
    responses.forEach((response, index) => {
      const wanted = index % 2 === 0 ? 'CANCELLED' : 'COMPLETED';
      expect(response.status, JSON.stringify(response.body)).toBe(wanted === final ? 200 : 409);
    });
    const terminal = final === 'COMPLETED' ? 'OrderCompleted' : 'OrderCancelled';
    await expectEventStream(order.orderId, ['OrderCreated', terminal, 'OrderStatusChanged']);
    // Give a stray second terminal event the time to show up, if there were one.
    const { rows } = await stack.db.query(
      'SELECT event_type FROM order_events WHERE order_id = $1 ORDER BY sequence, position',
      [order.orderId],
    );
    expect(rows.map((row) => row.event_type)).toEqual(['OrderCreated', terminal, 'OrderStatusChanged']);
  });
});

describe('for operators', () => {
  it('marks each order with search attributes and a memo, and lists its events with their publish state', async () => {
    const { order, command } = await createOrder();
    await api('POST', `/orders/${order.orderId}/cancel`, { reason: 'PAYMENT_FAILED' });
    await expectEventStream(order.orderId, ['OrderCreated', 'OrderCancelled', 'OrderStatusChanged']);

    const handle = stack.temporal.workflow.getHandle(workflowIdForOrder(order.orderId));
    // The run waits for the order's archival (ARCHIVE_AFTER_MS); its attributes already say CANCELLED.
    let description = await handle.describe();
    for (let tries = 0; description.searchAttributes.OrderStatus?.[0] !== 'CANCELLED' && tries < 100; tries++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      description = await handle.describe();
    }
    expect(description.searchAttributes).toMatchObject({
      OrderStatus: ['CANCELLED'],
      CustomerId: [command.customerId],
      CartId: [command.cartId],
      OrderTotal: [command.total],
    });
    expect(await description.memo).toEqual({ currency: command.currency, itemCount: command.items.length });

    // Visibility is eventually consistent: wait for the list query to see it.
    const query = `OrderStatus = "CANCELLED" AND CartId = "${command.cartId}"`;
    const deadline = Date.now() + 15_000;
    let found: string[] = [];
    while (found.length === 0 && Date.now() < deadline) {
      found = [];
      for await (const workflow of stack.temporal.workflow.list({ query })) found.push(workflow.workflowId);
      if (found.length === 0) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(found).toEqual([workflowIdForOrder(order.orderId)]);

    const listed = await api('GET', `/orders/${order.orderId}/events`);
    expect(listed.status).toBe(200);
    expect(listed.body.events.map((event: { type: string }) => event.type)).toEqual([
      'OrderCreated',
      'OrderCancelled',
      'OrderStatusChanged',
    ]);
    expect(listed.body.events.every((event: { publishedAt: string | null }) => event.publishedAt !== null)).toBe(true);
  });
});
