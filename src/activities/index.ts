// The order workflow's activities. Each is idempotent: a retry after a crash, a timeout or a
// lost acknowledgement finds what the first attempt did and carries on from there. What can
// never succeed (a refused transition, PostgreSQL refusing the data) fails non-retryably;
// everything else is retried by Temporal, and an attempt still failing after
// FAILING_ACTIVITY_ALERT_ATTEMPTS is counted and logged instead of retrying silently.
import { createHash } from 'node:crypto';
import { ApplicationFailure, Context } from '@temporalio/activity';
import type { Order } from '../contracts/schemas.js';
import { type Database, isPermanentDatabaseError, type Queryable } from '../db/index.js';
import {
  countStatusChanges,
  type EventRef,
  findEvents,
  findEventsOfTransition,
  findHistoryTip,
  findOrder,
  findOrdersDueForArchive,
  findStatusChange,
  findStatusHistory,
  findUnpublishedEvents,
  insertEvents,
  insertOrder,
  insertStatusChange,
  lockOrder,
  markEventsPublished,
  markHoldOverdue,
  moveOrdersToArchive,
  nextConfirmationNumber,
  type StatusChange,
  saveOrderState,
} from '../db/orders-repository.js';
import { createdEvent, eventsOf, type NewEvent } from '../domain/events.js';
import {
  applyTransition,
  archiveDueAt,
  decideTransition,
  forbiddenMessage,
  type OrderStatus,
  reasonOf,
  type TransitionContext,
  type TransitionRequest,
  transitionEvents,
  transitionNeeds,
  transitionViolations,
} from '../domain/lifecycle.js';
import { describeViolations } from '../domain/payload-check.js';
import { uuidV5 } from '../ids.js';
import { type OutboxPublisher, publishStoredEvents, storedEventOf } from '../outbox.js';
import { activeTraceContext, annotateActiveSpan } from '../tracing.js';
import type { ArchiveSweepInput, ArchiveSweepResult, OrderWorkflowInput } from '../workflows/definitions.js';

/** From this attempt on, each failure of an activity is logged at warn and counted in `order_activity_failures`. */
export const FAILING_ACTIVITY_ALERT_ATTEMPTS = 10;

export interface ActivityDependencies extends OutboxPublisher {
  db: Database;
  now?: () => Date;
}

/** An event to publish, with its type for the workflow's own view. */
export type PublishableEvent = EventRef;

export interface PersistedOrder {
  order: Order;
  /** Sequence of the order's latest transition (0: none since its creation). */
  sequence: number;
  /** When the order got its current status (absent in results recorded before it existed). */
  statusSince?: string;
  /** Its events not yet published, oldest first: OrderCreated for a new order; what was left, on resume. */
  unpublished: PublishableEvent[];
}

export interface TransitionInput {
  orderId: string;
  /** The order's sequence after this transition: one more than the workflow's last. */
  sequence: number;
  /** The status the workflow saw the order in. */
  from: OrderStatus;
  request: TransitionRequest;
  actor: string;
}

export interface PersistedTransition {
  order: Order;
  sequence: number;
  /** The transition's events, in the order to publish them. */
  events: PublishableEvent[];
}

/** Orders one archive sweep archives at once, each in its own transaction (the pool has DATABASE_POOL_MAX). */
const ARCHIVE_CONCURRENCY = 4;

const refused = (type: string, message: string) => ApplicationFailure.create({ type, message, nonRetryable: true });

