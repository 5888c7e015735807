// SQL of the order database: orders, their items, their status history, and the outbox of their events.
// An archived order's rows live in the archive tables (orders_archive, order_items_archive,
// order_status_history_archive, order_events_archive; migration 0009): moved there in its archival
// transaction, its events once published. Reads by order id look in both, hot table first (UNION
// ALL … LIMIT 1 stops at the first table that has the order: one index probe while it is hot,
// two once archived); the listing reads one table, the hot one unless asked for archived orders.
import type { CancellationReason, CreateOrder, Order, OrderStatus, PublishedEventType } from '../contracts/schemas.js';
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
  revision: number;
  confirmation_number: string | null;
  confirmed_at: Date | null;
  inventory_reservation_id: string | null;
  delivery_method: Order['deliveryMethod'];
  delivery_address: Order['deliveryAddress'];
  address_revision: number;
  promotion_code: string | null;
  hold: Omit<NonNullable<Order['hold']>, 'overdue'> | null;
  hold_overdue: boolean;
  fulfilment: Order['fulfilment'];
  legal_hold: boolean;
  archive: Order['archive'];
  items: { productId: string; quantity: number; unitPrice: number }[];
}

/** The order's columns and its items (from `itemsTable`) as JSON, for `o` an order row. */
const orderColumns = (itemsTable: string) => `o.order_id, o.cart_id, o.customer_id, o.status, o.total_cents, o.currency,
         o.payment_authorization_id, o.created_at, o.updated_at, o.completed_at,
         o.cancelled_at, o.cancellation_reason, o.revision, o.confirmation_number, o.confirmed_at,
         o.inventory_reservation_id, o.delivery_method, o.delivery_address, o.address_revision,
         o.promotion_code, o.hold, o.hold_overdue, o.fulfilment, o.legal_hold, o.archive,
         COALESCE((SELECT json_agg(json_build_object('productId', i.product_id, 'quantity', i.quantity,
                                                     'unitPrice', i.unit_price_cents)
                                   ORDER BY i.line_number)
                     FROM ${itemsTable} i WHERE i.order_id = o.order_id), '[]'::json) AS items`;

const ORDER_COLUMNS = orderColumns('order_items');
const SELECT_ORDER = `SELECT ${ORDER_COLUMNS} FROM orders o`;
const SELECT_ARCHIVED_ORDER = `SELECT ${orderColumns('order_items_archive')} FROM orders_archive o`;

/** The order matching `where` (on `o`), from the hot table or else the archive: one row at most. */
const hotThenArchived = (where: string) =>
  `(${SELECT_ORDER} WHERE ${where}) UNION ALL (${SELECT_ARCHIVED_ORDER} WHERE ${where}) LIMIT 1`;

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
    revision: row.revision,
    confirmationNumber: row.confirmation_number,
    confirmedAt: isoOrNull(row.confirmed_at),
    inventoryReservationId: row.inventory_reservation_id,
    deliveryMethod: row.delivery_method,
    deliveryAddress: row.delivery_address,
    addressRevision: row.address_revision,
    promotionCode: row.promotion_code,
    hold: row.hold === null ? null : { ...row.hold, overdue: row.hold_overdue },
    fulfilment: row.fulfilment,
    legalHold: row.legal_hold,
    archive: row.archive,
  };
}

/** The statement findOrder runs (test/integration/archive-tables.test.ts EXPLAINs it). */
export const findOrderQuery = (orderId: string) => ({ text: hotThenArchived('o.order_id = $1'), values: [orderId] });

export async function findOrder(db: Queryable, orderId: string): Promise<Order | null> {
  const { text, values } = findOrderQuery(orderId);
  const { rows } = await db.query<OrderRow>(text, values);
  return rows[0] === undefined ? null : toOrder(rows[0]);
}

export async function findOrderByCart(db: Queryable, cartId: string): Promise<Order | null> {
  const { rows } = await db.query<OrderRow>(hotThenArchived('o.cart_id = $1'), [cartId]);
  return rows[0] === undefined ? null : toOrder(rows[0]);
}

