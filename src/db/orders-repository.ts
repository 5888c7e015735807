// SQL of the order database: orders, their items, and the outbox of their events.
import type { CancellationReason, CreateOrder, Order, OrderEventType, OrderStatus } from '../contracts/schemas.js';
import type { StoredEvent } from '../domain/events.js';
import type { Queryable } from './index.js';

interface OrderRow {
  order_id: string;
  cart_id: string;
  customer_id: string;
  status: OrderStatus;
  total_cents: number;
  currency: string;
  payment_authorization_id: string | null;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
  cancelled_at: Date | null;
  cancellation_reason: CancellationReason | null;
  items: { productId: string; quantity: number; unitPrice: number }[];
}

const SELECT_ORDER = `
  SELECT o.order_id, o.cart_id, o.customer_id, o.status, o.total_cents, o.currency,
         o.payment_authorization_id, o.created_at, o.updated_at, o.completed_at,
         o.cancelled_at, o.cancellation_reason,
         COALESCE((SELECT json_agg(json_build_object('productId', i.product_id, 'quantity', i.quantity,
                                                     'unitPrice', i.unit_price_cents)
                                   ORDER BY i.line_number)
                     FROM order_items i WHERE i.order_id = o.order_id), '[]'::json) AS items
    FROM orders o`;

const iso = (date: Date) => date.toISOString();
const isoOrNull = (date: Date | null) => (date === null ? null : date.toISOString());

function toOrder(row: OrderRow): Order {
  return {
    orderId: row.order_id,
    customerId: row.customer_id,
    status: row.status,
    items: row.items,
    total: row.total_cents,
    currency: row.currency,
    createdAt: iso(row.created_at),
    cartId: row.cart_id,
    paymentAuthorizationId: row.payment_authorization_id,
    updatedAt: iso(row.updated_at),
    completedAt: isoOrNull(row.completed_at),
    cancelledAt: isoOrNull(row.cancelled_at),
    cancellationReason: row.cancellation_reason,
  };
}

export async function findOrder(db: Queryable, orderId: string): Promise<Order | null> {
  const { rows } = await db.query<OrderRow>(`${SELECT_ORDER} WHERE o.order_id = $1`, [orderId]);
  return rows[0] === undefined ? null : toOrder(rows[0]);
}

export async function findOrderByCart(db: Queryable, cartId: string): Promise<Order | null> {
  const { rows } = await db.query<OrderRow>(`${SELECT_ORDER} WHERE o.cart_id = $1`, [cartId]);
  return rows[0] === undefined ? null : toOrder(rows[0]);
}

/** The order's status alone: a cheap poll while waiting for a transition. */
export async function findOrderStatus(db: Queryable, orderId: string): Promise<OrderStatus | null> {
  const { rows } = await db.query<{ status: OrderStatus }>('SELECT status FROM orders WHERE order_id = $1', [orderId]);
  return rows[0]?.status ?? null;
}

/** Locks the order's row for the rest of the transaction and returns the order, in one statement. */
export async function lockOrder(tx: Queryable, orderId: string): Promise<Order | null> {
  const { rows } = await tx.query<OrderRow>(`${SELECT_ORDER} WHERE o.order_id = $1 FOR UPDATE OF o`, [orderId]);
  return rows[0] === undefined ? null : toOrder(rows[0]);
}

/** Inserts the order and its items; false when the order already exists (a retry). */
export async function insertOrder(
  tx: Queryable,
  order: { orderId: string; command: CreateOrder; createdAt: Date },
): Promise<boolean> {
  const { orderId, command, createdAt } = order;
  const inserted = await tx.query(
    `INSERT INTO orders (order_id, cart_id, customer_id, status, total_cents, currency,
                         payment_authorization_id, created_at, updated_at)
     VALUES ($1, $2, $3, 'CREATED', $4, $5, $6, $7, $7)
     ON CONFLICT (order_id) DO NOTHING`,
    [
      orderId,
      command.cartId,
      command.customerId,
      command.total,
      command.currency,
      command.paymentAuthorizationId ?? null,
      createdAt,
    ],
  );
  if (inserted.rowCount === 0) return false;
  // One statement for all items, whatever their number.
  await tx.query(
    `INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents, line_number)
     SELECT $1, item.product_id, item.quantity, item.unit_price, item.line_number
       FROM unnest($2::uuid[], $3::int[], $4::int[]) WITH ORDINALITY
            AS item(product_id, quantity, unit_price, line_number)`,
    [
      orderId,
      command.items.map((item) => item.productId),
      command.items.map((item) => item.quantity),
      command.items.map((item) => item.unitPrice),
    ],
  );
  return true;
}

