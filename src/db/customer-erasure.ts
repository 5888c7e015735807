// SQL of a customer's erasure: the customer's orders, the columns and rows that hold personal
// data, the audit of every request (customer_erasures) and of every order erased
// (customer_erased_orders). What to erase is decided by src/domain/customer-erasure.ts.
// An archived order's rows are in the archive tables (migration 0009): every statement here on an
// order's rows covers both its hot and its archive table.
import type { OrderStatus } from '../contracts/schemas.js';
import type { Queryable } from './index.js';

/**
 * Serialises the erasures of one customer (a transaction-scoped advisory lock): two requests at
 * once erase once, the second finds the first's result.
 */
export async function lockCustomerForErasure(tx: Queryable, customerId: string): Promise<void> {
  await tx.query("SELECT pg_advisory_xact_lock(hashtextextended('customer-erasure:' || $1, 0))", [customerId]);
}

export interface CustomerOrder {
  orderId: string;
  status: OrderStatus;
  /** Whether an earlier erasure erased it. */
  erased: boolean;
}

/**
 * Every order of the customer, hot or archived, oldest first, each locked for the transaction (no
 * transition or archival runs meanwhile). The archive is read after the hot table: an order the
 * sweep moved while the first statement waited for its lock is found there.
 */
export async function lockCustomerOrders(tx: Queryable, customerId: string): Promise<CustomerOrder[]> {
  // Both statements called here, not in a helper: the metric is named after the function that runs it.
  const hot = await tx.query<CustomerOrderRow>(customerOrdersStatement('orders'), [customerId]);
  const archived = await tx.query<CustomerOrderRow>(customerOrdersStatement('orders_archive'), [customerId]);
  const rows = [...hot.rows, ...archived.rows].sort(
    (a, b) => a.created_at.getTime() - b.created_at.getTime() || (a.order_id < b.order_id ? -1 : 1),
  );
  return rows.map((row) => ({ orderId: row.order_id, status: row.status, erased: row.erased }));
}

type CustomerOrderRow = { order_id: string; status: OrderStatus; erased: boolean; created_at: Date };

/** lockCustomerOrders' statement on `orders` or on `orders_archive`. */
const customerOrdersStatement = (table: string) =>
  `SELECT o.order_id, o.status, e.order_id IS NOT NULL AS erased, o.created_at
     FROM ${table} o LEFT JOIN customer_erased_orders e ON e.order_id = o.order_id
    WHERE o.customer_id = $1
      FOR UPDATE OF o`;

export type ErasureOutcome = 'ERASED' | 'ALREADY_ERASED' | 'REFUSED_OPEN_ORDERS';

export interface ErasureRecord {
  erasureId: string;
  customerId: string;
  requestedBy: string;
  requestedAt: string;
  outcome: ErasureOutcome;
  /** ERASED: the orders it erased; REFUSED_OPEN_ORDERS: the open orders; ALREADY_ERASED: none. */
  orderIds: string[];
  /** ALREADY_ERASED: the erasure whose result answered the request. */
  answeredWith: string | null;
}

interface ErasureRow {
  erasure_id: string;
  customer_id: string;
  requested_by: string;
  requested_at: Date;
  outcome: ErasureOutcome;
  order_ids: string[];
  answered_with: string | null;
}

const toErasureRecord = (row: ErasureRow): ErasureRecord => ({
  erasureId: row.erasure_id,
  customerId: row.customer_id,
  requestedBy: row.requested_by,
  requestedAt: row.requested_at.toISOString(),
  outcome: row.outcome,
  orderIds: row.order_ids,
  answeredWith: row.answered_with,
});

export async function insertErasure(tx: Queryable, record: ErasureRecord): Promise<void> {
  await tx.query(
    `INSERT INTO customer_erasures (erasure_id, customer_id, requested_by, requested_at, outcome, order_count, order_ids, answered_with)
     VALUES ($1, $2, $3, $4, $5, cardinality($6::uuid[]), $6::uuid[], $7)`,
    [
      record.erasureId,
      record.customerId,
      record.requestedBy,
      record.requestedAt,
      record.outcome,
      record.orderIds,
      record.answeredWith,
    ],
  );
}

/** The customer's latest erasure that erased (its result is what a repeat answers), if any. */
export async function findLatestErasure(db: Queryable, customerId: string): Promise<ErasureRecord | null> {
  const { rows } = await db.query<ErasureRow>(
    `SELECT * FROM customer_erasures WHERE customer_id = $1 AND outcome = 'ERASED'
      ORDER BY requested_at DESC, erasure_id DESC LIMIT 1`,
    [customerId],
  );
  return rows[0] === undefined ? null : toErasureRecord(rows[0]);
}

/** Every request about the customer, oldest first: the audit trail. */
export async function findErasures(db: Queryable, customerId: string): Promise<ErasureRecord[]> {
  const { rows } = await db.query<ErasureRow>(
    'SELECT * FROM customer_erasures WHERE customer_id = $1 ORDER BY requested_at, erasure_id',
    [customerId],
  );
  return rows.map(toErasureRecord);
}

