// The order summary: orders per customer and status, and revenue per day (completed orders'
// totals by the UTC day of their completion), kept up to date from ordering.orders. Counters
// are incremented, not recomputed, so an event applied twice would show at once: the kit's
// deduplication store makes each apply happen once, in the transaction of its writes.
import type { OrderEvent } from '@acme/order-events';
import type pg from 'pg';

type Db = Pick<pg.PoolClient, 'query'>;

export async function createSummarySchema(db: Db, schema: string): Promise<void> {
  await db.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
  await db.query(`CREATE TABLE IF NOT EXISTS ${schema}.orders (
    order_id        UUID PRIMARY KEY,
    customer_id     UUID NOT NULL,
    status          TEXT NOT NULL,
    -- The OrderStatusChanged.sequence the status comes from: an older one arriving late changes nothing.
    status_sequence INTEGER NOT NULL DEFAULT 0,
    total_cents     BIGINT NOT NULL,
    currency        CHAR(3) NOT NULL)`);
  await db.query(`CREATE TABLE IF NOT EXISTS ${schema}.orders_by_customer_status (
    customer_id UUID NOT NULL,
    status      TEXT NOT NULL,
    orders      INTEGER NOT NULL,
    PRIMARY KEY (customer_id, status))`);
  await db.query(`CREATE TABLE IF NOT EXISTS ${schema}.revenue_by_day (
    day           DATE NOT NULL,
    currency      CHAR(3) NOT NULL,
    revenue_cents BIGINT NOT NULL,
    orders        INTEGER NOT NULL,
    PRIMARY KEY (day, currency))`);
}

async function count(tx: Db, schema: string, customerId: string, status: string, by: 1 | -1) {
  await tx.query(
    `INSERT INTO ${schema}.orders_by_customer_status (customer_id, status, orders) VALUES ($1, $2, $3)
     ON CONFLICT (customer_id, status) DO UPDATE SET orders = orders_by_customer_status.orders + $3`,
    [customerId, status, by],
  );
}

/** Applies one event to the summary with `tx`, the kit's transaction. */
export async function applyToSummary(event: OrderEvent, tx: Db, schema: string): Promise<void> {
  switch (event.type) {
    case 'OrderCreated': {
      const { orderId, customerId, total, currency } = event.data;
      const created = await tx.query(
        `INSERT INTO ${schema}.orders (order_id, customer_id, status, total_cents, currency)
         VALUES ($1, $2, 'CREATED', $3, $4) ON CONFLICT DO NOTHING`,
        [orderId, customerId, total, currency],
      );
      if (created.rowCount === 1) await count(tx, schema, customerId, 'CREATED', 1);
      return;
    }
    case 'OrderConfirmed':
      await tx.query(`UPDATE ${schema}.orders SET total_cents = $2 WHERE order_id = $1`, [
        event.data.orderId,
        event.data.total,
      ]);
      return;
    case 'OrderAmended':
      await tx.query(`UPDATE ${schema}.orders SET total_cents = $2 WHERE order_id = $1`, [
        event.data.orderId,
        event.data.newTotal,
      ]);
      return;
    case 'OrderStatusChanged': {
      const { orderId, newStatus, sequence } = event.data;
      const { rows } = await tx.query<{ customer_id: string; status: string }>(
        `SELECT customer_id, status FROM ${schema}.orders WHERE order_id = $1 AND status_sequence < $2 FOR UPDATE`,
        [orderId, sequence],
      );
      const [order] = rows;
      if (order === undefined) return;
      await tx.query(`UPDATE ${schema}.orders SET status = $2, status_sequence = $3 WHERE order_id = $1`, [
        orderId,
        newStatus,
        sequence,
      ]);
      await count(tx, schema, order.customer_id, order.status, -1);
      await count(tx, schema, order.customer_id, newStatus, 1);
      return;
    }
    case 'OrderCompleted': {
      // OrderCompleted carries no total: the order's, as its last OrderCreated/Confirmed/Amended said.
      await tx.query(
        `INSERT INTO ${schema}.revenue_by_day (day, currency, revenue_cents, orders)
         SELECT ($2::timestamptz AT TIME ZONE 'UTC')::date, currency, total_cents, 1 FROM ${schema}.orders WHERE order_id = $1
         ON CONFLICT (day, currency) DO UPDATE SET revenue_cents = revenue_by_day.revenue_cents + EXCLUDED.revenue_cents,
                                                   orders = revenue_by_day.orders + 1`,
        [event.data.orderId, event.data.completedAt],
      );
      return;
    }
    default:
      // Holds, fulfilment, address changes, cancellations (their status comes with OrderStatusChanged), archival.
      return;
  }
}

export interface Summary {
  byCustomerStatus: { customerId: string; status: string; orders: number }[];
  revenueByDay: { day: string; currency: string; revenueCents: number; orders: number }[];
}

/** The summary as rows, sorted; zero counters (every order moved on) left out. */
export async function readSummary(db: Db, schema: string): Promise<Summary> {
  const byCustomerStatus = await db.query(
    `SELECT customer_id AS "customerId", status, orders FROM ${schema}.orders_by_customer_status
     WHERE orders <> 0 ORDER BY 1, 2`,
  );
  const revenueByDay = await db.query(
    `SELECT to_char(day, 'YYYY-MM-DD') AS day, currency, revenue_cents::int AS "revenueCents", orders
     FROM ${schema}.revenue_by_day ORDER BY 1, 2`,
  );
  return { byCustomerStatus: byCustomerStatus.rows, revenueByDay: revenueByDay.rows };
}
