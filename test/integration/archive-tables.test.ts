// Archived orders live in the archive tables (migration 0009), on the integration suite's API,
// worker, PostgreSQL and Kafka. Each archive table has its hot table's columns (a column added to
// one only fails here). Two cancelled orders of one customer are archived (the archival
// transition, its rows moved in its transaction, its events published and then moved): no row of them
// is left in the hot tables; GET /orders/{id}, /history and /events answer as before with the
// archival added; the default listing leaves them out and ?archived=true lists them, page by
// page; a repeated CreateOrder of their cart answers 200 with the archived order, a different one
// 409, a command 409, all without a workflow; a lookup by id is at most two index probes. An event
// marked published while its order is being moved ends in the archive either way round.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { loadConfig } from '../../src/config.js';
import type { Order } from '../../src/contracts/schemas.js';
import { createDatabase, type Database } from '../../src/db/index.js';
import {
  findOrderQuery,
  findUnpublishedEvents,
  listOrdersQuery,
  markEventsPublished,
  moveOrdersToArchive,
} from '../../src/db/orders-repository.js';
import { orderIdForCart } from '../../src/ids.js';
import { createEventPublisher, createKafka, type EventPublisher } from '../../src/kafka/index.js';
import { createLogger } from '../../src/logger.js';
import { api } from '../support/api.js';
import { newCreateOrder } from '../support/orders.js';
import { topicsOf } from '../support/stack.js';
import { eventually } from '../support/wait.js';

const TABLES = ['orders', 'order_items', 'order_status_history', 'order_events'] as const;
const quiet = { info() {}, warn() {}, error() {} };

let sql: pg.Pool;
let db: Database;
let publisher: EventPublisher;

beforeAll(async () => {
  const config = loadConfig(inject('env'));
  // Two held open by the race test, and one for its checks.
  sql = new pg.Pool({ connectionString: config.DATABASE_URL, max: 4 });
  db = createDatabase(config, createLogger(config, 'archive-tables-test'));
  publisher = await createEventPublisher(createKafka(config, createLogger(config, 'archive-tables-test')), quiet);
});

afterAll(async () => {
  await publisher?.close();
  await db?.close();
  await sql?.end();
});

/** The activities as the worker has them, publishing to the suite's events topic. */
const activities = () =>
  createActivities({
    db,
    publisher,
    topic: topicsOf(inject('env')).events,
    eventSource: 'test',
    metrics: { published: () => undefined, failed: () => undefined },
  });

/**
 * The archival of one order as the sweep does it (the archival transition, its rows moved in the
 * same transaction), then its events published (which moves them too).
 */
async function archive(order: Order): Promise<void> {
  const archived = await activities().persistOrderTransition({
    orderId: order.orderId,
    sequence: 2,
    from: 'CANCELLED',
    request: { command: 'archive', payload: {} },
    actor: 'temporal:archive',
  });
  await activities().publishOrderEvents(archived.events.map((event) => event.eventId));
}

async function ok<T = Order>(method: string, path: string, body?: unknown): Promise<T> {
  const answer = await api<T>(method, path, body);
  expect(answer.status, `${method} ${path}: ${JSON.stringify(answer.body)}`).toBeLessThan(300);
  return answer.body;
}