/** The order's JSON columns that may hold personal data, as stored. */
export async function findPersonalColumns(
  tx: Queryable,
  orderId: string,
): Promise<{ deliveryAddress: unknown; hold: unknown }> {
  const { rows } = await tx.query<{ delivery_address: unknown; hold: unknown }>(
    `SELECT delivery_address, hold FROM orders WHERE order_id = $1
     UNION ALL SELECT delivery_address, hold FROM orders_archive WHERE order_id = $1`,
    [orderId],
  );
  return { deliveryAddress: rows[0]?.delivery_address ?? null, hold: rows[0]?.hold ?? null };
}

/** Writes the erased address and hold; nothing else of the order changes (not even updated_at: no transition happened). */
export async function savePersonalColumns(
  tx: Queryable,
  orderId: string,
  columns: { deliveryAddress: unknown; hold: unknown },
): Promise<void> {
  const json = (value: unknown) => (value === null ? null : JSON.stringify(value));
  await tx.query(
    `WITH hot AS (UPDATE orders SET delivery_address = $2, hold = $3 WHERE order_id = $1)
     UPDATE orders_archive SET delivery_address = $2, hold = $3 WHERE order_id = $1`,
    [orderId, json(columns.deliveryAddress), json(columns.hold)],
  );
}

/** Replaces the history's reasons that are not one of `codes` (free text: resolutions, amendment reasons) with `marker`. */
export async function eraseHistoryReasons(
  tx: Queryable,
  orderId: string,
  codes: readonly string[],
  marker: string,
): Promise<number> {
  const { rows } = await tx.query<{ n: number }>(
    `WITH hot AS (
       UPDATE order_status_history SET reason = $3
        WHERE order_id = $1 AND reason IS NOT NULL AND reason <> '' AND reason <> ALL($2::text[]) AND reason <> $3
       RETURNING 1
     ), archived AS (
       UPDATE order_status_history_archive SET reason = $3
        WHERE order_id = $1 AND reason IS NOT NULL AND reason <> '' AND reason <> ALL($2::text[]) AND reason <> $3
       RETURNING 1
     )
     SELECT (SELECT count(*) FROM hot)::int + (SELECT count(*) FROM archived)::int AS n`,
    [orderId, codes, marker],
  );
  return rows[0]?.n ?? 0;
}

/** Every event of the order in the outbox and its archive, published or not: id and stored payload. */
export async function findEventPayloads(
  tx: Queryable,
  orderId: string,
): Promise<{ eventId: string; payload: string }[]> {
  const { rows } = await tx.query<{ event_id: string; payload: string }>(
    `SELECT event_id, payload, sequence, position FROM order_events WHERE order_id = $1
     UNION ALL SELECT event_id, payload, sequence, position FROM order_events_archive WHERE order_id = $1
     ORDER BY sequence, position`,
    [orderId],
  );
  return rows.map((row) => ({ eventId: row.event_id, payload: row.payload }));
}

/** Rewrites stored payloads (an unpublished event is then published as rewritten). */
export async function saveEventPayloads(
  tx: Queryable,
  events: readonly { eventId: string; payload: string }[],
): Promise<void> {
  if (events.length === 0) return;
  await tx.query(
    `WITH hot AS (
       UPDATE order_events e SET payload = p.payload
         FROM unnest($1::uuid[], $2::text[]) AS p(event_id, payload)
        WHERE e.event_id = p.event_id
     )
     UPDATE order_events_archive e SET payload = p.payload
       FROM unnest($1::uuid[], $2::text[]) AS p(event_id, payload)
      WHERE e.event_id = p.event_id`,
    [events.map((event) => event.eventId), events.map((event) => event.payload)],
  );
}

/**
 * Writes the order's CustomerDataErased to the outbox under `sequence` (the order's last
 * transition: an erasure is no transition), after that transition's own events.
 */
export async function insertErasureEvent(
  tx: Queryable,
  event: {
    eventId: string;
    orderId: string;
    sequence: number;
    payload: string;
    occurredAt: string;
    traceparent?: string;
    tracestate?: string;
  },
): Promise<void> {
  await tx.query(
    `INSERT INTO order_events (event_id, order_id, sequence, event_type, payload, occurred_at, position, traceparent, tracestate)
     SELECT $1, $2, $3, 'CustomerDataErased', $4, $5,
            COALESCE((SELECT max(position) + 1
                        FROM (SELECT position FROM order_events WHERE order_id = $2 AND sequence = $3
                              UNION ALL
                              SELECT position FROM order_events_archive WHERE order_id = $2 AND sequence = $3) AS p), 0),
            $6, $7
     ON CONFLICT (event_id) DO NOTHING`,
    [
      event.eventId,
      event.orderId,
      event.sequence,
      event.payload,
      event.occurredAt,
      event.traceparent ?? null,
      event.tracestate ?? null,
    ],
  );
}

export async function insertErasedOrder(
  tx: Queryable,
  row: {
    orderId: string;
    erasureId: string;
    erasedAt: string;
    archivedRecordChecksum: string | null;
    erasedRecordChecksum: string | null;
  },
): Promise<void> {
  await tx.query(
    `INSERT INTO customer_erased_orders (order_id, erasure_id, erased_at, archived_record_checksum, erased_record_checksum)
     VALUES ($1, $2, $3, $4, $5)`,
    [row.orderId, row.erasureId, row.erasedAt, row.archivedRecordChecksum, row.erasedRecordChecksum],
  );
}
