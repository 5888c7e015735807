// The catalog's full lifecycle on the real stack, with deadlines short enough to watch: an API
// and a worker of their own (AMENDMENT_WINDOW_MS and ARCHIVE_AFTER_MS of 2 s, an archive sweep
// every second, their own task queue and topics) take an order CREATED → CONFIRMED → ON_HOLD (overdue) → AWAITING_FULFILMENT
// → FULFILLING → COMPLETED → ARCHIVED over HTTP, and another through ordering.commands. Every
// event is checked on Kafka against the catalog's head AsyncAPI, OrderStatusChanged's sequence
// has no gap, and OrderArchived's checksum is recomputed from the stored record.
import { createHash, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { canonicalJson } from '../../src/activities/index.js';
import { loadConfig } from '../../src/config.js';
import type { Order } from '../../src/contracts/schemas.js';
import { orderIdForCart, workflowIdForOrder } from '../../src/ids.js';
import { createEventPublisher, createKafka, type EventPublisher } from '../../src/kafka/index.js';
import { archiveScheduleOptions, connectTemporal } from '../../src/temporal/client.js';
import { expectValid } from '../support/catalog.js';
import { collectOrderEvents, type SeenEvent } from '../support/events.js';
import { newCreateOrder } from '../support/orders.js';
import { type AppProcess, freePort, startApiProcess, startWorkerProcess } from '../support/processes.js';
import { topicsOf } from '../support/stack.js';
import { eventually } from '../support/wait.js';

const OPS_TOKEN = 'full-lifecycle-ops-token-0001';
const quiet = { info() {}, warn() {}, error() {} };

function lifecycleEnvironment(): Record<string, string> {
  return {
    ...inject('env'),
    TEMPORAL_TASK_QUEUE: 'orders-test-lifecycle',
    KAFKA_TOPIC_PREFIX: 'test-lifecycle.',
    AMENDMENT_WINDOW_MS: '2000',
    ARCHIVE_AFTER_MS: '2000',
    ARCHIVE_SWEEP_INTERVAL_MS: '1000',
    // A named key: its name is who asked (amendedBy, releasedBy, changedBy, the history's actor).
    API_KEYS: JSON.stringify({
      [OPS_TOKEN]: { name: 'ops-1', scopes: ['orders:create', 'orders:read', 'orders:manage'] },
    }),
  };
}

const env = lifecycleEnvironment();
let api: AppProcess & { url: string };
let worker: AppProcess;
let events: Awaited<ReturnType<typeof collectOrderEvents>>;
let commands: EventPublisher;
let db: pg.Pool;

beforeAll(async () => {
  worker = await startWorkerProcess(env);
  api = await startApiProcess(env, await freePort());
  events = await collectOrderEvents(env.KAFKA_BROKERS!.split(','), topicsOf(env).events);
  commands = await createEventPublisher(createKafka(loadConfig(env), quiet), quiet);
  db = new pg.Pool({ connectionString: env.DATABASE_URL, max: 2 });
}, 120_000);

afterAll(async () => {
  // Its sweep every second is for this test only.
  const temporal = await connectTemporal(loadConfig(env));
  await temporal.client.schedule
    .getHandle(archiveScheduleOptions(loadConfig(env)).scheduleId)
    .delete()
    .catch(() => undefined);
  await temporal.close();
  await commands?.close();
  await events?.close();
  await Promise.all([api?.stop(), worker?.stop()]);
  await db?.end();
});

async function call<T = Order>(method: string, path: string, body?: unknown) {
  const response = await fetch(`${api.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${OPS_TOKEN}`,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as T };
}

const orderIn = (orderId: string, status: Order['status']) =>
  eventually(`order ${orderId} ${status}`, async () => {
    const { body } = await call('GET', `/orders/${orderId}`);
    return body.status === status ? body : undefined;
  });

/** The order's events on Kafka once `last` and every stored one arrived: each valid against the catalog, in one partition. */
async function eventStream(orderId: string, last: string): Promise<SeenEvent[]> {
  const distinct = () => [...new Map(events.ofOrder(orderId).map((event) => [event.headers.ce_id, event])).values()];
  await eventually(`${last} and every stored event of order ${orderId} on Kafka`, async () => {
    // Stored in the outbox, or in its archive once the order is archived and the event published.
    const { rows } = await db.query<{ n: number }>(
      `SELECT (SELECT count(*) FROM order_events WHERE order_id = $1)::int
              + (SELECT count(*) FROM order_events_archive WHERE order_id = $1)::int AS n`,
      [orderId],
    );
    const seen = distinct();
    return seen.some((event) => event.headers.ce_type === last) && seen.length === rows[0]?.n ? true : undefined;
  });
  const seen = distinct();
  for (const event of seen) expectValid(event.headers.ce_type as 'OrderCreated', event.payload);
  expect(new Set(seen.map((event) => event.partition)).size).toBe(1);
  return seen;
}

/** OrderStatusChanged: sequence 1, 2, 3… with no gap, and each change following the last. */
function expectStatusChain(seen: SeenEvent[], statuses: string[]) {
  const changes = seen.filter((event) => event.headers.ce_type === 'OrderStatusChanged').map((event) => event.payload);
  expect(changes.map((change) => change.sequence)).toEqual(statuses.slice(1).map((_, index) => index + 1));
  expect(changes.map((change) => `${change.previousStatus}→${change.newStatus}`)).toEqual(
    statuses.slice(1).map((status, index) => `${statuses[index]}→${status}`),
  );
}

/** SHA-256 of the record as it was when archived: the order at its terminal status, and its history before the archival. */
async function recomputedChecksum(orderId: string, archived: Order): Promise<string> {
  const { body } = await call<{ history: Record<string, unknown>[] }>('GET', `/orders/${orderId}/history`);
  const before = body.history.filter((change) => change.command !== 'archive');
  const archive = archived.archive as NonNullable<Order['archive']>;
  const order = { ...archived, status: archive.terminalStatus, updatedAt: archive.terminalAt, archive: null };
  const history = before.map((change) => ({ orderId, ...change }));
  return createHash('sha256').update(canonicalJson({ order, history })).digest('hex');
}

describe('the full lifecycle over HTTP', () => {
  it('CREATED → CONFIRMED → ON_HOLD (overdue) → AWAITING_FULFILMENT → FULFILLING → COMPLETED → ARCHIVED', async () => {
    const address = {
      recipientName: 'Ada L',
      line1: '1 Analytical Way',
      city: 'London',
      postalCode: 'N1 9GU',
      countryCode: 'GB',
    };
    const creation = { ...newCreateOrder(), deliveryAddress: address, deliveryMethod: 'HOME_DELIVERY' };
    const created = await call('POST', '/orders', creation);
    expect(created.status).toBe(201);
    const orderId = created.body.orderId;
    expect(created.body).toMatchObject({ deliveryAddress: address, addressRevision: 1, revision: 1 });
    // The same cart with another address is another order: refused, as any different body.
    const elsewhere = await call<{ code: string }>('POST', '/orders', {
      ...creation,
      deliveryAddress: { ...address, city: 'Leeds' },
    });
    expect(elsewhere).toMatchObject({ status: 409, body: { code: 'ORDER_CONFLICT' } });

    const amended = await call('PATCH', `/orders/${orderId}`, { promotionCode: 'WINTER', reason: 'customer asked' });
    expect(amended).toMatchObject({ status: 200, body: { status: 'CREATED', revision: 2, promotionCode: 'WINTER' } });
    // Checkout retrying its CreateOrder after the amendment still gets its order.
    const repeated = await call('POST', '/orders', creation);
    expect(repeated).toMatchObject({ status: 200, body: { orderId, revision: 2 } });
    const confirmed = await call('POST', `/orders/${orderId}/confirm`, { inventoryReservationId: 'inv-42' });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body).toMatchObject({ status: 'CONFIRMED', inventoryReservationId: 'inv-42' });
    expect(confirmed.body.confirmationNumber).toMatch(/^ORD-\d{8}$/);
    const moved = await call('PUT', `/orders/${orderId}/delivery-address`, {
      deliveryAddress: { ...address, postalCode: 'EC1A 1BB' },
    });
    expect(moved.body).toMatchObject({ addressRevision: 2, deliveryAddress: { postalCode: 'EC1A 1BB' } });

    const reviewBy = new Date(Date.now() + 1_000).toISOString();
    const held = await call('POST', `/orders/${orderId}/hold`, {
      reason: 'FRAUD_REVIEW',
      ownerTeam: 'risk',
      customerMessage: 'We are checking your order.',
      reviewBy,
    });
    expect(held.body).toMatchObject({ status: 'ON_HOLD', hold: { reason: 'FRAUD_REVIEW', overdue: false } });
    // Not allowed while held: 409 naming the status.
    const refused = await call<{ code: string; message: string }>('POST', `/orders/${orderId}/fulfilment`, {
      warehouseId: 'wh-1',
      priority: 'STANDARD',
      deliveryMethod: 'HOME_DELIVERY',
    });
    expect(refused).toMatchObject({ status: 409, body: { code: 'TRANSITION_NOT_ALLOWED' } });
    expect(refused.body.message).toContain('ON_HOLD');

    // reviewBy passes: the hold is overdue, and the listing of overdue holds finds the order.
    await eventually('the overdue hold', async () => {
      const { body } = await call('GET', `/orders/${orderId}`);
      return body.hold?.overdue === true ? true : undefined;
    });
    const overdue = await call<{ orders: Order[] }>('GET', '/orders?holdOverdue=true&limit=100');
    expect(overdue.body.orders.map((order) => order.orderId)).toContain(orderId);

    const released = await call('POST', `/orders/${orderId}/release`, {
      resolution: 'customer verified',
      nextStatus: 'AWAITING_FULFILMENT',
    });
    expect(released.body).toMatchObject({ status: 'AWAITING_FULFILMENT', hold: null });
    const fulfilling = await call('POST', `/orders/${orderId}/fulfilment`, {
      warehouseId: 'wh-1',
      priority: 'EXPEDITED',
      deliveryMethod: 'HOME_DELIVERY',
    });
    expect(fulfilling.body).toMatchObject({ status: 'FULFILLING', fulfilment: { warehouseId: 'wh-1', itemCount: 3 } });
    const completed = await call('POST', `/orders/${orderId}/complete`);
    expect(completed.body.status).toBe('COMPLETED');
    // Its workflow ended with its active life: no run stays open for the archival.
    const temporal = await connectTemporal(loadConfig(env));
    try {
      const run = temporal.client.workflow.getHandle(workflowIdForOrder(orderId));
      expect(await run.result()).toMatchObject({ status: 'COMPLETED' });
      expect((await run.describe()).status.name).toBe('COMPLETED');
    } finally {
      await temporal.close();
    }
    // A command to it answers from PostgreSQL, without a run: a repeat is 200, anything else 409.
    expect((await call('POST', `/orders/${orderId}/complete`)).status).toBe(200);
    expect((await call('POST', `/orders/${orderId}/cancel`, { reason: 'FRAUD' })).status).toBe(409);

    // ARCHIVE_AFTER_MS later the archive sweep archives it, never earlier; it stays readable.
    const archived = await orderIn(orderId, 'ARCHIVED');
    expect(Date.parse(archived.archive?.archivedAt ?? '')).toBeGreaterThanOrEqual(
      Date.parse(completed.body.completedAt ?? '') + 2000,
    );
    expect(archived.archive).toMatchObject({ terminalStatus: 'COMPLETED', retentionCategory: 'FINANCIAL_RECORD' });

    const seen = await eventStream(orderId, 'OrderArchived');
    const types = seen.map((event) => event.headers.ce_type);
    expect(types).toEqual([
      'OrderCreated',
      'OrderAmended',
      'OrderConfirmed',
      'OrderStatusChanged',
      'OrderDeliveryAddressChanged',
      'OrderPlacedOnHold',
      'OrderStatusChanged',
      'OrderHoldReleased',
      'OrderStatusChanged',
      'OrderFulfilmentStarted',
      'OrderStatusChanged',
      'OrderCompleted',
      'OrderStatusChanged',
      'OrderArchived',
      'OrderStatusChanged',
    ]);
    expectStatusChain(seen, [
      'CREATED',
      'CONFIRMED',
      'ON_HOLD',
      'AWAITING_FULFILMENT',
      'FULFILLING',
      'COMPLETED',
      'ARCHIVED',
    ]);
    const payload = (type: string) => seen.find((event) => event.headers.ce_type === type)?.payload;
    expect(payload('OrderAmended')).toMatchObject({
      revision: 2,
      changedFields: ['promotionCode'],
      amendedBy: 'api-key:ops-1',
    });
    expect(payload('OrderHoldReleased')).toMatchObject({ releasedBy: 'api-key:ops-1', previousReason: 'FRAUD_REVIEW' });
    expect(payload('OrderDeliveryAddressChanged')).toMatchObject({
      previousPostalCode: 'N1 9GU',
      changedBy: 'api-key:ops-1',
    });
    expect(payload('OrderArchived')?.recordChecksum).toBe(await recomputedChecksum(orderId, archived));

    const { body } = await call<{ history: { sequence: number; command: string; actor: string }[] }>(
      'GET',
      `/orders/${orderId}/history`,
    );
    expect(body.history.map(({ command, actor }) => `${command} by ${actor}`)).toEqual([
      'create by api-key:ops-1',
      'amend by api-key:ops-1',
      'confirm by api-key:ops-1',
      'changeDeliveryAddress by api-key:ops-1',
      'hold by api-key:ops-1',
      'release by api-key:ops-1',
      'startFulfilment by api-key:ops-1',
      'complete by api-key:ops-1',
      'archive by temporal:archive',
    ]);
    // Archived: its row moved to orders_archive (migration 0009), the overdue flag cleared with the hold.
    const { rows } = await db.query('SELECT hold_overdue FROM orders_archive WHERE order_id = $1', [orderId]);
    expect(rows[0]).toEqual({ hold_overdue: false });
  });

  it('closes the amendment window by itself: a confirmed order awaits fulfilment, then refuses amendments', async () => {
    const { body } = await call('POST', '/orders', newCreateOrder());
    await call('POST', `/orders/${body.orderId}/confirm`);
    await orderIn(body.orderId, 'AWAITING_FULFILMENT');
    const late = await call<{ code: string }>('PATCH', `/orders/${body.orderId}`, { promotionCode: 'LATE' });
    expect(late).toMatchObject({ status: 409, body: { code: 'TRANSITION_NOT_ALLOWED' } });
    const seen = await eventStream(body.orderId, 'OrderStatusChanged');
    expect(seen.map((event) => event.headers.ce_type)).toEqual([
      'OrderCreated',
      'OrderConfirmed',
      'OrderStatusChanged',
      'OrderStatusChanged',
    ]);
    await call('POST', `/orders/${body.orderId}/cancel`, { reason: 'CUSTOMER_REQUESTED' });
  });

  it('refuses bad input on every new route with the fields, and stores nothing', async () => {
    const { body } = await call('POST', '/orders', newCreateOrder());
    const orderId = body.orderId;
    const cases: [string, string, unknown, string][] = [
      ['POST', '/confirm', { inventoryReservationId: '' }, '/inventoryReservationId'],
      ['POST', '/hold', { reason: 'BORED', ownerTeam: 'x', reviewBy: '2030-01-01T00:00:00Z' }, '/reason'],
      ['POST', '/hold', { reason: 'FRAUD_REVIEW', ownerTeam: 'x', reviewBy: 'soon' }, '/reviewBy'],
      ['POST', '/release', { resolution: 'ok', nextStatus: 'COMPLETED' }, '/nextStatus'],
      ['POST', '/fulfilment', { warehouseId: 'w', priority: 'NOW', deliveryMethod: 'HOME_DELIVERY' }, '/priority'],
      ['PATCH', '', { items: [] }, '/items'],
      ['PATCH', '', { total: 5 }, '/total'],
      ['PUT', '/delivery-address', { deliveryAddress: { line1: 'x' } }, '/deliveryAddress'],
    ];
    for (const [method, path, payload, field] of cases) {
      const answer = await call<{ code: string; details: { field: string }[] }>(
        method,
        `/orders/${orderId}${path}`,
        payload,
      );
      expect(answer.status, `${method} ${path} ${JSON.stringify(payload)}`).toBe(400);
      expect(answer.body.code).toBe('VALIDATION_FAILED');
      expect(answer.body.details.map((detail) => detail.field).join(' ')).toContain(field);
    }
    const productId = randomUUID();
    const duplicate = await call<{ code: string; details: { code: string }[] }>('PATCH', `/orders/${orderId}`, {
      items: [
        { productId, quantity: 1, unitPrice: 1 },
        { productId, quantity: 2, unitPrice: 1 },
      ],
    });
    expect(duplicate.status).toBe(400);
    expect(duplicate.body.details.map((detail) => detail.code)).toContain('DUPLICATE_PRODUCT');
    const after = await call('GET', `/orders/${orderId}`);
    expect(after.body).toMatchObject({ status: 'CREATED', revision: 1 });
    const { rows } = await db.query('SELECT count(*)::int AS n FROM order_status_history WHERE order_id = $1', [
      orderId,
    ]);
    expect(rows[0]).toEqual({ n: 1 });
    await call('POST', `/orders/${orderId}/cancel`, { reason: 'CUSTOMER_REQUESTED' });
  });
});

