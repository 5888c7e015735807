// A customer's erasure (POST /customers/{customerId}/erasure): in one transaction, under the
// customer's lock, the personal data of each of their ended orders (the order, its history,
// every event in the outbox, the archived ones included) is replaced with a marker, a
// CustomerDataErased per order goes to the outbox, and the request is audited; then the new
// events are published (what Kafka refuses now, the worker's outbox sweeper publishes later).
// An erasure is no transition: statuses, amounts, items, dates and sequences stay as they were.
import { createHash, randomUUID } from 'node:crypto';
import { canonicalJson } from '../activities/index.js';
import type { CustomerDataErased } from '../contracts/schemas.js';
import {
  type ErasureRecord,
  eraseHistoryReasons,
  findEventPayloads,
  findLatestErasure,
  findPersonalColumns,
  insertErasedOrder,
  insertErasure,
  insertErasureEvent,
  lockCustomerForErasure,
  lockCustomerOrders,
  saveEventPayloads,
  savePersonalColumns,
} from '../db/customer-erasure.js';
import type { Database, Queryable } from '../db/index.js';
import {
  findEvents,
  findHistoryTip,
  findOrder,
  findStatusHistory,
  findUnpublishedEvents,
  markEventsPublished,
} from '../db/orders-repository.js';
import {
  archivedRecordOf,
  ERASED_MARKER,
  ErasureRefused,
  erasePersonalData,
  hasEnded,
  PERSONAL_FIELDS,
  REASON_FIELDS,
} from '../domain/customer-erasure.js';
import type { StoredEvent } from '../domain/events.js';
import { CANCELLATION_REASONS, HOLD_REASONS } from '../domain/lifecycle.js';
import { eventIdFor } from '../ids.js';
import type { LogSink } from '../logger.js';
import { type OutboxPublisher, publishStoredEvents } from '../outbox.js';
import { activeTraceContext } from '../tracing.js';

/** What an erasure answers, the first time and on every repeat. */
export interface ErasureResult {
  erasureId: string;
  customerId: string;
  /** When the erasure was done (a repeat answers the first one's time). */
  erasedAt: string;
  /** The orders it erased, oldest first; empty when the customer had none. */
  orderIds: string[];
}

export interface CustomerErasureOptions {
  db: Database;
  /** Where the CustomerDataErased events go right after the commit. */
  outbox: OutboxPublisher;
  logger: LogSink;
  now?: () => Date;
}

const ERASED_FIELDS = [...PERSONAL_FIELDS, ...REASON_FIELDS];
const REASON_CODES = [...HOLD_REASONS, ...CANCELLATION_REASONS];

const sha256 = (value: unknown) => createHash('sha256').update(canonicalJson(value)).digest('hex');

/** The checksum of what an archived order's recordChecksum covers, as the order and history are now. */
async function archivedRecordChecksum(tx: Queryable, orderId: string): Promise<string | null> {
  const order = await findOrder(tx, orderId);
  if (order === null) return null;
  const record = archivedRecordOf(order, await findStatusHistory(tx, orderId));
  return record === null ? null : sha256(record);
}

type Decision =
  | { kind: 'erased'; result: ErasureResult; erased: string[] }
  | { kind: 'refused'; error: ErasureRefused };