/** The orders' rows in each hot table, and in each archive table. */
async function rowsOf(orderIds: string[]) {
  const count = async (table: string) =>
    (
      await sql.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${table} WHERE order_id = ANY($1::uuid[])`, [
        orderIds,
      ])
    ).rows[0]?.n ?? 0;
  const [orders = 0, items = 0, history = 0, events = 0] = await Promise.all(TABLES.map(count));
  const archived = await Promise.all(TABLES.map((table) => count(`${table}_archive`)));
  return { hot: { orders, order_items: items, order_status_history: history, order_events: events }, archived };
}

describe('archive tables', () => {
  it('each archive table has the columns of its hot table, in the same order, of the same types', async () => {
    const columns = async (table: string) =>
      (
        await sql.query<{ column: string }>(
          `SELECT column_name || ' ' || udt_name || ' ' || is_nullable AS column
             FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1
            ORDER BY ordinal_position`,
          [table],
        )
      ).rows.map((row) => row.column);
    for (const table of TABLES) {
      const hot = await columns(table);
      expect(hot.length, table).toBeGreaterThan(3);
      expect(await columns(`${table}_archive`), `${table}_archive`).toEqual(hot);
    }
  });

  const customerId = randomUUID();
  const commands = [newCreateOrder({ customerId }), newCreateOrder({ customerId })];
  const orders: Order[] = [];
  const before: { order: Order; history: unknown[]; events: { publishedAt: string | null }[] }[] = [];

  it('archived orders leave no row in the hot tables and read as before, with their archival added', async () => {
    for (const command of commands) {
      const created = await ok('POST', '/orders', command);
      await ok('POST', `/orders/${created.orderId}/cancel`, { reason: 'CUSTOMER_REQUESTED' });
      // Ended: a repeat answers 200 from PostgreSQL.
      expect((await api('POST', `/orders/${created.orderId}/cancel`, { reason: 'CUSTOMER_REQUESTED' })).status).toBe(
        200,
      );
      orders.push(await ok('GET', `/orders/${created.orderId}`));
    }
    for (const order of orders) {
      const path = `/orders/${order.orderId}`;
      // Every event published before the archival (the workflow publishes after each commit).
      const { events } = await eventually(`order ${order.orderId}'s events published`, async () => {
        const body = await ok<{ events: { publishedAt: string | null }[] }>('GET', `${path}/events`);
        return body.events.length > 0 && body.events.every((event) => event.publishedAt !== null) ? body : undefined;
      });
      const { history } = await ok<{ history: unknown[] }>('GET', `${path}/history`);
      before.push({ order: await ok('GET', path), history, events });
    }
    const orderIds = orders.map((order) => order.orderId);
    const { hot } = await rowsOf(orderIds);
    expect(hot).toMatchObject({ orders: 2, order_items: expect.any(Number) });

    for (const order of orders) await archive(order);

    const moved = await rowsOf(orderIds);
    expect(moved.hot).toEqual({ orders: 0, order_items: 0, order_status_history: 0, order_events: 0 });
    expect(moved.archived).toEqual([2, hot.order_items, hot.order_status_history + 2, hot.order_events + 4]);

    for (const [index, order] of orders.entries()) {
      const path = `/orders/${order.orderId}`;
      const was = before[index] as (typeof before)[number];
      const now = await ok('GET', path);
      expect(now.status).toBe('ARCHIVED');
      expect(now.archive).toMatchObject({ terminalStatus: 'CANCELLED' });
      expect({ ...now, status: was.order.status, updatedAt: was.order.updatedAt, archive: null }).toEqual(was.order);
      const { history } = await ok<{ history: { command: string }[] }>('GET', `${path}/history`);
      expect(history.slice(0, -1)).toEqual(was.history);
      expect(history.at(-1)?.command).toBe('archive');
      const { events } = await ok<{ events: { type: string; publishedAt: string | null }[] }>('GET', `${path}/events`);
      expect(events.slice(0, -2)).toEqual(was.events);
      expect(events.slice(-2).map((event) => event.type)).toEqual(['OrderArchived', 'OrderStatusChanged']);
      expect(events.every((event) => event.publishedAt !== null)).toBe(true);
    }
    expect((await api('GET', `/orders/${randomUUID()}`)).status).toBe(404);
  });

  it('the default listing leaves archived orders out; ?archived=true lists them, newest first, by keyset', async () => {
    expect((await ok<{ orders: Order[] }>('GET', `/orders?customerId=${customerId}`)).orders).toEqual([]);
    const first = await ok<{ orders: Order[]; nextCursor: string | null }>(
      'GET',
      `/orders?customerId=${customerId}&archived=true&limit=1`,
    );
    expect(first.orders.map((order) => order.orderId)).toEqual([orders[1]?.orderId]);
    expect(first.nextCursor).not.toBeNull();
    const second = await ok<{ orders: Order[]; nextCursor: string | null }>(
      'GET',
      `/orders?customerId=${customerId}&archived=true&limit=1&cursor=${first.nextCursor}`,
    );
    expect(second.orders.map((order) => order.orderId)).toEqual([orders[0]?.orderId]);
    expect(second.nextCursor).toBeNull();
    const all = await ok<{ orders: Order[] }>('GET', `/orders?customerId=${customerId}&archived=true&status=ARCHIVED`);
    expect(all.orders).toHaveLength(2);
    const cancelled = await ok<{ orders: Order[] }>(
      'GET',
      `/orders?customerId=${customerId}&archived=true&status=CANCELLED`,
    );
    expect(cancelled.orders).toEqual([]);
    expect((await api('GET', `/orders?archived=maybe`)).status).toBe(400);
  });

  it('a repeated CreateOrder answers 200 with the archived order, a different one 409; a command 409; nothing re-inserts it', async () => {
    const [command] = commands;
    const [order] = orders;
    const repeat = await api<Order>('POST', '/orders', command);
    expect(repeat.status).toBe(200);
    expect(repeat.body).toMatchObject({ orderId: order?.orderId, status: 'ARCHIVED' });
    const changed = await api('POST', '/orders', { ...command, customerId: randomUUID() });
    expect(changed.status).toBe(409);
    const cancel = await api('POST', `/orders/${order?.orderId}/cancel`, { reason: 'CUSTOMER_REQUESTED' });
    expect(cancel.status).toBe(409);
    expect(cancel.body.code).toBe('TRANSITION_NOT_ALLOWED');
    // A workflow started again for it (a create that got past the cart lookup) finds it archived
    // and inserts nothing: its id is never taken twice.
    const again = await activities().persistOrder({
      orderId: order?.orderId ?? '',
      command: command as NonNullable<typeof command>,
      actor: 'test',
    });
    expect(again.order.status).toBe('ARCHIVED');
    expect(again.unpublished).toEqual([]);
    expect((await rowsOf([order?.orderId ?? ''])).hot).toEqual({
      orders: 0,
      order_items: 0,
      order_status_history: 0,
      order_events: 0,
    });
  });

  it('an event marked published while its order is moved ends in the archive, whichever commits first', async () => {
    /** A cancelled order written by the activities, none of its events published, and their ids. */
    const unpublishedOrder = async () => {
      const command = newCreateOrder();
      const orderId = orderIdForCart(command.cartId);
      await activities().persistOrder({ orderId, command, actor: 'test' });
      await activities().persistOrderTransition({
        orderId,
        sequence: 1,
        from: 'CREATED',
        request: { command: 'cancel', payload: { reason: 'CUSTOMER_REQUESTED' } },
        actor: 'test',
      });
      const eventIds = (await findUnpublishedEvents(db, orderId)).map((event) => event.eventId);
      expect(eventIds.length).toBeGreaterThan(1);
      return { orderId, eventIds };
    };
    /** Begins the archival of the order on `client`: ARCHIVED (as the transition leaves it), then the move. */
    const archiveOn = async (client: pg.PoolClient, orderId: string) => {
      await client.query('BEGIN');
      await client.query(`UPDATE orders SET status = 'ARCHIVED', archive = '{}' WHERE order_id = $1`, [orderId]);
      return moveOrdersToArchive(client, [orderId]);
    };
    /** Resolves once a statement starting with `sql` waits for a lock. */
    const waitingOnLock = (sqlStart: string) =>
      eventually(`${sqlStart} waiting for a lock`, async () => {
        const { rows } = await sql.query(
          "SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND starts_with(ltrim(query), $1)",
          [sqlStart],
        );
        return rows.length > 0 ? true : undefined;
      });
    const eventsOf = async (orderId: string) => {
      const { rows } = await sql.query<{ hot: number; archived: number; unpublished: number }>(
        `SELECT (SELECT count(*) FROM order_events WHERE order_id = $1)::int AS hot,
                (SELECT count(*) FROM order_events_archive WHERE order_id = $1)::int AS archived,
                (SELECT count(*) FROM order_events_archive WHERE order_id = $1 AND published_at IS NULL)::int AS unpublished`,
        [orderId],
      );
      return rows[0];
    };
    const mover = await sql.connect();
    const marker = await sql.connect();
    try {
      // The move first: the marking waits for its lock, then finds the order gone and moves the events.
      const first = await unpublishedOrder();
      expect(await archiveOn(mover, first.orderId)).toBe(1);
      const marking = markEventsPublished(db, first.eventIds);
      await waitingOnLock('UPDATE order_events SET published_at');
      await mover.query('COMMIT');
      await marking;
      expect(await eventsOf(first.orderId)).toEqual({ hot: 0, archived: first.eventIds.length, unpublished: 0 });

      // The marking first, its transaction still open (the outbox sweeper's): the move waits for it,
      // then sees the events published and moves them.
      const second = await unpublishedOrder();
      await marker.query('BEGIN');
      await markEventsPublished(marker, second.eventIds);
      const moving = archiveOn(mover, second.orderId);
      await waitingOnLock('SELECT count(*) FROM (SELECT 1 FROM order_events');
      await marker.query('COMMIT');
      expect(await moving).toBe(1);
      await mover.query('COMMIT');
      expect(await eventsOf(second.orderId)).toEqual({ hot: 0, archived: second.eventIds.length, unpublished: 0 });
    } finally {
      await mover.query('ROLLBACK').catch(() => undefined);
      await marker.query('ROLLBACK').catch(() => undefined);
      mover.release();
      marker.release();
    }
  });

  it('finds an order by id in the hot table first, in the archive only once archived, each by an index; lists the archive by its index', async () => {
    const hotOrder = await ok('POST', '/orders', newCreateOrder());
    const client = await sql.connect();
    try {
      await client.query('BEGIN');
      // A small test table would be read whole: with scans priced out, the plan shows the indexes.
      await client.query('SET LOCAL enable_seqscan = off');
      await client.query('SET LOCAL enable_bitmapscan = off');
      await client.query('SET LOCAL enable_sort = off');
      /**
       * The order scans of the plan (not the items' subplans) as `table:loops:rows`. Which index
       * of a test-sized table the planner takes varies with its statistics (a clean clone's
       * chose orders_status_created_keyset once); what is checked is that both are index scans,
       * the hot table's first, and the archive's never run for a hot order.
       */
      const probes = async (orderId: string) => {
        const { text, values } = findOrderQuery(orderId);
        const { rows } = await client.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, values);
        const found: string[] = [];
        const walk = (node: Record<string, any>) => {
          if (node['Parent Relationship'] === 'SubPlan') return;
          if (/Scan/.test(node['Node Type'])) {
            expect(node['Node Type']).toMatch(/^Index (Only )?Scan$/);
            found.push(`${node['Relation Name']}:${node['Actual Loops']}:${node['Actual Rows']}`);
          }
          for (const child of node.Plans ?? []) walk(child);
        };
        walk(rows[0]['QUERY PLAN'][0].Plan);
        return found;
      };
      expect(await probes(hotOrder.orderId)).toEqual(['orders:1:1', 'orders_archive:0:0']);
      expect(await probes(orders[0]?.orderId ?? '')).toEqual(['orders:1:0', 'orders_archive:1:1']);
      const { text, values } = listOrdersQuery({ customerId, archived: true, limit: 21 });
      const { rows } = await client.query(`EXPLAIN ${text}`, values);
      const plan = rows.map((row) => row['QUERY PLAN'] as string).join('\n');
      expect(plan.split('SubPlan')[0]).toMatch(/Index Scan using orders_archive_customer_created_keyset/);
      expect(plan.split('SubPlan')[0]).not.toMatch(/Sort/);
    } finally {
      await client.query('ROLLBACK');
      client.release();
    }
  });
});
