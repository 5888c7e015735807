// The outbox sweeper on the real PostgreSQL and Kafka: an event left unpublished (say, its
// workflow was terminated between committing the state and publishing) goes out again, with
// its stored ce_id and bytes, and is marked published.
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { Order } from '../../src/contracts/schemas.js';
import { createDatabase, type Database } from '../../src/db/index.js';
import { createEventPublisher, createKafka, type EventPublisher } from '../../src/kafka/index.js';
import { createLogger } from '../../src/logger.js';
import { type PublishMetrics, startOutboxSweeper } from '../../src/outbox.js';
import { api } from '../support/api.js';
import { collectOrderEvents } from '../support/events.js';
import { newCreateOrder } from '../support/orders.js';
import { topicsOf } from '../support/stack.js';

let db: Database;
let publisher: EventPublisher;
let sql: pg.Pool;
let events: Awaited<ReturnType<typeof collectOrderEvents>>;

beforeAll(async () => {
  const config = loadConfig(inject('env'));
  const logger = createLogger(config, 'sweeper-test');
  db = createDatabase(config, logger);
  publisher = await createEventPublisher(createKafka(config, logger), logger);
  sql = new pg.Pool({ connectionString: config.DATABASE_URL, max: 2 });
  events = await collectOrderEvents(config.KAFKA_BROKERS.split(','), topicsOf(inject('env')).events);
});

afterAll(async () => {
  await events?.close();
  await publisher?.close();
  await db?.close();
  await sql?.end();
});

/** What the sweeper counted, as the worker's publish counters would. */
const counted: string[] = [];
const metrics: PublishMetrics = { published: (type) => counted.push(type), failed: () => counted.push('failed') };

/** One pass of a sweeper that republishes what stayed unpublished for over a minute. */
async function sweepOnce(): Promise<number> {
  const sweeper = startOutboxSweeper({
    db,
    publisher,
    topic: topicsOf(inject('env')).events,
    metrics,
    eventSource: '/acme/ordering/order-service',
    logger: createLogger(loadConfig(inject('env')), 'sweeper-test'),
    intervalMs: 600_000,
    olderThanMs: 60_000,
  });
  try {
    return await sweeper.sweep();
  } finally {
    await sweeper.stop();
  }
}

describe('outbox sweeper', () => {
  it('republishes an event left unpublished past the threshold, with the same ce_id and bytes', async () => {
    const created = await api<Order>('POST', '/orders', newCreateOrder());
    expect(created.status).toBe(201);
    const orderId = created.body.orderId;
    const [first] = await events.waitFor(orderId, 1);

    // As if the publish had never happened, two minutes ago.
    await sql.query(
      `UPDATE order_events SET published_at = NULL, created_at = now() - interval '2 minutes' WHERE order_id = $1`,
      [orderId],
    );

    counted.length = 0;
    expect(await sweepOnce()).toBeGreaterThanOrEqual(1);
    // The sweeper's publishes count like the workflow's.
    expect(counted).toContain('OrderCreated');

    const [original, again] = await events.waitFor(orderId, 2);
    expect(again?.headers.ce_id).toBe(first?.headers.ce_id);
    expect(again?.value).toBe(original?.value);
    expect(again?.key).toBe(orderId);
    const { rows } = await sql.query('SELECT published_at FROM order_events WHERE order_id = $1', [orderId]);
    expect(rows.every((row) => row.published_at !== null)).toBe(true);
  });

  it('leaves recent unpublished events to their workflows', async () => {
    const created = await api<Order>('POST', '/orders', newCreateOrder());
    const orderId = created.body.orderId;
    await events.waitFor(orderId, 1);
    await sql.query('UPDATE order_events SET published_at = NULL WHERE order_id = $1', [orderId]);
    await sweepOnce();
    const { rows } = await sql.query('SELECT published_at FROM order_events WHERE order_id = $1', [orderId]);
    expect(rows.map((row) => row.published_at)).toEqual([null]);
    // Put it back as published, so nothing else sweeps it later.
    await sql.query('UPDATE order_events SET published_at = now() WHERE order_id = $1', [orderId]);
  });
});