export function createCustomerErasure({ db, outbox, logger, now = () => new Date() }: CustomerErasureOptions) {
  /** Erases one ended order of the customer and writes its CustomerDataErased to the outbox. */
  async function eraseOrder(tx: Queryable, orderId: string, erasure: ErasureRecord): Promise<void> {
    const before = await findOrder(tx, orderId);
    const archivedChecksum = before?.archive?.recordChecksum ?? null;

    const columns = await findPersonalColumns(tx, orderId);
    await savePersonalColumns(tx, orderId, erasePersonalData(columns));
    await eraseHistoryReasons(tx, orderId, REASON_CODES, ERASED_MARKER);
    const stored = await findEventPayloads(tx, orderId);
    const rewritten = stored.flatMap(({ eventId, payload }) => {
      const erased = JSON.stringify(erasePersonalData(JSON.parse(payload) as unknown));
      return erased === payload ? [] : [{ eventId, payload: erased }];
    });
    await saveEventPayloads(tx, rewritten);

    const { sequence } = await findHistoryTip(tx, orderId);
    const payload: CustomerDataErased = {
      orderId,
      customerId: erasure.customerId,
      erasureId: erasure.erasureId,
      erasedFields: ERASED_FIELDS,
      marker: ERASED_MARKER,
      erasedAt: erasure.requestedAt,
    };
    const event: StoredEvent = {
      eventId: eventIdFor(orderId, sequence, 'CustomerDataErased'),
      orderId,
      sequence,
      type: 'CustomerDataErased',
      payload: JSON.stringify(payload),
      occurredAt: erasure.requestedAt,
      // The erasure request's trace (README, Tracing), as every event carries the one it was committed in.
      ...activeTraceContext(),
    };
    await insertErasureEvent(tx, event);
    await insertErasedOrder(tx, {
      orderId,
      erasureId: erasure.erasureId,
      erasedAt: erasure.requestedAt,
      archivedRecordChecksum: archivedChecksum,
      erasedRecordChecksum: archivedChecksum === null ? null : await archivedRecordChecksum(tx, orderId),
    });
  }

  /** Decides and does the erasure in one transaction; the refusal is audited (committed) too. */
  function decide(customerId: string, actor: string): Promise<Decision> {
    return db.withTransaction(async (tx): Promise<Decision> => {
      await lockCustomerForErasure(tx, customerId);
      const orders = await lockCustomerOrders(tx, customerId);
      const request = { customerId, requestedBy: actor, requestedAt: now().toISOString(), answeredWith: null };
      const open = orders.filter((order) => !hasEnded(order.status));
      if (open.length > 0) {
        const orderIds = open.map((order) => order.orderId);
        await insertErasure(tx, { ...request, erasureId: randomUUID(), outcome: 'REFUSED_OPEN_ORDERS', orderIds });
        return { kind: 'refused', error: new ErasureRefused(customerId, open) };
      }
      const pending = orders.filter((order) => !order.erased);
      const previous = pending.length === 0 ? await findLatestErasure(tx, customerId) : null;
      if (previous !== null) {
        // A repeat: nothing left to erase. Answered as the erasure that did it, and audited.
        await insertErasure(tx, {
          ...request,
          erasureId: randomUUID(),
          outcome: 'ALREADY_ERASED',
          orderIds: [],
          answeredWith: previous.erasureId,
        });
        return { kind: 'erased', result: resultOf(previous), erased: [] };
      }
      const erasure: ErasureRecord = {
        ...request,
        erasureId: randomUUID(),
        outcome: 'ERASED',
        orderIds: pending.map((order) => order.orderId),
      };
      await insertErasure(tx, erasure);
      for (const order of pending) await eraseOrder(tx, order.orderId, erasure);
      return { kind: 'erased', result: resultOf(erasure), erased: erasure.orderIds };
    });
  }

  /**
   * Publishes what the erased orders have unpublished now, oldest first (their CustomerDataErased
   * last, after any event of theirs still waiting, so each order's events keep their order on its
   * partition); left to the outbox sweeper when Kafka does not take them.
   */
  async function publish(orderIds: string[]): Promise<void> {
    if (orderIds.length === 0) return;
    try {
      const waiting = await Promise.all(orderIds.map((orderId) => findUnpublishedEvents(db, orderId)));
      const events = (
        await findEvents(
          db,
          waiting.flat().map((event) => event.eventId),
        )
      ).filter((event) => event.publishedAt === null);
      await publishStoredEvents(outbox, events);
      await markEventsPublished(
        db,
        events.map((event) => event.eventId),
      );
    } catch (error) {
      logger.warn({ err: error, orders: orderIds.length }, 'erasure events left to the outbox sweeper');
    }
  }

  return {
    /**
     * Erases the personal data of every ended order of the customer not erased yet. Throws
     * ErasureRefused (nothing erased) while the customer has an open order. Idempotent: a
     * repeat with nothing left answers the result of the erasure that did it.
     */
    async eraseCustomerData(customerId: string, actor: string): Promise<ErasureResult> {
      const decision = await decide(customerId.toLowerCase(), actor);
      if (decision.kind === 'refused') throw decision.error;
      await publish(decision.erased);
      return decision.result;
    },
  };
}

/** What the erasure answers: its id, the customer, when, and the orders it erased. */
function resultOf({ erasureId, customerId, requestedAt, orderIds }: ErasureRecord): ErasureResult {
  return { erasureId, customerId, erasedAt: requestedAt, orderIds };
}

export type CustomerErasure = ReturnType<typeof createCustomerErasure>;
