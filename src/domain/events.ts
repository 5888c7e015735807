// The order events of the catalog v1.0.0, built from the order, and their CloudEvents envelope. Pure.
import type {
  Order,
  OrderCancelled,
  OrderCompleted,
  OrderCreated,
  OrderEventPayload,
  OrderEventType,
} from '../contracts/schemas.js';

export function orderCreatedPayload(order: Order): OrderCreated {
  return {
    orderId: order.orderId,
    customerId: order.customerId,
    total: order.total,
    currency: order.currency,
    status: 'created',
    items: order.items.map((item) => ({ sku: item.productId, quantity: item.quantity, unitPrice: item.unitPrice })),
    createdAt: order.createdAt,
  };
}

export function orderCompletedPayload(order: Order & { completedAt: string }): OrderCompleted {
  return { orderId: order.orderId, customerId: order.customerId, completedAt: order.completedAt };
}

export function orderCancelledPayload(
  order: Order & { cancelledAt: string; cancellationReason: NonNullable<Order['cancellationReason']> },
): OrderCancelled {
  return {
    orderId: order.orderId,
    customerId: order.customerId,
    reason: order.cancellationReason,
    cancelledAt: order.cancelledAt,
  };
}

/** Each event's payload, built from the order as its transition left it. */
export const EVENT_PAYLOADS: { readonly [Type in OrderEventType]: (order: Order) => OrderEventPayload } = {
  OrderCreated: orderCreatedPayload,
  OrderCompleted: (order) =>
    orderCompletedPayload({ ...order, completedAt: required(order.completedAt, 'completedAt') }),
  OrderCancelled: (order) =>
    orderCancelledPayload({
      ...order,
      cancelledAt: required(order.cancelledAt, 'cancelledAt'),
      cancellationReason: required(order.cancellationReason, 'cancellationReason'),
    }),
};

/** An event to write to the outbox: its type, its payload, and when it happened. */
export interface NewEvent {
  type: OrderEventType;
  payload: OrderEventPayload;
  occurredAt: string;
}

/** The events of a transition that left the order as `order`, each at the transition's time. */
export function eventsOf(types: readonly OrderEventType[], order: Order): NewEvent[] {
  return types.map((type) => ({ type, payload: EVENT_PAYLOADS[type](order), occurredAt: order.updatedAt }));
}

/** The OrderCreated event of a newly persisted order. */
export function createdEvent(order: Order): NewEvent {
  return { type: 'OrderCreated', payload: orderCreatedPayload(order), occurredAt: order.createdAt };
}

function required<T>(value: T | null, name: string): T {
  if (value === null) throw new Error(`order has no ${name}`);
  return value;
}

export interface StoredEvent {
  eventId: string;
  orderId: string;
  /** The sequence of the transition that emitted it: 0 for OrderCreated. */
  sequence: number;
  type: OrderEventType;
  /** The JSON payload, byte for byte as published. */
  payload: string;
  occurredAt: string;
}

/** CloudEvents 1.0 Kafka protocol binding, binary content mode: attributes as `ce_` headers. */
export function cloudEventHeaders(event: StoredEvent, source: string): Record<string, string> {
  return {
    ce_specversion: '1.0',
    ce_id: event.eventId,
    ce_type: event.type,
    ce_source: source,
    ce_time: event.occurredAt,
    ce_subject: event.orderId,
    'content-type': 'application/json',
  };
}