export async function updateOrderStatus(
  tx: Queryable,
  change: { orderId: string; to: OrderStatus; at: Date; reason: CancellationReason | null },
): Promise<void> {
  await tx.query(
    `UPDATE orders
        SET status = $2, updated_at = $3,
            completed_at = CASE WHEN $2 = 'COMPLETED' THEN $3::timestamptz END,
            cancelled_at = CASE WHEN $2 = 'CANCELLED' THEN $3::timestamptz END,
            cancellation_reason = $4
      WHERE order_id = $1`,
    [change.orderId, change.to, change.at, change.reason],
  );
}

// ---- Outbox ------------------------------------------------------------------------------

interface EventRow {
  event_id: string;
  order_id: string;
  event_type: OrderEventType;
  payload: string;
  occurred_at: Date;
  published_at: Date | null;
}

const toStoredEvent = (row: EventRow): StoredEvent => ({
  eventId: row.event_id,
  orderId: row.order_id,
  type: row.event_type,
  payload: row.payload,
  occurredAt: iso(row.occurred_at),
});

export async function insertEvent(tx: Queryable, event: StoredEvent): Promise<void> {
  await tx.query(
    `INSERT INTO order_events (event_id, order_id, event_type, payload, occurred_at)
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (event_id) DO NOTHING`,
    [event.eventId, event.orderId, event.type, event.payload, event.occurredAt],
  );
}

export async function findEvent(
  db: Queryable,
  eventId: string,
): Promise<(StoredEvent & { publishedAt: string | null }) | null> {
  const { rows } = await db.query<EventRow>('SELECT * FROM order_events WHERE event_id = $1', [eventId]);
  const row = rows[0];
  return row === undefined ? null : { ...toStoredEvent(row), publishedAt: isoOrNull(row.published_at) };
}

export async function findEventsOfOrder(
  db: Queryable,
  orderId: string,
): Promise<(StoredEvent & { publishedAt: string | null })[]> {
  const { rows } = await db.query<EventRow>(
    'SELECT * FROM order_events WHERE order_id = $1 ORDER BY occurred_at, created_at',
    [orderId],
  );
  return rows.map((row) => ({ ...toStoredEvent(row), publishedAt: isoOrNull(row.published_at) }));
}

export async function markEventsPublished(db: Queryable, eventIds: string[]): Promise<void> {
  await db.query(
    'UPDATE order_events SET published_at = now() WHERE event_id = ANY($1::uuid[]) AND published_at IS NULL',
    [eventIds],
  );
}

/**
 * Claims events left unpublished for longer than `olderThanMs`, oldest first, locking them
 * for the caller's transaction (other sweepers skip them).
 */
export async function claimUnpublishedEvents(
  tx: Queryable,
  olderThanMs: number,
  limit: number,
): Promise<StoredEvent[]> {
  const { rows } = await tx.query<EventRow>(
    `SELECT * FROM order_events
      WHERE published_at IS NULL AND created_at < now() - make_interval(secs => $1::double precision / 1000)
      ORDER BY occurred_at, created_at
      LIMIT $2
      FOR UPDATE SKIP LOCKED`,
    [olderThanMs, limit],
  );
  return rows.map(toStoredEvent);
}

export async function countUnpublishedEvents(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM order_events WHERE published_at IS NULL',
  );
  return rows[0]?.n ?? 0;
}

export interface OrderListFilter {
  customerId?: string;
  status?: OrderStatus;
  createdFrom?: string;
  createdTo?: string;
  /** Keyset position: the (createdAt, orderId) of the last order of the previous page. */
  after?: { createdAt: string; orderId: string };
  limit: number;
}

/** Orders newest first, filtered, one page at a time by keyset (no OFFSET, so every page is as fast). */
export async function listOrders(db: Queryable, filter: OrderListFilter): Promise<Order[]> {
  const conditions: string[] = [];
  const values: unknown[] = [];
  const add = (condition: (placeholder: string) => string, value: unknown) => {
    values.push(value);
    conditions.push(condition(`$${values.length}`));
  };
  if (filter.customerId !== undefined) add((p) => `o.customer_id = ${p}`, filter.customerId);
  if (filter.status !== undefined) add((p) => `o.status = ${p}`, filter.status);
  if (filter.createdFrom !== undefined) add((p) => `o.created_at >= ${p}`, filter.createdFrom);
  if (filter.createdTo !== undefined) add((p) => `o.created_at < ${p}`, filter.createdTo);
  if (filter.after !== undefined) {
    values.push(filter.after.createdAt, filter.after.orderId);
    conditions.push(`(o.created_at, o.order_id) < ($${values.length - 1}::timestamptz, $${values.length}::uuid)`);
  }
  values.push(filter.limit);
  const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
  const { rows } = await db.query<OrderRow>(
    `${SELECT_ORDER} ${where} ORDER BY o.created_at DESC, o.order_id DESC LIMIT $${values.length}`,
    values,
  );
  return rows.map(toOrder);
}
