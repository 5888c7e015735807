// The order events of the catalog v1.0.0 and their CloudEvents envelope. Pure.
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

/** The event announcing the order's current status, with the time it happened. */
export function eventForOrder(order: Order): { type: OrderEventType; payload: OrderEventPayload; occurredAt: string } {
  switch (order.status) {
    case 'CREATED':
      return { type: 'OrderCreated', payload: orderCreatedPayload(order), occurredAt: order.createdAt };
    case 'COMPLETED': {
      const completedAt = required(order.completedAt, 'completedAt');
      return {
        type: 'OrderCompleted',
        payload: orderCompletedPayload({ ...order, completedAt }),
        occurredAt: completedAt,
      };
    }
    case 'CANCELLED': {
      const cancelledAt = required(order.cancelledAt, 'cancelledAt');
      const cancellationReason = required(order.cancellationReason, 'cancellationReason');
      return {
        type: 'OrderCancelled',
        payload: orderCancelledPayload({ ...order, cancelledAt, cancellationReason }),
        occurredAt: cancelledAt,
      };
    }
  }
}

function required<T>(value: T | null, name: string): T {
  if (value === null) throw new Error(`order has no ${name}`);
  return value;
}

export interface StoredEvent {
  eventId: string;
  orderId: string;
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
