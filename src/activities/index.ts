// The order workflow's activities. Each is idempotent: a retry after a crash, a timeout
// or a lost acknowledgement finds what the first attempt did and carries on from there.
import { ApplicationFailure, metricMeter } from '@temporalio/activity';
import type { Order } from '../contracts/schemas.js';
import type { Database } from '../db/index.js';
import {
  findEvent,
  findOrder,
  insertEvent,
  insertOrder,
  lockOrder,
  markEventsPublished,
  updateOrderStatus,
} from '../db/orders-repository.js';
import { cloudEventHeaders, eventForOrder, type StoredEvent } from '../domain/events.js';
import { decideTransition, type TransitionRequest } from '../domain/order.js';
import { eventIdFor } from '../ids.js';
import { type EventPublisher, ORDER_EVENTS_TOPIC } from '../kafka/index.js';
import type { OrderWorkflowInput } from '../workflows/definitions.js';

export interface ActivityDependencies {
  db: Database;
  publisher: EventPublisher;
  /** CloudEvents ce_source of published events. */
  eventSource: string;
  now?: () => Date;
}

export interface PersistedOrder {
  order: Order;
  /** The outbox event announcing this state, to hand to publishOrderEvent. */
  eventId: string;
}

export function createActivities({ db, publisher, eventSource, now = () => new Date() }: ActivityDependencies) {
  /** Writes the order's current state's event to the outbox, in the caller's transaction. */
  const outboxEventFor = (order: Order): StoredEvent => {
    const event = eventForOrder(order);
    return {
      eventId: eventIdFor(order.orderId, event.type),
      orderId: order.orderId,
      type: event.type,
      payload: JSON.stringify(event.payload),
      occurredAt: event.occurredAt,
    };
  };

  return {
    /** Commits the order, its items and its OrderCreated event in one transaction. */
    async persistOrder({ orderId, command }: OrderWorkflowInput): Promise<PersistedOrder> {
      return db.withTransaction(async (tx) => {
        // A JS Date has milliseconds: stored as is, the event carries exactly the stored time.
        const createdAt = now();
        if (await insertOrder(tx, { orderId, command, createdAt })) {
          const order = await findOrder(tx, orderId);
          if (order === null) throw new Error(`order ${orderId} vanished inside its own transaction`);
          const event = outboxEventFor(order);
          await insertEvent(tx, event);
          return { order, eventId: event.eventId };
        }
        const existing = await findOrder(tx, orderId);
        if (existing === null) throw new Error(`order ${orderId} neither inserted nor found`);
        return { order: existing, eventId: eventIdFor(orderId, 'OrderCreated') };
      });
    },

    /** Moves the order to the transition's status and writes its event, in one transaction. */
    async persistTransition({
      orderId,
      request,
    }: {
      orderId: string;
      request: TransitionRequest;
    }): Promise<PersistedOrder> {
      return db.withTransaction(async (tx) => {
        const order = await lockOrder(tx, orderId);
        if (order === null) throw new Error(`order ${orderId} not found`);
        const decision = decideTransition(order.status, request.name);
        if (decision.kind === 'forbidden') {
          // Only this workflow changes the order's status, so this means the data was edited by hand.
          throw ApplicationFailure.create({
            type: 'TRANSITION_NOT_ALLOWED',
            message: `order ${orderId} is ${order.status}; cannot ${request.name}`,
            nonRetryable: true,
          });
        }
        if (decision.kind === 'already') {
          return { order, eventId: eventIdFor(orderId, eventForOrder(order).type) };
        }
        await updateOrderStatus(tx, {
          orderId,
          to: decision.to,
          at: now(),
          reason: request.name === 'cancel' ? request.reason : null,
        });
        const updated = await findOrder(tx, orderId);
        if (updated === null) throw new Error(`order ${orderId} vanished inside its own transaction`);
        const event = outboxEventFor(updated);
        await insertEvent(tx, event);
        return { order: updated, eventId: event.eventId };
      });
    },

    /** Sends the stored event, byte for byte, and marks it published. */
    async publishOrderEvent(eventId: string): Promise<void> {
      const event = await findEvent(db, eventId);
      if (event === null) throw new Error(`event ${eventId} is not in the outbox`);
      if (event.publishedAt !== null) return;
      try {
        await publisher.publish(ORDER_EVENTS_TOPIC, {
          key: event.orderId,
          value: event.payload,
          headers: cloudEventHeaders(event, eventSource),
        });
      } catch (error) {
        metricMeter.createCounter('order_event_publish_failures', '', 'Failed publishes of order events').add(1);
        throw error;
      }
      await markEventsPublished(db, [eventId]);
      metricMeter.createCounter('order_events_published', '', 'Order events published to Kafka').add(1, {
        event_type: event.type,
      });
    },
  };
}

export type OrderActivities = ReturnType<typeof createActivities>;