/**
 * Locks the order's row for the rest of the transaction; returns the order and the sequence of
 * its latest transition (0: none since its creation), in one statement while the order is hot.
 * An archived order (a retried archival, a pre-v5 run's own archival timer) is locked in the
 * archive by a second statement, which also finds an order moved while the first one waited.
 */
export async function lockOrder(
  tx: Queryable,
  orderId: string,
): Promise<{ order: Order; lastSequence: number } | null> {
  // Called here, not in a helper: the statement's metric is named after the function that runs it.
  const hot = await tx.query<LockedRow>(lockStatement('orders', 'order_items', 'order_status_history'), [orderId]);
  const row =
    hot.rows[0] ??
    (
      await tx.query<LockedRow>(
        lockStatement('orders_archive', 'order_items_archive', 'order_status_history_archive'),
        [orderId],
      )
    ).rows[0];
  return row === undefined ? null : { order: toOrder(row), lastSequence: row.last_sequence ?? 0 };
}

type LockedRow = OrderRow & { last_sequence: number | null };

/** lockOrder's statement on the hot tables or on the archive tables. */
const lockStatement = (orders: string, items: string, history: string) =>
  `SELECT ${orderColumns(items)},
          (SELECT max(h.sequence) FROM ${history} h WHERE h.order_id = o.order_id) AS last_sequence
     FROM ${orders} o WHERE o.order_id = $1 FOR UPDATE OF o`;

/**
 * Moves these archived orders from the hot tables to the archive tables: each order with its
 * items, its status history and its published events. Set-based (a few statements whatever the
 * number of orders), so the archive sweep calls it inside each order's archival transaction and
 * a bulk archival (the bench: batches of 10,000) calls it with a batch; run it in a transaction
 * (`db.withTransaction`), so an order is never half moved. Only ARCHIVED orders may move
 * (orders_archive refuses any other status). Their events not yet published (the archival's own
 * OrderArchived and OrderStatusChanged) stay in order_events until markEventsPublished moves them.
 * Returns the number of orders moved (an id not in `orders` is ignored).
 */
export async function moveOrdersToArchive(tx: Queryable, orderIds: readonly string[]): Promise<number> {
  if (orderIds.length === 0) return 0;
  // Their events locked first: a publisher marking one published right now commits before the
  // move below reads published_at, so that event moves here; one that starts marking after this
  // lock waits for the commit, finds the order gone and moves the event itself (markEventsPublished).
  await tx.query(
    'SELECT count(*) FROM (SELECT 1 FROM order_events WHERE order_id = ANY($1::uuid[]) FOR SHARE) AS locked',
    [orderIds],
  );
  const { rows } = await tx.query<{ moved: number }>(
    `WITH items AS (
       DELETE FROM order_items WHERE order_id = ANY($1::uuid[]) RETURNING *
     ), items_archived AS (
       INSERT INTO order_items_archive SELECT * FROM items
     ), history AS (
       DELETE FROM order_status_history WHERE order_id = ANY($1::uuid[]) RETURNING *
     ), history_archived AS (
       INSERT INTO order_status_history_archive SELECT * FROM history
     ), events AS (
       DELETE FROM order_events WHERE order_id = ANY($1::uuid[]) AND published_at IS NOT NULL RETURNING *
     ), events_archived AS (
       INSERT INTO order_events_archive SELECT * FROM events
     ), orders_moved AS (
       DELETE FROM orders WHERE order_id = ANY($1::uuid[]) RETURNING *
     ), orders_archived AS (
       INSERT INTO orders_archive SELECT * FROM orders_moved RETURNING 1
     )
     SELECT count(*)::int AS moved FROM orders_archived`,
    [orderIds],
  );
  return rows[0]?.moved ?? 0;
}

