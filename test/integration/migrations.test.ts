// Migration 0004 on a database holding orders of the first version: events already published
// keep their ids (consumers deduplicate by them), get the sequence of their transition, and the
// orders get their status history; afterwards one event type may occur many times per order.
import { randomUUID } from 'node:crypto';
import { runner } from 'node-pg-migrate';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { MIGRATIONS_DIR } from '../../src/db/migrate.js';
import { legacyEventIdFor } from '../../src/ids.js';

const name = `orders_migration_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
let admin: pg.Client;
let db: pg.Client;
let url: string;

async function migrate(count?: number) {
  await runner({
    databaseUrl: url,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    checkOrder: true,
    log: () => {},
    ...(count !== undefined && { count }),
  });
}

beforeAll(async () => {
  const testUrl = new URL(inject('env').DATABASE_URL as string);
  admin = new pg.Client({ connectionString: testUrl.href });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  url = Object.assign(new URL(testUrl.href), { pathname: `/${name}` }).href;
  db = new pg.Client({ connectionString: url });
  await db.connect();
});

afterAll(async () => {
  await db?.end();
  await admin?.query(`DROP DATABASE IF EXISTS ${name}`);
  await admin?.end();
});

describe('migration 0004: status history and event sequences', () => {
  it('keeps the ids of stored events, numbers them by transition and backfills the history', async () => {
    await migrate(3);
    const open = randomUUID();
    const completed = randomUUID();
    const cancelled = randomUUID();
    await db.query(
      `INSERT INTO orders (order_id, cart_id, customer_id, status, total_cents, currency, created_at, updated_at,
                           completed_at, cancelled_at, cancellation_reason)
       VALUES ($1, gen_random_uuid(), gen_random_uuid(), 'CREATED', 100, 'EUR', '2026-11-01T10:00:00Z', now(), NULL, NULL, NULL),
              ($2, gen_random_uuid(), gen_random_uuid(), 'COMPLETED', 100, 'EUR', '2026-11-01T10:00:00Z', now(),
               '2026-11-02T10:00:00Z', NULL, NULL),
              ($3, gen_random_uuid(), gen_random_uuid(), 'CANCELLED', 100, 'EUR', '2026-11-01T10:00:00Z', now(),
               NULL, '2026-11-03T10:00:00Z', 'FRAUD')`,
      [open, completed, cancelled],
    );
    const v1Events = [
      [open, 'OrderCreated'],
      [completed, 'OrderCreated'],
      [completed, 'OrderCompleted'],
      [cancelled, 'OrderCreated'],
      [cancelled, 'OrderCancelled'],
    ] as const;
    for (const [orderId, type] of v1Events) {
      await db.query(
        `INSERT INTO order_events (event_id, order_id, event_type, payload, occurred_at, published_at)
         VALUES ($1, $2, $3, '{}', now(), now())`,
        [legacyEventIdFor(orderId, type), orderId, type],
      );
    }

    await migrate();

    const { rows: stored } = await db.query('SELECT event_id, order_id, event_type, sequence FROM order_events');
    expect(stored).toHaveLength(5);
    for (const [orderId, type] of v1Events) {
      expect(stored).toContainEqual({
        event_id: legacyEventIdFor(orderId, type),
        order_id: orderId,
        event_type: type,
        sequence: type === 'OrderCreated' ? 0 : 1,
      });
    }
    const { rows: history } = await db.query(
      `SELECT order_id, sequence, command, from_status, to_status, reason, actor, occurred_at
         FROM order_status_history ORDER BY order_id, sequence`,
    );
    const of = (orderId: string) => history.filter((row) => row.order_id === orderId);
    expect(of(open)).toEqual([
      expect.objectContaining({ sequence: 0, command: 'create', from_status: null, to_status: 'CREATED' }),
    ]);
    expect(of(completed)).toEqual([
      expect.objectContaining({ sequence: 0, command: 'create' }),
      expect.objectContaining({
        sequence: 1,
        command: 'complete',
        from_status: 'CREATED',
        to_status: 'COMPLETED',
        occurred_at: new Date('2026-11-02T10:00:00Z'),
      }),
    ]);
    expect(of(cancelled)[1]).toMatchObject({ command: 'cancel', to_status: 'CANCELLED', reason: 'FRAUD' });

    // One event type may now occur again at a later transition, never twice at the same one.
    const again = `INSERT INTO order_events (event_id, order_id, sequence, event_type, payload, occurred_at)
                   VALUES (gen_random_uuid(), $1, $2, 'OrderCreated', '{}', now())`;
    await db.query(again, [open, 2]);
    await expect(db.query(again, [open, 2])).rejects.toMatchObject({ code: '23505' });
  });
});