export function createActivities({ db, now = () => new Date(), ...outbox }: ActivityDependencies) {
  async function writeEvents(tx: Queryable, orderId: string, sequence: number, events: NewEvent[]) {
    const trace = activeTraceContext();
    const stored = events.map((event) => storedEventOf(orderId, sequence, event, trace));
    await insertEvents(tx, stored);
    return stored.map(({ eventId, type }): PublishableEvent => ({ eventId, type }));
  }

  /** Publishes those of `eventIds` not yet published, in the order given, then marks them published. */
  async function publishEvents(eventIds: string[]): Promise<void> {
    const found = await findEvents(db, eventIds);
    if (found.length < eventIds.length) {
      const missing = eventIds.filter((eventId) => !found.some((event) => event.eventId === eventId.toLowerCase()));
      throw refused('EVENT_NOT_FOUND', `event ${missing.join(', ')} is not in the outbox`);
    }
    const unpublished = found.filter((event) => event.publishedAt === null);
    if (unpublished.length === 0) return;
    await publishStoredEvents(outbox, unpublished);
    await markEventsPublished(
      db,
      unpublished.map((event) => event.eventId),
    );
  }

  /** What the transition needs from the database: a confirmation number, the record's checksum. */
  async function contextFor(tx: Queryable, order: Order, input: TransitionInput): Promise<TransitionContext> {
    const needs = transitionNeeds(order, input.request);
    return {
      at: now().toISOString(),
      sequence: input.sequence,
      actor: input.actor,
      idFor: (kind) => uuidV5(`${kind}:${input.orderId.toLowerCase()}:${input.sequence}`),
      confirmationNumber: needs.includes('confirmationNumber') ? await nextConfirmationNumber(tx) : null,
      recordChecksum: needs.includes('recordChecksum') ? await recordChecksum(tx, order) : null,
    };
  }

  /** The order's transition number `sequence`, committed with its history row and events; the caller holds the order's lock. */
  async function commitTransition(tx: Queryable, order: Order, input: TransitionInput): Promise<PersistedTransition> {
    const { orderId, sequence, request, actor } = input;
    const violations = transitionViolations(order, request);
    if (violations.length > 0) {
      throw ApplicationFailure.create({
        type: 'VALIDATION_FAILED',
        message: `the ${request.command} of order ${orderId} breaks the order rules: ${describeViolations(violations)}`,
        details: [violations],
        nonRetryable: true,
      });
    }
    const context = await contextFor(tx, order, input);
    const next = applyTransition(order, request, context);
    const reason = reasonOf(request);
    const change: StatusChange = {
      orderId,
      sequence,
      command: request.command,
      from: order.status,
      to: next.status,
      reason,
      actor,
      occurredAt: context.at,
    };
    await saveOrderState(tx, next, next.items !== order.items);
    await insertStatusChange(tx, change);
    // OrderStatusChanged's own sequence: read only when the transition emits one.
    const statusSequence = next.status === order.status ? 0 : await countStatusChanges(tx, orderId);
    const events = await writeEvents(
      tx,
      orderId,
      sequence,
      eventsOf(transitionEvents(order, next, request), next, { before: order, request, actor, reason, statusSequence }),
    );
    // The hot tables keep the orders not archived: an archival (the sweep's, or a v4 run's own)
    // moves the order's rows to the archive tables in its own transaction; its new events follow
    // once published (markEventsPublished).
    if (next.status === 'ARCHIVED') await moveOrdersToArchive(tx, [orderId]);
    return { order: next, sequence, events };
  }

  return watched({
    /**
     * Commits the order, its items, its creation in the status history and its OrderCreated
     * event in one transaction. An order already there (a retry, a resumed run) is returned as
     * it is now, with what is left to publish.
     */
    async persistOrder({ orderId, command, actor = 'checkout' }: OrderWorkflowInput): Promise<PersistedOrder> {
      return db.withTransaction(async (tx) => {
        // A JS Date has milliseconds: stored as is, the event carries exactly the stored time.
        const createdAt = now();
        if (await insertOrder(tx, { orderId, command, createdAt })) {
          const order = await findOrder(tx, orderId);
          if (order === null) throw new Error(`order ${orderId} vanished inside its own transaction`);
          const at = order.createdAt;
          await insertStatusChange(tx, {
            orderId,
            sequence: 0,
            command: 'create',
            from: null,
            to: order.status,
            reason: null,
            actor,
            occurredAt: at,
          });
          const unpublished = await writeEvents(tx, orderId, 0, [createdEvent(order)]);
          return { order, sequence: 0, statusSince: at, unpublished };
        }
        const existing = await findOrder(tx, orderId);
        if (existing === null) throw new Error(`order ${orderId} neither inserted nor found`);
        const { sequence, statusSince } = await findHistoryTip(tx, orderId);
        return { order: existing, sequence, statusSince, unpublished: await findUnpublishedEvents(tx, orderId) };
      });
    },

    /** Commits one transition the workflow accepted: new status, history row and events, in one transaction. */
    async persistOrderTransition(input: TransitionInput): Promise<PersistedTransition> {
      const { orderId, sequence, from, request } = input;
      return db.withTransaction(async (tx) => {
        const locked = await lockOrder(tx, orderId);
        if (locked === null) throw refused('ORDER_NOT_FOUND', `order ${orderId} not found`);
        const { order, lastSequence: last } = locked;
        const done = last >= sequence ? await findStatusChange(tx, orderId, sequence) : null;
        if (done !== null) {
          // A retry of a transition already committed.
          if (done.command !== request.command) {
            throw refused('SEQUENCE_TAKEN', `transition ${sequence} of order ${orderId} is already a ${done.command}`);
          }
          return { order, sequence, events: await findEventsOfTransition(tx, orderId, sequence) };
        }
        if (last !== sequence - 1 || order.status !== from) {
          // Only the order's workflow writes its transitions: the data was changed behind its back.
          throw refused(
            'ORDER_CHANGED',
            `order ${orderId} is ${order.status} at transition ${last}; its workflow expected ${from} at ${sequence - 1}`,
          );
        }
        if (decideTransition(order.status, request.command).kind !== 'apply') {
          throw refused('TRANSITION_NOT_ALLOWED', forbiddenMessage(orderId, order.status, request.command));
        }
        return commitTransition(tx, order, input);
      });
    },

    /**
     * Marks the order's hold overdue (its reviewBy passed with the order still on it); false
     * when that hold is no longer open (released meanwhile).
     */
    async markHoldOverdue({ orderId, holdId }: { orderId: string; holdId: string }): Promise<Order | null> {
      const marked = await markHoldOverdue(db, orderId, holdId);
      if (marked) {
        currentContext()?.log.warn('hold overdue', { orderId, holdId });
        currentContext()
          ?.metricMeter.createCounter(
            'order_holds_overdue',
            '',
            'Holds whose reviewBy passed with the order still held',
          )
          .add(1);
      }
      return marked ? findOrder(db, orderId) : null;
    },

    /** The events of one commit, in their order, in one activity (runs since the fewer-workflow-tasks patch). */
    async publishOrderEvents(eventIds: string[]): Promise<void> {
      await publishEvents(eventIds);
    },

    /**
     * Archives every ended order that ended at least `archiveAfterMs` ago, page by page, each in
     * its own transaction with its OrderArchived and OrderStatusChanged and the record's checksum,
     * exactly as the order's workflow did, and its rows moved to the archive tables (its two new
     * events follow once published). Idempotent: an order is archived under its row lock and
     * only while it is ended and due, so a retried sweep, two sweeps at once or a v4 run's own
     * archival timer archive it once. Heartbeats after each page; a sweep cancelled (worker
     * shutdown) stops between pages and the next one carries on.
     */
    async archiveDueOrders({ archiveAfterMs, batchSize }: ArchiveSweepInput): Promise<ArchiveSweepResult> {
      const started = now();
      const endedBefore = new Date(started.getTime() - archiveAfterMs);
      const totals: ArchiveSweepResult = { archived: 0, skipped: 0, unpublished: 0 };
      const failed: string[] = [];
      const archiveOrder = (orderId: string) =>
        db.withTransaction(async (tx) => {
          const locked = await lockOrder(tx, orderId);
          if (locked === null) return null;
          const { order, lastSequence: last } = locked;
          const request: TransitionRequest = { command: 'archive', payload: {} };
          if (decideTransition(order.status, request).kind !== 'apply') return null;
          if (archiveDueAt(order, archiveAfterMs) > now().getTime()) return null;
          const input = { orderId, sequence: last + 1, from: order.status, request, actor: 'temporal:archive' };
          return (await commitTransition(tx, order, input)).events;
        });
      for (;;) {
        currentContext()?.cancellationSignal.throwIfAborted();
        const due = await findOrdersDueForArchive(db, endedBefore, batchSize, failed);
        if (due.length === 0) break;
        const events: PublishableEvent[] = [];
        await forEachConcurrently(due, ARCHIVE_CONCURRENCY, async (orderId) => {
          try {
            const archived = await archiveOrder(orderId);
            if (archived === null) totals.skipped++;
            else {
              totals.archived++;
              events.push(...archived);
            }
          } catch (error) {
            // One order PostgreSQL refuses must not hold back every other one: it is left, and said.
            if (!isPermanentDatabaseError(error)) throw error;
            failed.push(orderId);
            currentContext()?.log.error('order not archived', { orderId, error });
          }
        });
        try {
          await publishEvents(events.map((event) => event.eventId));
        } catch (error) {
          // Committed in the outbox: the outbox sweeper publishes them once Kafka takes them.
          totals.unpublished += events.length;
          currentContext()?.log.warn('archive events left to the outbox sweeper', { events: events.length, error });
        }
        currentContext()?.heartbeat(totals);
      }
      currentContext()?.log.info('archive sweep done', {
        ...totals,
        failed: failed.length,
        ms: now().getTime() - started.getTime(),
      });
      return totals;
    },
  });
}