/** Inserts the order and its items; false when the order already exists, hot or archived (a retry). */
export async function insertOrder(
  tx: Queryable,
  order: { orderId: string; command: CreateOrder; createdAt: Date },
): Promise<boolean> {
  const { orderId, command, createdAt } = order;
  // One statement (one round trip): the items go in only with a new order.
  const { rows } = await tx.query<{ inserted: number }>(
    `WITH inserted AS (
       INSERT INTO orders (order_id, cart_id, customer_id, status, total_cents, currency,
                           payment_authorization_id, created_at, updated_at, delivery_address, delivery_method)
       SELECT $1::uuid, $2::uuid, $3::uuid, 'CREATED', $4::int, $5::text, $6::text, $7::timestamptz, $7::timestamptz,
              $8::jsonb, $9::text
        -- An archived order is no longer in orders' primary key, and its id must never be taken again.
        WHERE NOT EXISTS (SELECT 1 FROM orders_archive WHERE order_id = $1::uuid)
       ON CONFLICT (order_id) DO NOTHING
       RETURNING order_id
     ), items AS (
       INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents, line_number)
       SELECT inserted.order_id, item.product_id, item.quantity, item.unit_price, item.line_number
         FROM inserted, unnest($10::uuid[], $11::int[], $12::int[]) WITH ORDINALITY
              AS item(product_id, quantity, unit_price, line_number)
     )
     SELECT count(*)::int AS inserted FROM inserted`,
    [
      orderId,
      command.cartId,
      command.customerId,
      command.total,
      command.currency,
      command.paymentAuthorizationId ?? null,
      createdAt,
      command.deliveryAddress === undefined ? null : JSON.stringify(command.deliveryAddress),
      command.deliveryMethod ?? null,
      ...itemColumns(command.items),
    ],
  );
  return rows[0]?.inserted === 1;
}

/** The items' columns as arrays, for unnest: product ids, quantities, unit prices. */
const itemColumns = (items: readonly CreateOrder['items'][number][]) => [
  items.map((item) => item.productId),
  items.map((item) => item.quantity),
  items.map((item) => item.unitPrice),
];

/** The order's items, in the order given, in one statement whatever their number. */
async function insertItems(tx: Queryable, orderId: string, items: readonly CreateOrder['items'][number][]) {
  await tx.query(
    `INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents, line_number)
     SELECT $1, item.product_id, item.quantity, item.unit_price, item.line_number
       FROM unnest($2::uuid[], $3::int[], $4::int[]) WITH ORDINALITY
            AS item(product_id, quantity, unit_price, line_number)`,
    [orderId, ...itemColumns(items)],
  );
}

const json = (value: unknown) => (value === null ? null : JSON.stringify(value));

/** Writes what a transition changed: status and every field transitions set, and the items when an amendment replaced them. */
export async function saveOrderState(tx: Queryable, order: Order, itemsChanged = false): Promise<void> {
  const { overdue = false, ...hold } = order.hold ?? {};
  await tx.query(
    `UPDATE orders
        SET status = $2, updated_at = $3, completed_at = $4, cancelled_at = $5, cancellation_reason = $6,
            revision = $7, confirmation_number = $8, confirmed_at = $9, inventory_reservation_id = $10,
            delivery_method = $11, delivery_address = $12, address_revision = $13, promotion_code = $14,
            hold = $15, hold_overdue = $16, fulfilment = $17, archive = $18, total_cents = $19
      WHERE order_id = $1`,
    [
      order.orderId,
      order.status,
      order.updatedAt,
      order.completedAt,
      order.cancelledAt,
      order.cancellationReason,
      order.revision,
      order.confirmationNumber,
      order.confirmedAt,
      order.inventoryReservationId,
      order.deliveryMethod,
      json(order.deliveryAddress),
      order.addressRevision,
      order.promotionCode,
      order.hold === null ? null : JSON.stringify(hold),
      order.hold === null ? false : overdue,
      json(order.fulfilment),
      json(order.archive),
      order.total,
    ],
  );
  if (itemsChanged) {
    await tx.query('DELETE FROM order_items WHERE order_id = $1', [order.orderId]);
    await insertItems(tx, order.orderId, order.items);
  }
}

/** The next confirmation number: `ORD-` and 8 digits, never handed out twice. */
export async function nextConfirmationNumber(tx: Queryable): Promise<string> {
  const { rows } = await tx.query<{ n: string }>("SELECT nextval('order_confirmation_number_seq')::text AS n");
  return `ORD-${(rows[0]?.n ?? '').padStart(8, '0')}`;
}

