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
  findOrder,
  findStatusChange,
  findStatusHistory,
  findUnpublishedEvents,
  insertEvents,
  insertOrder,
  insertStatusChange,
  lastSequence,
  lockOrder,
  markEventsPublished,
  markHoldOverdue,
  nextConfirmationNumber,
  type StatusChange,
  saveOrderState,
} from '../db/orders-repository.js';
import { createdEvent, eventsOf, type NewEvent } from '../domain/events.js';
import {
  applyTransition,
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
import type { OrderWorkflowInput } from '../workflows/definitions.js';

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
  /** The stored id of its OrderCreated (for runs of the first workflow version). */
  eventId: string;
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

/** The first workflow version's transition request. */
export type TransitionRequestV1 =
  | { name: 'complete' }
  | { name: 'cancel'; reason: 'CUSTOMER_REQUESTED' | 'PAYMENT_FAILED' | 'OUT_OF_STOCK' | 'FRAUD' };

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
          const [created] = await writeEvents(tx, orderId, 0, [createdEvent(order)]);
          if (created === undefined) throw new Error('no OrderCreated written');
          return { order, sequence: 0, eventId: created.eventId, unpublished: [created] };
        }
        const existing = await findOrder(tx, orderId);
        if (existing === null) throw new Error(`order ${orderId} neither inserted nor found`);
        const [created] = await findEventsOfTransition(tx, orderId, 0);
        if (created === undefined) throw new Error(`order ${orderId} has no OrderCreated`);
        return {
          order: existing,
          sequence: await lastSequence(tx, orderId),
          eventId: created.eventId,
          unpublished: await findUnpublishedEvents(tx, orderId),
        };
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

    /** The first workflow version's transition (runs started before the lifecycle loop). */
    async persistTransition({
      orderId,
      request,
    }: {
      orderId: string;
      request: TransitionRequestV1;
    }): Promise<{ order: Order; eventId: string }> {
      const transition: TransitionRequest =
        request.name === 'cancel'
          ? { command: 'cancel', payload: { reason: request.reason } }
          : { command: 'complete', payload: {} };
      return db.withTransaction(async (tx) => {
        const locked = await lockOrder(tx, orderId);
        if (locked === null) throw refused('ORDER_NOT_FOUND', `order ${orderId} not found`);
        const { order, lastSequence: last } = locked;
        const decision = decideTransition(order.status, transition.command);
        if (decision.kind === 'forbidden') {
          throw refused('TRANSITION_NOT_ALLOWED', forbiddenMessage(orderId, order.status, transition.command));
        }
        if (decision.kind === 'already') {
          const [event] = await findEventsOfTransition(tx, orderId, last);
          if (event === undefined) throw new Error(`order ${orderId} has no event for transition ${last}`);
          return { order, eventId: event.eventId };
        }
        const sequence = last + 1;
        const committed = await commitTransition(tx, order, {
          orderId,
          sequence,
          from: order.status,
          request: transition,
          actor: 'temporal:orderWorkflow-v1',
        });
        const [event] = committed.events;
        if (event === undefined) throw new Error(`transition ${sequence} of order ${orderId} emitted no event`);
        return { order: committed.order, eventId: event.eventId };
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

    /** Sends the stored event, byte for byte, and marks it published. */
    async publishOrderEvent(eventId: string): Promise<void> {
      await publishEvents([eventId]);
    },

    /** The events of one commit, in their order, in one activity (runs since the fewer-workflow-tasks patch). */
    async publishOrderEvents(eventIds: string[]): Promise<void> {
      await publishEvents(eventIds);
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