describe('the full lifecycle over ordering.commands', () => {
  it('serves each command, naming who asked from ce_actor', async () => {
    const command = newCreateOrder();
    const orderId = orderIdForCart(command.cartId);
    const send = (type: string, payload: unknown) =>
      commands.publish(topicsOf(env).commands, {
        key: orderId,
        value: JSON.stringify(payload),
        headers: {
          ce_specversion: '1.0',
          ce_id: randomUUID(),
          ce_source: '/acme/warehouse',
          ce_type: type,
          ce_actor: 'warehouse-7',
          'content-type': 'application/json',
        },
      });
    await send('CreateOrder', command);
    await send('ConfirmOrder', { orderId });
    await send('PlaceOrderOnHold', {
      orderId,
      reason: 'INVENTORY_RECHECK',
      ownerTeam: 'warehouse',
      reviewBy: new Date(Date.now() + 3_600_000).toISOString(),
    });
    await send('ReleaseOrderHold', { orderId, resolution: 'stock found', nextStatus: 'AWAITING_FULFILMENT' });
    await send('StartFulfilment', {
      orderId,
      warehouseId: 'wh-7',
      priority: 'SAME_DAY',
      deliveryMethod: 'CLICK_AND_COLLECT',
    });
    await send('CompleteOrder', { orderId });
    await orderIn(orderId, 'ARCHIVED');
    const seen = await eventStream(orderId, 'OrderArchived');
    expectStatusChain(seen, [
      'CREATED',
      'CONFIRMED',
      'ON_HOLD',
      'AWAITING_FULFILMENT',
      'FULFILLING',
      'COMPLETED',
      'ARCHIVED',
    ]);
    expect(seen.find((event) => event.headers.ce_type === 'OrderHoldReleased')?.payload.releasedBy).toBe('warehouse-7');
  });
});
