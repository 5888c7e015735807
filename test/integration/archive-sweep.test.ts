// The archive sweep's activity on the real PostgreSQL and Kafka, in a database of its own (a
// sweep archives every due order it finds): each ended order is archived once, even by two
// sweeps at once or after a v4 run archived it itself; never before ARCHIVE_AFTER_MS; with the
// same record, history row, events and checksum as the workflow's own archival had. Each order's
// rows move to the archive tables in its archival transaction (none is left in the hot ones), and
// its archival events follow once published (by the sweep, or by the outbox sweeper for events
// published later).
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createActivities } from '../../src/activities/index.js';
import { loadConfig } from '../../src/config.js';
import { createDatabase, type Database } from '../../src/db/index.js';
import { migrateDatabase } from '../../src/db/migrate.js';
import type { TransitionRequest } from '../../src/domain/lifecycle.js';
import { orderIdForCart } from '../../src/ids.js';
import { createEventPublisher, createKafka, type EventPublisher } from '../../src/kafka/index.js';
import { createLogger } from '../../src/logger.js';
import { type PublishMetrics, startOutboxSweeper } from '../../src/outbox.js';
import { collectOrderEvents } from '../support/events.js';
import { newCreateOrder } from '../support/orders.js';
import { topicsOf } from '../support/stack.js';

const HOUR = 3_600_000;
const name = `orders_archive_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
let admin: pg.Client;
let sql: pg.Pool;
let db: Database;
let publisher: EventPublisher;
let events: Awaited<ReturnType<typeof collectOrderEvents>>;
const metrics: PublishMetrics = { published: () => undefined, failed: () => undefined };

beforeAll(async () => {
  const env = inject('env');
  const { DATABASE_URL = '' } = env;
  admin = new pg.Client({ connectionString: DATABASE_URL });
  await admin.connect();
  // Databases earlier runs could not drop.
  const { rows } = await admin.query<{ datname: string }>(
    "SELECT datname FROM pg_database WHERE datname LIKE 'orders\\_archive\\_%'",
  );
  for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS ${datname}`).catch(() => undefined);
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(DATABASE_URL);
  url.pathname = `/${name}`;
  const config = loadConfig({ ...env, DATABASE_URL: url.href });
  await migrateDatabase(config.DATABASE_URL);
  db = createDatabase(config, createLogger(config, 'archive-test'));
  sql = new pg.Pool({ connectionString: config.DATABASE_URL, max: 2 });
  publisher = await createEventPublisher(createKafka(config, createLogger(config, 'archive-test')), {
    info() {},
    warn() {},
    error() {},
  });
  events = await collectOrderEvents(config.KAFKA_BROKERS.split(','), topicsOf(env).events);
});

afterAll(async () => {
  await events?.close();
  await publisher?.close();
  await db?.close();
  await sql?.end();
  // Without FORCE: terminating a session this process still holds would surface as an uncaught
  // error of its client. A database some session keeps open is left for the next run to drop.
  await admin?.query(`DROP DATABASE IF EXISTS ${name}`).catch(() => undefined);
  await admin?.end();
});

/** The activities as the worker has them, at a clock of the test's choosing. */
const activitiesAt = (now: () => Date) =>
  createActivities({ db, publisher, topic: topicsOf(inject('env')).events, eventSource: 'test', metrics, now });

/** An order taken to COMPLETED or CANCELLED by the activities the workflow calls. */
async function endedOrder(ending: TransitionRequest) {
  const activities = activitiesAt(() => new Date());
  const command = newCreateOrder();
  const orderId = orderIdForCart(command.cartId);
  const created = await activities.persistOrder({ orderId, command, actor: 'test' });
  await activities.persistOrderTransition({
    orderId,
    sequence: 1,
    from: created.order.status,
    request: ending,
    actor: 'test',
  });
  return orderId;
}

/** The archival history rows of the orders, wherever they are (hot or archive table). */
async function historyOf(orderIds: string[]) {
  const { rows } = await sql.query<{ order_id: string; command: string; actor: string; occurred_at: Date }>(
    `SELECT order_id, command, actor, occurred_at FROM order_status_history
      WHERE order_id = ANY($1::uuid[]) AND command = 'archive'
     UNION ALL
     SELECT order_id, command, actor, occurred_at FROM order_status_history_archive
      WHERE order_id = ANY($1::uuid[]) AND command = 'archive'`,
    [orderIds],
  );
  return rows;
}

const TABLES = ['orders', 'order_items', 'order_status_history', 'order_events'] as const;

