// Scenario h of the fault suite: the archive sweep over due orders, with the worker SIGKILLed and
// PostgreSQL restarted in the middle of its batch. Its orders are loaded straight into PostgreSQL
// (ended long ago, as the service leaves them) under a customer of their own, so the check sees
// only them: each ARCHIVED exactly once, its OrderArchived written once and published.
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { eventsOfCommand } from '../../src/domain/lifecycle.js';

/** The customer every order of this run of the scenario belongs to (no other order has it). */
export const ARCHIVE_CUSTOMER = randomUUID();

/** Loads `count` orders that ended 200 days ago: two items, their create and ending history, events published. */
export async function loadDueOrders(db: pg.Pool, count: number): Promise<void> {
  await db.query(
    `WITH loaded AS (
       INSERT INTO orders (order_id, cart_id, customer_id, status, total_cents, currency, created_at, updated_at,
                           completed_at, cancelled_at, cancellation_reason)
       SELECT gen_random_uuid(), gen_random_uuid(), $2::uuid,
              CASE WHEN i % 3 = 0 THEN 'CANCELLED' ELSE 'COMPLETED' END,
              2000, 'EUR', ended - interval '1 hour', ended,
              CASE WHEN i % 3 <> 0 THEN ended END,
              CASE WHEN i % 3 = 0 THEN ended END,
              CASE WHEN i % 3 = 0 THEN 'CUSTOMER_REQUESTED' END
         FROM generate_series(1, $1::int) AS i,
              LATERAL (SELECT now() - interval '200 days' - make_interval(secs => i) AS ended) AS times
       RETURNING order_id, status, created_at, updated_at, cancellation_reason
     ), items AS (
       INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents, line_number)
       SELECT order_id, md5(order_id::text || line)::uuid, 1, 1000, line FROM loaded, generate_series(1, 2) AS line
     ), history AS (
       INSERT INTO order_status_history (order_id, sequence, command, from_status, to_status, reason, actor, occurred_at)
       SELECT order_id, 0, 'create', NULL, 'CREATED', NULL, 'faults', created_at FROM loaded
       UNION ALL
       SELECT order_id, 1, CASE status WHEN 'COMPLETED' THEN 'complete' ELSE 'cancel' END, 'CREATED', status,
              cancellation_reason, 'faults', updated_at FROM loaded
     )
     INSERT INTO order_events (event_id, order_id, sequence, event_type, payload, occurred_at, position, published_at)
     SELECT gen_random_uuid(), order_id, 0, 'OrderCreated', json_build_object('orderId', order_id)::text,
            created_at, 0, created_at FROM loaded
     UNION ALL
     SELECT gen_random_uuid(), l.order_id, 1, e.type, json_build_object('orderId', l.order_id)::text,
            l.updated_at, e.position - 1, l.updated_at
       FROM loaded l,
            unnest(CASE l.status WHEN 'COMPLETED' THEN $3::text[] ELSE $4::text[] END) WITH ORDINALITY AS e(type, position)`,
    [count, ARCHIVE_CUSTOMER, eventsOfCommand('complete'), eventsOfCommand('cancel')],
  );
}

/** Orders of the scenario archived so far (moved to orders_archive in their archival transaction). */
export async function countArchived(db: pg.Pool): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM orders_archive WHERE customer_id = $1',
    [ARCHIVE_CUSTOMER],
  );
  return rows[0]?.n ?? 0;
}

/** What the check finds: orders not archived, archived more than once, OrderArchived events unpublished. */
export async function checkArchival(db: pg.Pool) {
  const { rows } = await db.query<{ orders: number; notArchived: number; extra: number; unpublished: number }>(
    // Hot and archive tables (migration 0009): an archived order left in the hot table is not archived.
    `WITH mine AS (SELECT order_id, status, true AS hot FROM orders WHERE customer_id = $1
                   UNION ALL SELECT order_id, status, false FROM orders_archive WHERE customer_id = $1),
          history AS (SELECT order_id, count(*)::int AS n
                        FROM (SELECT order_id, command FROM order_status_history
                              UNION ALL SELECT order_id, command FROM order_status_history_archive) AS h
                       WHERE command = 'archive' AND order_id IN (SELECT order_id FROM mine) GROUP BY order_id),
          archived AS (SELECT order_id, count(*)::int AS n, count(*) FILTER (WHERE published_at IS NULL)::int AS unpublished
                         FROM (SELECT order_id, event_type, published_at FROM order_events
                               UNION ALL SELECT order_id, event_type, published_at FROM order_events_archive) AS e
                        WHERE event_type = 'OrderArchived' AND order_id IN (SELECT order_id FROM mine)
                        GROUP BY order_id)
     SELECT count(*)::int AS orders,
            count(*) FILTER (WHERE m.status <> 'ARCHIVED' OR m.hot OR h.n IS NULL OR a.n IS NULL)::int AS "notArchived",
            COALESCE(sum(GREATEST(h.n - 1, 0) + GREATEST(a.n - 1, 0)), 0)::int AS extra,
            COALESCE(sum(a.unpublished), 0)::int AS unpublished
       FROM mine m LEFT JOIN history h USING (order_id) LEFT JOIN archived a USING (order_id)`,
    [ARCHIVE_CUSTOMER],
  );
  return rows[0] ?? { orders: 0, notArchived: 0, extra: 0, unpublished: 0 };
}