/**
 * How many status changes (not amendments or address changes) the order has had since its
 * creation. Hot table only: only an order still hot has transitions.
 */
export async function countStatusChanges(db: Queryable, orderId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM order_status_history
      WHERE order_id = $1 AND sequence > 0 AND from_status <> to_status`,
    [orderId],
  );
  return rows[0]?.n ?? 0;
}

/** Marks the order's open hold overdue; false when that hold is no longer open. */
export async function markHoldOverdue(db: Queryable, orderId: string, holdId: string): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE orders SET hold_overdue = true WHERE order_id = $1 AND status = 'ON_HOLD' AND hold->>'holdId' = $2`,
    [orderId, holdId],
  );
  return (rowCount ?? 0) > 0;
}

// ---- Status history ----------------------------------------------------------------------

export interface StatusChange {
  orderId: string;
  /** Per order, from 0 (its creation) up by one per transition. */
  sequence: number;
  /** `create`, or the transition table's command. */
  command: string;
  from: OrderStatus | null;
  to: OrderStatus;
  reason: string | null;
  /** Who asked: `api-key:<token id>`, a token subject, `kafka:<consumer group>`, `temporal:signal`, … */
  actor: string;
  occurredAt: string;
}

interface StatusChangeRow {
  order_id: string;
  sequence: number;
  command: string;
  from_status: OrderStatus | null;
  to_status: OrderStatus;
  reason: string | null;
  actor: string;
  occurred_at: Date;
}

const toStatusChange = (row: StatusChangeRow): StatusChange => ({
  orderId: row.order_id,
  sequence: row.sequence,
  command: row.command,
  from: row.from_status,
  to: row.to_status,
  reason: row.reason,
  actor: row.actor,
  occurredAt: iso(row.occurred_at),
});