/** The orders' rows in each hot table and in its archive table; events also counted unpublished. */
async function placeOf(orderIds: string[]) {
  const count = async (table: string, where = 'true') => {
    const { rows } = await sql.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM ${table} WHERE order_id = ANY($1::uuid[]) AND ${where}`,
      [orderIds],
    );
    return rows[0]?.n ?? 0;
  };
  const hot = Object.fromEntries(await Promise.all(TABLES.map(async (table) => [table, await count(table)])));
  const archived = Object.fromEntries(
    await Promise.all(TABLES.map(async (table) => [table, await count(`${table}_archive`)])),
  );
  const unpublished = await count('order_events', 'published_at IS NULL');
  return { hot, archived, unpublished };
}

describe('archiveDueOrders', () => {
  it('archives each due order once, even with two sweeps at once; never one before its ARCHIVE_AFTER_MS', async () => {
    const orderIds = await Promise.all(
      Array.from({ length: 12 }, (_, index) =>
        endedOrder(
          index % 3 === 0
            ? { command: 'cancel', payload: { reason: 'OUT_OF_STOCK' } }
            : { command: 'complete', payload: {} },
        ),
      ),
    );
    const input = { archiveAfterMs: HOUR, batchSize: 5 };
    const before = await placeOf(orderIds);
    expect(before.archived).toEqual({ orders: 0, order_items: 0, order_status_history: 0, order_events: 0 });

    // An hour has not passed: nothing is due.
    expect(await activitiesAt(() => new Date()).archiveDueOrders(input)).toEqual({
      archived: 0,
      skipped: 0,
      unpublished: 0,
    });
    expect(await historyOf(orderIds)).toEqual([]);

    // An hour later two sweeps run at once (a slow one overlapping its successor): one archival each.
    const later = () => new Date(Date.now() + HOUR + 60_000);
    const [first, second] = await Promise.all([
      activitiesAt(later).archiveDueOrders(input),
      activitiesAt(later).archiveDueOrders(input),
    ]);
    expect((first?.archived ?? 0) + (second?.archived ?? 0)).toBe(12);
    expect((first?.unpublished ?? 0) + (second?.unpublished ?? 0)).toBe(0);
    const archived = await historyOf(orderIds);
    expect(archived).toHaveLength(12);
    expect(new Set(archived.map((row) => row.order_id)).size).toBe(12);
    expect(archived.every((row) => row.actor === 'temporal:archive')).toBe(true);

    // A third finds nothing left.
    expect((await activitiesAt(later).archiveDueOrders(input)).archived).toBe(0);

    const { rows } = await sql.query<{ status: string; archive_terminal_status: string }>(
      `SELECT status, archive->>'terminalStatus' AS archive_terminal_status FROM orders_archive WHERE order_id = ANY($1::uuid[])`,
      [orderIds],
    );
    expect(rows).toHaveLength(12);
    expect(rows.every((row) => row.status === 'ARCHIVED')).toBe(true);

    // Every row moved to the archive tables; in order_events only what was never published (the
    // test wrote the orders without publishing), never the archival's own events, which the
    // sweep published and then moved.
    const after = await placeOf(orderIds);
    expect(after.hot).toEqual({ orders: 0, order_items: 0, order_status_history: 0, order_events: before.unpublished });
    expect(after.unpublished).toBe(before.unpublished);
    expect(after.archived).toEqual({
      orders: 12,
      order_items: before.hot.order_items,
      order_status_history: before.hot.order_status_history + 12,
      order_events: 24,
    });
    const { rows: moved } = await sql.query<{ event_type: string; published: boolean }>(
      `SELECT event_type, published_at IS NOT NULL AS published FROM order_events_archive
        WHERE order_id = ANY($1::uuid[]) AND sequence = 2`,
      [orderIds],
    );
    expect(moved.filter((row) => row.event_type === 'OrderArchived' && row.published)).toHaveLength(12);
    expect(rows.filter((row) => row.archive_terminal_status === 'CANCELLED')).toHaveLength(4);

    // One OrderArchived and one OrderStatusChanged to ARCHIVED on Kafka per order, each with its checksum
    // (the order's earlier events were never published here: the test called the activities directly).
    for (const orderId of orderIds) {
      const seen = await events.waitFor(orderId, 2);
      expect(seen.map((event) => event.headers.ce_type)).toEqual(['OrderArchived', 'OrderStatusChanged']);
      const archivedEvents = seen.filter((event) => event.headers.ce_type === 'OrderArchived');
      expect(archivedEvents).toHaveLength(1);
      expect(archivedEvents[0]?.payload.recordChecksum).toMatch(/^[0-9a-f]{64}$/);
      expect(seen.at(-1)).toMatchObject({
        headers: { ce_type: 'OrderStatusChanged' },
        payload: { newStatus: 'ARCHIVED' },
      });
    }

    // The outbox sweeper publishes what was left, and moves it: the hot tables hold nothing of them.
    const sweeper = startOutboxSweeper({
      db,
      logger: createLogger(loadConfig(inject('env')), 'archive-test'),
      intervalMs: HOUR,
      olderThanMs: 0,
      publisher,
      topic: topicsOf(inject('env')).events,
      eventSource: 'test',
      metrics,
    });
    try {
      expect(await sweeper.sweep()).toBe(before.unpublished);
    } finally {
      await sweeper.stop();
    }
    const swept = await placeOf(orderIds);
    expect(swept.hot).toEqual({ orders: 0, order_items: 0, order_status_history: 0, order_events: 0 });
    expect(swept.archived.order_events).toBe(before.hot.order_events + 24);
  });

  it('skips an order a v4 run archived itself, and a v4 run finds one the sweep archived as its own', async () => {
    const orderId = await endedOrder({ command: 'complete', payload: {} });
    const later = () => new Date(Date.now() + HOUR + 60_000);
    expect((await activitiesAt(later).archiveDueOrders({ archiveAfterMs: HOUR, batchSize: 10 })).archived).toBe(1);
    // The v4 run's own timer fires afterwards: its transition 2 is already the archival, so it is answered as done.
    const own = await activitiesAt(later).persistOrderTransition({
      orderId,
      sequence: 2,
      from: 'COMPLETED',
      request: { command: 'archive', payload: {} },
      actor: 'temporal:archive',
    });
    expect(own.order.status).toBe('ARCHIVED');
    expect(own.events.map((event) => event.type)).toEqual(['OrderArchived', 'OrderStatusChanged']);
    expect(await historyOf([orderId])).toHaveLength(1);
    expect((await placeOf([orderId])).hot).toMatchObject({ orders: 0, order_items: 0, order_status_history: 0 });
  });
});