export type OrderActivities = ReturnType<typeof createActivities>;

/**
 * Each activity, with PostgreSQL's refusals of the data made non-retryable, and failures that
 * keep coming past FAILING_ACTIVITY_ALERT_ATTEMPTS counted and logged.
 */
function watched<T extends Record<string, (...args: never[]) => Promise<unknown>>>(activities: T): T {
  const wrapped = Object.entries(activities).map(([name, activity]) => [
    name,
    async (...args: never[]) => {
      try {
        const result = await activity(...args);
        annotateActiveSpan({ ...orderOf(result), workflowId: currentContext()?.info.workflowExecution?.workflowId });
        return result;
      } catch (error) {
        if (isPermanentDatabaseError(error)) {
          throw ApplicationFailure.create({
            type: 'PERSISTENCE_REFUSED',
            message: `PostgreSQL refused the data: ${(error as Error).message}`,
            nonRetryable: true,
            cause: error as Error,
          });
        }
        const context = currentContext();
        if (context !== undefined && context.info.attempt >= FAILING_ACTIVITY_ALERT_ATTEMPTS) {
          context.log.warn('activity still failing', { activity: name, attempt: context.info.attempt, error });
          context.metricMeter
            .createCounter('order_activity_failures', '', 'Failures of order activities past the alert attempt')
            .add(1, { activity: name });
        }
        throw error;
      }
    },
  ]);
  return Object.fromEntries(wrapped) as T;
}

/** The id and status of the order an activity returned, for its span. */
function orderOf(result: unknown): { orderId?: string; status?: string } {
  const order = (result as { order?: Partial<Order> } | null | undefined)?.order;
  return { orderId: order?.orderId, status: order?.status };
}

/** The running activity's context; undefined when called outside one (a test calling the function directly). */
function currentContext(): Context | undefined {
  try {
    return Context.current();
  } catch {
    return undefined;
  }
}

/** Runs `work` on every item, at most `limit` at once. */
async function forEachConcurrently<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>) {
  let next = 0;
  const lane = async () => {
    while (next < items.length) await work(items[next++] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
}

/**
 * SHA-256 of the order's canonical record: the order with its items and its status history,
 * as JSON with keys sorted, so anyone holding the same record computes the same sum.
 */
async function recordChecksum(tx: Queryable, order: Order): Promise<string> {
  const history = await findStatusHistory(tx, order.orderId);
  return createHash('sha256').update(canonicalJson({ order, history })).digest('hex');
}

/** JSON with object keys sorted at every level. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, entry]) => entry !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([key, entry]) => `${JSON.stringify(key)}:${canonicalJson(entry)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
