// Erasure of a customer's personal data over HTTP, on the integration suite's API, worker,
// PostgreSQL and Kafka. One customer's orders carry a name, addresses, a hold's message, an
// amendment reason and a release resolution: one completed through every step, one cancelled and
// archived (its rows moved to the archive tables by its archival), one whose events were never published (written by the activities, no workflow), and
// one still open. The erasure is refused (409, naming the open order) until that order ends; then
// the orders, their history, every stored event and the archive hold none of it, while amounts,
// items, dates and statuses are as they were; the archive keeps its checksum beside the checksum of
// the erased record; every request is audited; a repeat answers the same; and a CustomerDataErased
// per order arrives on Kafka, after the order's other events.
import { createHash, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { canonicalJson, createActivities } from '../../src/activities/index.js';
import { loadConfig } from '../../src/config.js';
import { CustomerDataErased, type Order } from '../../src/contracts/schemas.js';
import { createExactAjv } from '../../src/contracts/validation.js';
import { createDatabase, type Database } from '../../src/db/index.js';
import { findOrder, findStatusHistory } from '../../src/db/orders-repository.js';
import { archivedRecordOf, ERASED_MARKER } from '../../src/domain/customer-erasure.js';
import type { TransitionRequest } from '../../src/domain/lifecycle.js';
import { orderIdForCart } from '../../src/ids.js';
import { createLogger } from '../../src/logger.js';
import { api } from '../support/api.js';
import {
  PRIVATE_ADDRESS,
  PRIVATE_ADDRESS_MOVED,
  PRIVATE_AMENDMENT_REASON,
  PRIVATE_MESSAGE,
  PRIVATE_RESOLUTION,
  privateStringsIn,
} from '../support/customer-data.js';
import { collectOrderEvents } from '../support/events.js';
import { newCreateOrder } from '../support/orders.js';
import { TOKENS, topicsOf } from '../support/stack.js';
import { eventually } from '../support/wait.js';

const customerId = randomUUID();
const ALL_ACTOR = `api-key:${createHash('sha256').update(TOKENS.all).digest('hex').slice(0, 12)}`;
const sha256 = (value: unknown) => createHash('sha256').update(canonicalJson(value)).digest('hex');
const hold = {
  reason: 'PAYMENT_REVIEW',
  ownerTeam: 'payments-ops',
  customerMessage: PRIVATE_MESSAGE,
  reviewBy: new Date(Date.now() + 86_400_000).toISOString(),
};

let sql: pg.Pool;
let db: Database;
let events: Awaited<ReturnType<typeof collectOrderEvents>>;
const ids = { completed: '', archived: '', unpublished: '', open: '' };

/** The activities as the worker has them; only used to write orders without a workflow and to archive one now. */
const activities = () =>
  createActivities({
    db,
    publisher: {
      publish: () => Promise.reject(new Error('this test publishes nothing through the activities')),
      close: async () => undefined,
    },
    topic: topicsOf(inject('env')).events,
    eventSource: 'test',
    metrics: { published: () => undefined, failed: () => undefined },
  });

beforeAll(async () => {
  const env = inject('env');
  const config = loadConfig(env);
  sql = new pg.Pool({ connectionString: config.DATABASE_URL, max: 2 });
  db = createDatabase(config, createLogger(config, 'erasure-test'));
  events = await collectOrderEvents(config.KAFKA_BROKERS.split(','), topicsOf(env).events);
});

afterAll(async () => {
  await events?.close();
  await db?.close();
  await sql?.end();
});

async function ok(method: string, path: string, body?: unknown): Promise<Order> {
  const answer = await api<Order>(method, path, body);
  expect(answer.status, `${method} ${path}: ${JSON.stringify(answer.body)}`).toBeLessThan(300);
  return answer.body;
}

const erase = (headers: Record<string, string> = {}, id: string = customerId) =>
  api('POST', `/customers/${id}/erasure`, undefined, headers);

/** Everything stored about the customer's orders, as rows (JSON), by table, hot and archive tables together. */
async function stored(orderIds: string[]) {
  const rows = async (query: string) => (await sql.query(query, [orderIds])).rows as Record<string, unknown>[];
  const both = (table: string) =>
    `SELECT * FROM ${table} WHERE order_id = ANY($1::uuid[])
     UNION ALL SELECT * FROM ${table}_archive WHERE order_id = ANY($1::uuid[])`;
  const orders = (table: string, items: string) =>
    `SELECT o.*, (SELECT json_agg(i ORDER BY i.line_number) FROM ${items} i WHERE i.order_id = o.order_id) AS items
       FROM ${table} o WHERE order_id = ANY($1::uuid[])`;
  return {
    orders: await rows(
      `${orders('orders', 'order_items')} UNION ALL ${orders('orders_archive', 'order_items_archive')} ORDER BY created_at`,
    ),
    history: await rows(`${both('order_status_history')} ORDER BY order_id, sequence`),
    events: await rows(`${both('order_events')} ORDER BY order_id, sequence, position`),
  };
}

/** The order's rows in the hot tables (events: published ones only), and in the archive tables. */
async function placeOf(orderId: string) {
  const { rows } = await sql.query<{ hot: number; archived: number }>(
    `SELECT (SELECT count(*) FROM orders WHERE order_id = $1) + (SELECT count(*) FROM order_items WHERE order_id = $1)
            + (SELECT count(*) FROM order_status_history WHERE order_id = $1)
            + (SELECT count(*) FROM order_events WHERE order_id = $1 AND published_at IS NOT NULL) AS hot,
            (SELECT count(*) FROM orders_archive WHERE order_id = $1) AS archived`,
    [orderId],
  );
  return { hot: Number(rows[0]?.hot), archived: Number(rows[0]?.archived) };
}

/** What bookkeeping keeps of an order row: everything but the personal columns and what an archival changes. */
function bookkeeping(row: Record<string, unknown>) {
  const { delivery_address: _address, hold: _hold, status, archive, updated_at: _updated, ...kept } = row;
  return { ...kept, ended: status === 'ARCHIVED' ? (archive as { terminalStatus: string }).terminalStatus : status };
}

describe('POST /customers/{customerId}/erasure', () => {
  it('sets up one customer’s orders: completed, cancelled and archived, unpublished, open', async () => {
    // Completed over HTTP through every step that carries free text.
    const created = await ok('POST', '/orders', {
      ...newCreateOrder({ customerId }),
      deliveryMethod: 'HOME_DELIVERY',
      deliveryAddress: PRIVATE_ADDRESS,
    });
    ids.completed = created.orderId;
    const path = `/orders/${ids.completed}`;
    await ok('PATCH', path, { promotionCode: 'WINTER', reason: PRIVATE_AMENDMENT_REASON });
    await ok('POST', `${path}/confirm`, {});
    await ok('POST', `${path}/hold`, hold);
    await ok('POST', `${path}/release`, { resolution: PRIVATE_RESOLUTION, nextStatus: 'CONFIRMED' });
    await ok('PUT', `${path}/delivery-address`, { deliveryAddress: PRIVATE_ADDRESS_MOVED });
    expect((await ok('POST', `${path}/complete`)).status).toBe('COMPLETED');

    // Cancelled over HTTP, then archived now (the archival the sweep does ARCHIVE_AFTER_MS later).
    const cancelled = await ok('POST', '/orders', {
      ...newCreateOrder({ customerId }),
      deliveryAddress: PRIVATE_ADDRESS,
    });
    ids.archived = cancelled.orderId;
    await ok('POST', `/orders/${ids.archived}/hold`, hold);
    await ok('POST', `/orders/${ids.archived}/cancel`, { reason: 'CUSTOMER_REQUESTED' });
    await activities().persistOrderTransition({
      orderId: ids.archived,
      sequence: 3,
      from: 'CANCELLED',
      request: { command: 'archive', payload: {} },
      actor: 'temporal:archive',
    });
    // Moved to the archive tables by its archival, before the erasure (its archival events stay in
    // the outbox, unpublished here, until the erasure publishes them).
    expect(await placeOf(ids.archived)).toEqual({ hot: 0, archived: 1 });

    // Written by the activities without a workflow: none of its events is published yet.
    const command = { ...newCreateOrder({ customerId }), deliveryAddress: PRIVATE_ADDRESS };
    ids.unpublished = orderIdForCart(command.cartId);
    const transition = (sequence: number, from: Order['status'], request: TransitionRequest) =>
      activities().persistOrderTransition({ orderId: ids.unpublished, sequence, from, request, actor: 'test' });
    await activities().persistOrder({ orderId: ids.unpublished, command, actor: 'test' });
    await transition(1, 'CREATED', {
      command: 'changeDeliveryAddress',
      payload: { deliveryAddress: PRIVATE_ADDRESS_MOVED },
    });
    await transition(2, 'CREATED', { command: 'hold', payload: hold } as TransitionRequest);
    await transition(3, 'ON_HOLD', {
      command: 'release',
      payload: { resolution: PRIVATE_RESOLUTION, nextStatus: 'CONFIRMED' },
    });
    await transition(4, 'CONFIRMED', { command: 'cancel', payload: { reason: 'OUT_OF_STOCK' } });

    // Still open.
    ids.open = (
      await ok('POST', '/orders', { ...newCreateOrder({ customerId }), deliveryAddress: PRIVATE_ADDRESS })
    ).orderId;

    const { rows } = await sql.query(
      'SELECT count(*)::int AS n FROM order_events WHERE order_id = $1 AND published_at IS NULL',
      [ids.unpublished],
    );
    expect(rows[0].n).toBeGreaterThanOrEqual(8);
  });

  it('needs a token with orders:manage: 401 without one, 403 with a read token; a malformed id is 400', async () => {
    expect((await fetch(`${inject('apiUrl')}/customers/${customerId}/erasure`, { method: 'POST' })).status).toBe(401);
    expect((await erase({ authorization: `Bearer ${TOKENS.read}` })).status).toBe(403);
    expect((await erase({ authorization: `Bearer ${TOKENS.create}` })).status).toBe(403);
    const malformed = await erase({}, 'not-a-customer');
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe('VALIDATION_FAILED');
    const hostile = await erase({}, `${'%00'.repeat(40)}`);
    expect(hostile.status).toBeGreaterThanOrEqual(400);
    expect(hostile.status).toBeLessThan(500);
  });

  it('refuses with 409 CUSTOMER_HAS_OPEN_ORDERS, naming the open order, and erases nothing', async () => {
    const before = await stored(Object.values(ids));
    const refused = await erase();
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('CUSTOMER_HAS_OPEN_ORDERS');
    expect(refused.body.message).toContain(ids.open);
    expect(refused.body.details).toEqual([
      { field: `/orders/${ids.open}`, code: 'ORDER_OPEN', message: `order ${ids.open} is CREATED` },
    ]);
    const after = await stored(Object.values(ids));
    expect(after.orders.map((row) => row.delivery_address)).toEqual(before.orders.map((row) => row.delivery_address));
    expect(after.events.length).toBe(before.events.length);
  });

  const snapshot: { before?: Awaited<ReturnType<typeof stored>>; archivedChecksum?: string; result?: any } = {};

  it('once every order ended, erases them all: no name, address, message or reason is left in any row', async () => {
    await ok('POST', `/orders/${ids.open}/cancel`, { reason: 'CUSTOMER_REQUESTED' });
    const orderIds = Object.values(ids);
    const before = await stored(orderIds);
    snapshot.before = before;
    expect(privateStringsIn(JSON.stringify(before))).not.toEqual([]);
    // The archive's checksum covers the record as archived: recomputed from it before the erasure.
    const archived = (await findOrder(db, ids.archived)) as Order;
    snapshot.archivedChecksum = archived.archive?.recordChecksum;
    expect(sha256(archivedRecordOf(archived, await findStatusHistory(db, ids.archived)))).toBe(
      snapshot.archivedChecksum,
    );

    const answer = await erase();
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    expect(answer.body).toMatchObject({
      customerId,
      orderIds: [ids.completed, ids.archived, ids.unpublished, ids.open],
    });
    expect(answer.body.erasureId).toMatch(/^[0-9a-f-]{36}$/);
    snapshot.result = answer.body;

    const after = await stored(orderIds);
    expect(privateStringsIn(JSON.stringify(after))).toEqual([]);
    // Amounts, items, dates and statuses as they were (an order another test's sweep archived meanwhile keeps its ending).
    expect(after.orders.map(bookkeeping)).toEqual(before.orders.map(bookkeeping));
    const completed = after.orders.find((row) => row.order_id === ids.completed);
    expect(completed?.delivery_address).toEqual({
      recipientName: ERASED_MARKER,
      line1: ERASED_MARKER,
      city: ERASED_MARKER,
      postalCode: ERASED_MARKER,
      countryCode: PRIVATE_ADDRESS_MOVED.countryCode,
    });
    // The history keeps every row, its codes, and the marker in place of free text (rows another
    // test's archive sweep may add meanwhile left out).
    const earlier = (rows: Record<string, unknown>[]) =>
      rows.filter(
        (row) =>
          row.command !== 'archive' ||
          before.history.some((old) => old.sequence === row.sequence && old.order_id === row.order_id),
      );
    expect(earlier(after.history).map(({ reason: _reason, ...row }) => row)).toEqual(
      before.history.map(({ reason: _reason, ...row }) => row),
    );
    const reasons = earlier(after.history)
      .filter((row) => row.order_id === ids.completed)
      .map((row) => row.reason);
    expect(reasons).toEqual([null, ERASED_MARKER, null, 'PAYMENT_REVIEW', ERASED_MARKER, null, null]);
    // Every event is still there with its id, type and time; one CustomerDataErased per order more.
    const erasedEvents = after.events.filter((row) => row.event_type === 'CustomerDataErased');
    expect(erasedEvents.map((row) => row.order_id).sort()).toEqual([...orderIds].sort());
    const kept = (rows: Record<string, unknown>[]) =>
      rows
        .filter((row) => row.event_type !== 'CustomerDataErased')
        .map(({ event_id, event_type, occurred_at }) => ({ event_id, event_type, occurred_at }));
    expect(kept(after.events)).toEqual(expect.arrayContaining(kept(before.events)));
    // Each CustomerDataErased comes after every event its order had.
    const place = (row: Record<string, unknown>) => Number(row.sequence) * 1000 + Number(row.position);
    for (const row of erasedEvents) {
      const older = before.events.filter((old) => old.order_id === row.order_id).map(place);
      expect(place(row), String(row.order_id)).toBeGreaterThan(Math.max(...older));
    }
  });

  it('keeps the archive’s checksum, and records it beside the checksum of the erased record', async () => {
    const archived = (await findOrder(db, ids.archived)) as Order;
    expect(archived.archive?.recordChecksum).toBe(snapshot.archivedChecksum);
    const { rows } = await sql.query(
      'SELECT erasure_id, archived_record_checksum, erased_record_checksum FROM customer_erased_orders WHERE order_id = ANY($1::uuid[])',
      [Object.values(ids)],
    );
    expect(rows).toHaveLength(4);
    expect(new Set(rows.map((row) => row.erasure_id))).toEqual(new Set([snapshot.result.erasureId]));
    const row = rows.find((candidate) => candidate.archived_record_checksum !== null);
    expect(row?.archived_record_checksum).toBe(snapshot.archivedChecksum);
    const erasedChecksum = sha256(archivedRecordOf(archived, await findStatusHistory(db, ids.archived)));
    expect(row?.erased_record_checksum).toBe(erasedChecksum);
    expect(erasedChecksum).not.toBe(snapshot.archivedChecksum);
  });

  it('answers a repeat with the same result and does nothing twice; every request is audited', async () => {
    const eventsBefore = (await stored(Object.values(ids))).events.length;
    const repeat = await erase({ authorization: `Bearer ${TOKENS.manage}` });
    expect(repeat.status).toBe(200);
    expect(repeat.body).toEqual(snapshot.result);
    expect((await stored(Object.values(ids))).events.length).toBe(eventsBefore);

    const { rows } = await sql.query(
      `SELECT erasure_id, requested_by, outcome, order_count, order_ids, answered_with
         FROM customer_erasures WHERE customer_id = $1 ORDER BY requested_at`,
      [customerId],
    );
    expect(rows.map((row) => [row.outcome, row.order_count])).toEqual([
      ['REFUSED_OPEN_ORDERS', 1],
      ['ERASED', 4],
      ['ALREADY_ERASED', 0],
    ]);
    expect(rows[0].order_ids).toEqual([ids.open]);
    expect(rows[1].erasure_id).toBe(snapshot.result.erasureId);
    expect(rows[1].requested_by).toBe(ALL_ACTOR);
    expect(rows[2].answered_with).toBe(snapshot.result.erasureId);
    expect(rows[2].requested_by).toMatch(/^api-key:[0-9a-f]{12}$/);
  });

  it('publishes CustomerDataErased per order on Kafka, after the order’s own events, all free of personal data', async () => {
    const validate = createExactAjv().compile(CustomerDataErased);
    for (const orderId of Object.values(ids)) {
      const seen = await eventually(`CustomerDataErased of order ${orderId} on Kafka`, () => {
        const ofOrder = events.ofOrder(orderId);
        return ofOrder.some((event) => event.headers.ce_type === 'CustomerDataErased') ? ofOrder : undefined;
      });
      const erased = seen.filter((event) => event.headers.ce_type === 'CustomerDataErased');
      expect(new Set(erased.map((event) => event.headers.ce_id)).size).toBe(1);
      const [event] = erased;
      expect(event?.headers.ce_subject).toBe(orderId);
      expect(validate(event?.payload), JSON.stringify(validate.errors)).toBe(true);
      expect(event?.payload).toMatchObject({
        orderId,
        customerId,
        erasureId: snapshot.result.erasureId,
        marker: ERASED_MARKER,
      });
    }
    // The order whose events waited in the outbox: published with the erasure, erased, in their order, the erasure last.
    const unpublished = events.ofOrder(ids.unpublished);
    expect(unpublished.at(-1)?.headers.ce_type).toBe('CustomerDataErased');
    expect(unpublished.map((event) => event.headers.ce_type)).toEqual(
      expect.arrayContaining(['OrderCreated', 'OrderDeliveryAddressChanged', 'OrderPlacedOnHold', 'OrderHoldReleased']),
    );
    expect(privateStringsIn(unpublished.map((event) => event.value).join('\n'))).toEqual([]);
    const { rows } = await sql.query(
      'SELECT count(*)::int AS n FROM order_events WHERE order_id = $1 AND published_at IS NULL',
      [ids.unpublished],
    );
    expect(rows[0].n).toBe(0);
    // The archived order's events, its CustomerDataErased too, moved to the archive once published.
    await eventually('the archived order’s events all in the archive', async () =>
      (await placeOf(ids.archived)).hot === 0 &&
      (await sql.query('SELECT 1 FROM order_events WHERE order_id = $1', [ids.archived])).rows.length === 0
        ? true
        : undefined,
    );
    const archivedEvents = (await stored([ids.archived])).events;
    expect(archivedEvents.map((row) => row.event_type)).toContain('CustomerDataErased');
    expect(archivedEvents.every((row) => row.published_at !== null)).toBe(true);
  });
});