export async function insertStatusChange(tx: Queryable, change: StatusChange): Promise<void> {
  await tx.query(
    `INSERT INTO order_status_history (order_id, sequence, command, from_status, to_status, reason, actor, occurred_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
    [
      change.orderId,
      change.sequence,
      change.command,
      change.from,
      change.to,
      change.reason,
      change.actor,
      change.occurredAt,
    ],
  );
}

/** The order's history rows matching `where`, from the hot table and the archive (an order's rows are in one of them). */
const HISTORY_OF_ORDER = (where: string) =>
  `SELECT * FROM order_status_history WHERE ${where} UNION ALL SELECT * FROM order_status_history_archive WHERE ${where}`;

/** The order's transitions, oldest first. */
export async function findStatusHistory(db: Queryable, orderId: string): Promise<StatusChange[]> {
  const { rows } = await db.query<StatusChangeRow>(`${HISTORY_OF_ORDER('order_id = $1')} ORDER BY sequence`, [orderId]);
  return rows.map(toStatusChange);
}

/** The transition of the order with this sequence, if it was committed. */
export async function findStatusChange(db: Queryable, orderId: string, sequence: number): Promise<StatusChange | null> {
  const { rows } = await db.query<StatusChangeRow>(HISTORY_OF_ORDER('order_id = $1 AND sequence = $2'), [
    orderId,
    sequence,
  ]);
  return rows[0] === undefined ? null : toStatusChange(rows[0]);
}

/**
 * The sequence of the order's latest transition (0 when it has had none since its creation) and
 * when it got its current status (the latest transition that changed it).
 */
export async function findHistoryTip(
  db: Queryable,
  orderId: string,
): Promise<{ sequence: number; statusSince: string }> {
  const { rows } = await db.query<{ sequence: number | null; status_since: Date | null }>(
    `SELECT max(sequence) AS sequence,
            max(occurred_at) FILTER (WHERE from_status IS DISTINCT FROM to_status) AS status_since
       FROM (${HISTORY_OF_ORDER('order_id = $1')}) AS h`,
    [orderId],
  );
  const row = rows[0];
  if (row?.status_since == null) throw new Error(`order ${orderId} has no status history`);
  return { sequence: row.sequence ?? 0, statusSince: iso(row.status_since) };
}

/**
 * Ended orders (COMPLETED, CANCELLED) that ended at or before `endedBefore`, longest-ended
 * first: what the archive sweep archives. `excluding`: ids this sweep already failed on.
 */
export async function findOrdersDueForArchive(
  db: Queryable,
  endedBefore: Date,
  limit: number,
  excluding: readonly string[] = [],
): Promise<string[]> {
  const { rows } = await db.query<{ order_id: string }>(
    `SELECT order_id FROM orders
      WHERE status IN ('COMPLETED', 'CANCELLED') AND COALESCE(completed_at, cancelled_at) <= $1
        AND order_id <> ALL($3::uuid[])
      ORDER BY COALESCE(completed_at, cancelled_at), order_id
      LIMIT $2`,
    [endedBefore, limit, excluding],
  );
  return rows.map((row) => row.order_id);
}

// ---- Outbox ------------------------------------------------------------------------------

interface EventRow {
  event_id: string;
  order_id: string;
  sequence: number;
  event_type: PublishedEventType;
  payload: string;
  occurred_at: Date;
  published_at: Date | null;
  traceparent: string | null;
  tracestate: string | null;
}

const toStoredEvent = (row: EventRow): StoredEvent => ({
  eventId: row.event_id,
  orderId: row.order_id,
  sequence: row.sequence,
  type: row.event_type,
  payload: row.payload,
  occurredAt: iso(row.occurred_at),
  ...(row.traceparent === null ? {} : { traceparent: row.traceparent }),
  ...(row.tracestate === null ? {} : { tracestate: row.tracestate }),
});

/** Writes a transition's events to the outbox in one statement; their order in `events` is their `position`. */
export async function insertEvents(tx: Queryable, events: readonly StoredEvent[]): Promise<void> {
  if (events.length === 0) return;
  const column = <T>(value: (event: StoredEvent) => T) => events.map(value);
  await tx.query(
    `INSERT INTO order_events (event_id, order_id, sequence, event_type, payload, occurred_at, position, traceparent, tracestate)
     SELECT e.event_id, e.order_id, e.sequence, e.event_type, e.payload, e.occurred_at, e.position - 1, e.traceparent, e.tracestate
       FROM unnest($1::uuid[], $2::uuid[], $3::int[], $4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::text[])
            WITH ORDINALITY AS e(event_id, order_id, sequence, event_type, payload, occurred_at, traceparent, tracestate, position)
     ON CONFLICT (event_id) DO NOTHING`,
    [
      column((event) => event.eventId),
      column((event) => event.orderId),
      column((event) => event.sequence),
      column((event) => event.type),
      column((event) => event.payload),
      column((event) => event.occurredAt),
      column((event) => event.traceparent ?? null),
      column((event) => event.tracestate ?? null),
    ],
  );
}

/**
 * Events matching `where`, from the outbox and the archive of published events. An event is in
 * one of them: unpublished ones always in order_events (findUnpublishedEvents, claimUnpublishedEvents
 * and countUnpublishedEvents read it alone).
 */
const EVENTS = (columns: string, where: string) =>
  `SELECT ${columns} FROM order_events WHERE ${where} UNION ALL SELECT ${columns} FROM order_events_archive WHERE ${where}`;

/** The events with these ids, in the order asked for; an id not in the outbox (or its archive) is left out. */
export async function findEvents(
  db: Queryable,
  eventIds: readonly string[],
): Promise<(StoredEvent & { publishedAt: string | null })[]> {
  const { rows } = await db.query<EventRow>(EVENTS('*', 'event_id = ANY($1::uuid[])'), [eventIds]);
  const byId = new Map(rows.map((row) => [row.event_id, row]));
  return eventIds.flatMap((eventId) => {
    const row = byId.get(eventId.toLowerCase());
    return row === undefined ? [] : [{ ...toStoredEvent(row), publishedAt: isoOrNull(row.published_at) }];
  });
}

export async function findEventsOfOrder(
  db: Queryable,
  orderId: string,
): Promise<(StoredEvent & { publishedAt: string | null })[]> {
  const { rows } = await db.query<EventRow>(`${EVENTS('*', 'order_id = $1')} ORDER BY sequence, position`, [orderId]);
  return rows.map((row) => ({ ...toStoredEvent(row), publishedAt: isoOrNull(row.published_at) }));
}

/** An event's id and type: what the workflow needs to publish it and to show it. */
export interface EventRef {
  eventId: string;
  type: PublishedEventType;
}

const toEventRef = (row: { event_id: string; event_type: PublishedEventType }): EventRef => ({
  eventId: row.event_id,
  type: row.event_type,
});

/** The events of one transition of the order, in the order they were written. */
export async function findEventsOfTransition(db: Queryable, orderId: string, sequence: number): Promise<EventRef[]> {
  const { rows } = await db.query<{ event_id: string; event_type: PublishedEventType }>(
    `${EVENTS('event_id, event_type, position', 'order_id = $1 AND sequence = $2')} ORDER BY position, event_id`,
    [orderId, sequence],
  );
  return rows.map(toEventRef);
}

/** The order's events not yet published, oldest transition first. */
export async function findUnpublishedEvents(db: Queryable, orderId: string): Promise<EventRef[]> {
  const { rows } = await db.query<{ event_id: string; event_type: PublishedEventType }>(
    `SELECT event_id, event_type FROM order_events WHERE order_id = $1 AND published_at IS NULL
      ORDER BY sequence, position, event_id`,
    [orderId],
  );
  return rows.map(toEventRef);
}

/**
 * Marks the events published; those whose order is archived (no longer in `orders`: the
 * archival's own events, an erasure's CustomerDataErased) then move to order_events_archive. Two
 * statements, the second with a snapshot taken after the first: an order archived while the
 * first waited for its events' lock (moveOrdersToArchive) is seen gone by the second.
 */
export async function markEventsPublished(db: Queryable, eventIds: string[]): Promise<void> {
  if (eventIds.length === 0) return;
  await db.query(
    'UPDATE order_events SET published_at = now() WHERE event_id = ANY($1::uuid[]) AND published_at IS NULL',
    [eventIds],
  );
  await db.query(
    `WITH moved AS (
       DELETE FROM order_events e
        WHERE e.event_id = ANY($1::uuid[]) AND e.published_at IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.order_id = e.order_id)
       RETURNING e.*
     )
     INSERT INTO order_events_archive SELECT * FROM moved`,
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
      ORDER BY created_at, sequence, position
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
  /** Only orders whose open hold is past its reviewBy. */
  holdOverdue?: boolean;
  /** Keyset position: the (createdAt, orderId) of the last order of the previous page. */
  after?: { createdAt: string; orderId: string };
  limit: number;
  /** Archived orders only (orders_archive), instead of the hot table's. */
  archived?: boolean;
}

/** Orders newest first, filtered, one page at a time by keyset (no OFFSET, so every page is as fast). */
export async function listOrders(db: Queryable, filter: OrderListFilter): Promise<Order[]> {
  const { text, values } = listOrdersQuery(filter);
  const { rows } = await db.query<OrderRow>(text, values);
  return rows.map(toOrder);
}

/** The statement listOrders runs (test/integration/order-listing.test.ts EXPLAINs it). */
export function listOrdersQuery(filter: OrderListFilter): { text: string; values: unknown[] } {
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
  if (filter.holdOverdue !== undefined) add((p) => `o.hold_overdue = ${p}`, filter.holdOverdue);
  if (filter.after !== undefined) {
    values.push(filter.after.createdAt, filter.after.orderId);
    conditions.push(`(o.created_at, o.order_id) < ($${values.length - 1}::timestamptz, $${values.length}::uuid)`);
  }
  values.push(filter.limit);
  const where = conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`;
  return {
    text: `${filter.archived === true ? SELECT_ARCHIVED_ORDER : SELECT_ORDER} ${where} ORDER BY o.created_at DESC, o.order_id DESC LIMIT $${values.length}`,
    values,
  };
}
