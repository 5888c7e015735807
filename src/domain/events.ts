// The order events (the catalog v1.0.0's and its head AsyncAPI's), built from the order and
// the transition that left it so, and their CloudEvents envelope. Pure.
import { isReasonCode } from './customer-erasure.js';
import type { TransitionRequest } from './lifecycle.js';
import type {
  Order,
  OrderCancelled,
  OrderCompleted,
  OrderCreated,
  OrderEventPayload,
  OrderEventType,
  PublishedEventType,
} from './types.js';

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

/** What a transition's events are built from besides the order it left. */
export interface TransitionFacts {
  /** The order before the transition. */
  before: Order;
  request: TransitionRequest;
  actor: string;
  reason: string | null;
  /** Number of this status change among the order's status changes (OrderStatusChanged's `sequence`, from 1). */
  statusSequence: number;
}

type PayloadBuilder = (order: Order, facts: TransitionFacts) => OrderEventPayload;

const optional = <K extends string, V>(key: K, value: V | null | undefined) =>
  (value === null || value === undefined ? {} : { [key]: value }) as Partial<Record<K, V>>;

/**
 * Each event's payload, built from the order as its transition left it (and the transition's facts).
 * Personal data goes out only where the catalog requires it (OrderDeliveryAddressChanged's address,
 * OrderHoldReleased's resolution): the optional customerMessage, amendment reason and free-text
 * changeReason stay in the order database (README, Customer data).
 */
export const EVENT_PAYLOADS: { readonly [Type in OrderEventType]: PayloadBuilder } = {
  OrderCreated: orderCreatedPayload,
  OrderCompleted: (order) =>
    orderCompletedPayload({ ...order, completedAt: required(order.completedAt, 'completedAt') }),
  OrderCancelled: (order) =>
    orderCancelledPayload({
      ...order,
      cancelledAt: required(order.cancelledAt, 'cancelledAt'),
      cancellationReason: required(order.cancellationReason, 'cancellationReason'),
    }),
  OrderConfirmed: (order) => ({
    orderId: order.orderId,
    customerId: order.customerId,
    confirmationNumber: required(order.confirmationNumber, 'confirmationNumber'),
    ...optional('paymentAuthorizationId', order.paymentAuthorizationId),
    ...optional('inventoryReservationId', order.inventoryReservationId),
    total: order.total,
    currency: order.currency,
    confirmedAt: required(order.confirmedAt, 'confirmedAt'),
  }),
  OrderAmended: (order, { before, request, actor }) => {
    const payload = request.payload as Record<string, unknown>;
    const changedFields = (['items', 'deliveryMethod', 'promotionCode'] as const).filter((field) => field in payload);
    return {
      orderId: order.orderId,
      revision: order.revision,
      changedFields,
      previousTotal: before.total,
      newTotal: order.total,
      currency: order.currency,
      amendedBy: actor,
      amendedAt: order.updatedAt,
    };
  },
  OrderPlacedOnHold: (order) => {
    const hold = required(order.hold, 'hold');
    return {
      orderId: order.orderId,
      holdId: hold.holdId,
      reason: hold.reason,
      ownerTeam: hold.ownerTeam,
      reviewBy: hold.reviewBy,
      placedAt: hold.placedAt,
    };
  },
  OrderHoldReleased: (order, { before, request, actor }) => {
    const hold = required(before.hold, 'hold');
    const { resolution } = request.payload as { resolution: string };
    return {
      orderId: order.orderId,
      holdId: hold.holdId,
      previousReason: hold.reason,
      resolution,
      releasedBy: actor,
      nextStatus: order.status as 'CONFIRMED' | 'AWAITING_FULFILMENT',
      releasedAt: order.updatedAt,
    };
  },
  OrderFulfilmentStarted: (order) => {
    const fulfilment = required(order.fulfilment, 'fulfilment');
    return {
      orderId: order.orderId,
      fulfilmentId: fulfilment.fulfilmentId,
      warehouseId: fulfilment.warehouseId,
      itemCount: fulfilment.itemCount,
      priority: fulfilment.priority,
      deliveryMethod: fulfilment.deliveryMethod,
      ...optional('estimatedDispatchAt', fulfilment.estimatedDispatchAt),
      startedAt: fulfilment.startedAt,
    };
  },
  OrderStatusChanged: (order, { before, reason, statusSequence }) => ({
    orderId: order.orderId,
    previousStatus: before.status as Exclude<Order['status'], 'ARCHIVED'>,
    newStatus: order.status as Exclude<Order['status'], 'CREATED'>,
    sequence: statusSequence,
    // A code (the hold's or the cancellation's reason), never someone's words (a release's resolution).
    ...optional('changeReason', reason !== null && isReasonCode(reason) ? reason : null),
    changedAt: order.updatedAt,
  }),
  OrderDeliveryAddressChanged: (order, { before, actor }) => ({
    orderId: order.orderId,
    addressRevision: order.addressRevision,
    previousPostalCode: before.deliveryAddress?.postalCode ?? '',
    deliveryAddress: required(order.deliveryAddress, 'deliveryAddress'),
    changedBy: actor,
    changedAt: order.updatedAt,
  }),
  OrderArchived: (order) => {
    const archive = required(order.archive, 'archive');
    return { orderId: order.orderId, ...archive };
  },
};

/** An event to write to the outbox: its type, its payload, and when it happened. */
export interface NewEvent {
  type: OrderEventType;
  payload: OrderEventPayload;
  occurredAt: string;
}

/** The events of a transition that left the order as `order`, each at the transition's time. */
export function eventsOf(types: readonly OrderEventType[], order: Order, facts: TransitionFacts): NewEvent[] {
  return types.map((type) => ({ type, payload: EVENT_PAYLOADS[type](order, facts), occurredAt: order.updatedAt }));
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
  /** The sequence of the transition that emitted it: 0 for OrderCreated (an erasure's: the order's last). */
  sequence: number;
  type: PublishedEventType;
  /** The JSON payload, byte for byte as published. */
  payload: string;
  occurredAt: string;
  /**
   * The W3C trace context the event was committed in, published as the CloudEvents
   * distributed-tracing extension (ce_traceparent, ce_tracestate); absent when untraced.
   */
  traceparent?: string;
  tracestate?: string;
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
    ...(event.traceparent === undefined ? {} : { ce_traceparent: event.traceparent }),
    ...(event.tracestate === undefined ? {} : { ce_tracestate: event.tracestate }),
  };
}
