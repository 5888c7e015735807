// One TypeBox schema per contract of the Acme event catalog v1.0.0 (copies in ./catalog).
// The API validates with them and the OpenAPI/AsyncAPI documents are generated from them.
// test/unit/contracts.test.ts proves each one equals its catalog schema, except for the
// tightening keywords listed in TIGHTENING_KEYWORDS.
// The dependency runs one way, from here to the domain (src/domain), which imports nothing from
// here: the workflow sandbox loads the domain without TypeBox. The domain owns the types
// (src/domain/types.ts), the enums, the limits and the request payload schemas; the schemas are
// built from them, and the checks at the end of this file fail `npm run typecheck` when a
// schema no longer describes the domain's type (the types exported here are the domain's).
import { type Static, type TSchema, Type } from '@sinclair/typebox';
import { ERASED_MARKER } from '../domain/customer-erasure.js';
import type * as lifecycle from '../domain/lifecycle.js';
import {
  CANCELLATION_REASONS,
  COUNTRY_CODE_PATTERN,
  type CommandDefinition,
  type CommandName,
  type CommandPayloads,
  DELIVERY_ADDRESS_SCHEMA,
  DELIVERY_METHODS,
  ENDED_STATUSES,
  FULFILMENT_PRIORITIES,
  HOLD_REASONS,
  LIFECYCLE,
  ORDER_STATUSES,
  PUBLIC_COMMAND_NAMES,
  RELEASE_TARGETS,
  RETENTION_CATEGORIES,
} from '../domain/lifecycle.js';
import { MAX_DB_INTEGER, MAX_ITEMS_PER_ORDER } from '../domain/order.js';
import type * as domain from '../domain/types.js';

/** Keywords we add on top of the catalog to bound hostile input; everything else is the catalog's. */
export const TIGHTENING_KEYWORDS = ['additionalProperties', 'maxItems', 'maxLength', 'maximum', 'minItems'] as const;

type Described = { description?: string };
const uuid = (options: Described = {}) => Type.String({ ...options, format: 'uuid' });
const currency = (options: Described = {}) => Type.String({ ...options, pattern: '^[A-Z]{3}$' });
const dateTime = () => Type.String({ format: 'date-time' });
const confirmationNumber = () => Type.String({ pattern: '^ORD-[0-9]{8}$' });
const recordChecksum = () => Type.String({ pattern: '^[a-f0-9]{64}$' });

/** A string enum written as JSON Schema's `enum`, as the catalog does (TypeBox unions would say `anyOf`). */
const stringEnum = <const T extends readonly string[]>(values: T, options: Described = {}) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });

export const OrderStatus = stringEnum(ORDER_STATUSES);
export type OrderStatus = lifecycle.OrderStatus;
export type CancellationReason = lifecycle.CancellationReason;
const cancellationReason = () => stringEnum(CANCELLATION_REASONS);

/**
 * An order line. A request's (CreateOrder) bounds its amounts, describes its price and refuses
 * other fields; the Order response's says none of that, as the catalog's GetOrder has it.
 */
const orderItem = (wire: 'request' | 'response') => {
  const request = wire === 'request';
  return Type.Object(
    {
      productId: uuid(),
      quantity: Type.Integer({ minimum: 1, ...(request && { maximum: MAX_DB_INTEGER }) }),
      unitPrice: Type.Integer(
        request ? { description: 'Price per unit in minor units (e.g. cents)', maximum: MAX_DB_INTEGER } : {},
      ),
    },
    request ? { additionalProperties: false } : {},
  );
};

/**
 * The delivery address as the order holds it and OrderDeliveryAddressChanged publishes it (the
 * catalog's, open there); requests take the domain's bounded DELIVERY_ADDRESS_SCHEMA.
 */
const address = (options: { additionalProperties?: false } = {}) =>
  Type.Object(
    {
      recipientName: Type.String(),
      line1: Type.String(),
      line2: Type.Optional(Type.String()),
      city: Type.String(),
      postalCode: Type.String(),
      countryCode: Type.String({ pattern: COUNTRY_CODE_PATTERN }),
    },
    options,
  );

export const CreateOrder = Type.Object(
  {
    cartId: uuid({ description: 'Identifier of the cart this order was created from' }),
    customerId: uuid({ description: 'Identifier of the customer placing the order' }),
    items: Type.Array(orderItem('request'), {
      description: 'The items in the order',
      minItems: 1,
      maxItems: MAX_ITEMS_PER_ORDER,
    }),
    total: Type.Integer({
      description: 'Order total in minor units (e.g. cents)',
      minimum: 0,
      maximum: MAX_DB_INTEGER,
    }),
    currency: currency({ description: 'ISO 4217 currency code' }),
    paymentAuthorizationId: Type.Optional(
      Type.String({ description: 'Identifier of the payment authorization for this order', maxLength: 200 }),
    ),
    // Ours beyond the catalog v1.0.0 (optional: v1 clients leave them out).
    deliveryAddress: Type.Optional(
      Type.Unsafe<domain.DeliveryAddress>({ ...DELIVERY_ADDRESS_SCHEMA, description: 'Where to deliver' }),
    ),
    deliveryMethod: Type.Optional(stringEnum(DELIVERY_METHODS, { description: 'How the order reaches the customer' })),
  },
  {
    title: 'CreateOrder',
    description: 'Command to create a new order from a checked-out cart',
    additionalProperties: false,
  },
);
export type CreateOrder = domain.CreateOrder;

/**
 * A lifecycle command as received on ordering.commands: the order's id and the command's
 * payload, both from the transition table. CancelOrder is the catalog's (test/unit/contracts.test.ts);
 * CompleteOrder is not in the catalog v1.0.0.
 */
function commandMessage<Name extends CommandName>(name: Name) {
  const definition: CommandDefinition = LIFECYCLE[name];
  const payload = definition.payloadSchema;
  const verb = definition.name;
  return Type.Unsafe<{ orderId: string } & CommandPayloads[Name]>({
    type: 'object',
    properties: {
      orderId: { type: 'string', description: `Identifier of the order to ${verb}`, format: 'uuid' },
      ...payload.properties,
    },
    required: ['orderId', ...(payload.required ?? [])],
    title: definition.commandType ?? definition.name,
    description: definition.commandDescription,
    additionalProperties: false,
  });
}

export const CancelOrder = commandMessage('cancel');
export type CancelOrder = Static<typeof CancelOrder>;
export const CompleteOrder = commandMessage('complete');
export type CompleteOrder = Static<typeof CompleteOrder>;

/** Each lifecycle command's message on ordering.commands, by its `ce_type`. */
export const COMMAND_MESSAGES = Object.fromEntries(
  PUBLIC_COMMAND_NAMES.map((name) => [LIFECYCLE[name].commandType as string, commandMessage(name)]),
) as Record<string, ReturnType<typeof commandMessage>>;

const nullable = <T extends TSchema>(schema: T) => Type.Union([schema, Type.Null()]);

/** The GetOrder response of the catalog, plus the extras a caller of an order system needs. */
export const Order = Type.Object(
  {
    orderId: uuid(),
    customerId: uuid(),
    status: OrderStatus,
    items: Type.Array(orderItem('response')),
    total: Type.Integer({ description: 'Order total in minor units (e.g. cents)' }),
    currency: currency(),
    createdAt: dateTime(),
    // Extras beyond the catalog's GetOrder response.
    cartId: uuid(),
    paymentAuthorizationId: nullable(Type.String()),
    updatedAt: dateTime(),
    completedAt: nullable(dateTime()),
    cancelledAt: nullable(dateTime()),
    cancellationReason: nullable(cancellationReason()),
    // The full lifecycle (the catalog's head AsyncAPI).
    revision: Type.Integer({ minimum: 1, description: 'Raised by one with every amendment' }),
    confirmationNumber: nullable(confirmationNumber()),
    confirmedAt: nullable(dateTime()),
    inventoryReservationId: nullable(Type.String()),
    deliveryMethod: nullable(stringEnum(DELIVERY_METHODS)),
    deliveryAddress: nullable(address({ additionalProperties: false })),
    addressRevision: Type.Integer({ minimum: 1, description: 'Raised by one with every change of the address' }),
    promotionCode: nullable(Type.String()),
    hold: nullable(
      Type.Object(
        {
          holdId: uuid(),
          reason: stringEnum(HOLD_REASONS),
          ownerTeam: Type.String(),
          customerMessage: nullable(Type.String()),
          reviewBy: dateTime(),
          placedAt: dateTime(),
          overdue: Type.Boolean({ description: 'reviewBy passed with the order still on this hold' }),
        },
        { description: 'The open hold, while the order is ON_HOLD' },
      ),
    ),
    fulfilment: nullable(
      Type.Object({
        fulfilmentId: uuid(),
        warehouseId: Type.String(),
        priority: stringEnum(FULFILMENT_PRIORITIES),
        deliveryMethod: stringEnum(DELIVERY_METHODS),
        estimatedDispatchAt: nullable(dateTime()),
        itemCount: Type.Integer({ minimum: 1 }),
        startedAt: dateTime(),
      }),
    ),
    legalHold: Type.Boolean({ description: 'Archived as LEGAL_HOLD, whatever its terminal status' }),
    archive: nullable(
      Type.Object({
        terminalStatus: stringEnum(ENDED_STATUSES),
        terminalAt: dateTime(),
        retentionCategory: stringEnum(RETENTION_CATEGORIES),
        archiveReference: Type.String(),
        recordChecksum: recordChecksum(),
        archivedAt: dateTime(),
      }),
    ),
  },
  { description: 'The order returned by the query' },
);
export type Order = domain.Order;

export const OrderCreated = Type.Object(
  {
    orderId: uuid(),
    customerId: uuid(),
    total: Type.Integer({ description: 'Order total in minor units (e.g. cents)' }),
    currency: currency(),
    status: stringEnum(['created'], { description: 'Initial lifecycle status for the order' }),
    items: Type.Array(
      Type.Object({
        sku: Type.String(),
        quantity: Type.Integer({ minimum: 1 }),
        unitPrice: Type.Integer({ description: 'Unit price in minor units (e.g. cents)' }),
      }),
      { description: 'Line items captured at order creation time' },
    ),
    createdAt: dateTime(),
  },
  { title: 'OrderCreated', description: 'Published when a new order has been created' },
);
export type OrderCreated = domain.OrderCreated;

export const OrderCompleted = Type.Object(
  { orderId: uuid(), customerId: uuid(), completedAt: dateTime() },
  {
    title: 'OrderCompleted',
    description: 'Published when an order has been fulfilled and completed',
  },
);
export type OrderCompleted = domain.OrderCompleted;

export const OrderCancelled = Type.Object(
  {
    orderId: uuid(),
    customerId: Type.Optional(uuid()),
    reason: cancellationReason(),
    cancelledAt: dateTime(),
  },
  { title: 'OrderCancelled', description: 'Published when an order has been cancelled' },
);
export type OrderCancelled = domain.OrderCancelled;

// The events of the catalog's head AsyncAPI beyond v1.0.0 (src/contracts/catalog/order-service.asyncapi.head.yml),
// written as its `components.schemas` has them: no `title`, and a description that ends with a full stop.
const event = <T extends Record<string, TSchema>>(description: string, properties: T) =>
  Type.Object(properties, { description });

export const OrderConfirmed = event('Published when an order is confirmed and ready for fulfilment.', {
  orderId: uuid(),
  customerId: uuid(),
  confirmationNumber: confirmationNumber(),
  paymentAuthorizationId: Type.Optional(Type.String()),
  inventoryReservationId: Type.Optional(Type.String()),
  total: Type.Integer({ minimum: 0 }),
  currency: currency(),
  confirmedAt: dateTime(),
});
export type OrderConfirmed = domain.OrderConfirmed;

export const OrderAmended = event('Published when an accepted order is amended.', {
  orderId: uuid(),
  revision: Type.Integer({ minimum: 2 }),
  changedFields: Type.Array(stringEnum(['items', 'deliveryAddress', 'deliveryMethod', 'promotionCode'] as const), {
    minItems: 1,
    uniqueItems: true,
  }),
  previousTotal: Type.Integer({ minimum: 0 }),
  newTotal: Type.Integer({ minimum: 0 }),
  currency: currency(),
  amendedBy: Type.String(),
  reason: Type.Optional(Type.String({ maxLength: 250 })),
  amendedAt: dateTime(),
});
export type OrderAmended = domain.OrderAmended;

export const OrderPlacedOnHold = event('Published when an order is paused for operational review.', {
  orderId: uuid(),
  holdId: uuid(),
  reason: stringEnum(HOLD_REASONS),
  ownerTeam: Type.String(),
  customerMessage: Type.Optional(Type.String({ maxLength: 280 })),
  reviewBy: dateTime(),
  placedAt: dateTime(),
});
export type OrderPlacedOnHold = domain.OrderPlacedOnHold;

export const OrderHoldReleased = event('Published when an operational hold is released.', {
  orderId: uuid(),
  holdId: uuid(),
  previousReason: stringEnum(HOLD_REASONS),
  resolution: Type.String({ maxLength: 250 }),
  releasedBy: Type.String(),
  nextStatus: stringEnum(RELEASE_TARGETS),
  releasedAt: dateTime(),
});
export type OrderHoldReleased = domain.OrderHoldReleased;

export const OrderFulfilmentStarted = event('Published when an order is released for picking and packing.', {
  orderId: uuid(),
  fulfilmentId: uuid(),
  warehouseId: Type.String(),
  itemCount: Type.Integer({ minimum: 1 }),
  priority: stringEnum(FULFILMENT_PRIORITIES),
  deliveryMethod: stringEnum(DELIVERY_METHODS),
  estimatedDispatchAt: Type.Optional(dateTime()),
  startedAt: dateTime(),
});
export type OrderFulfilmentStarted = domain.OrderFulfilmentStarted;

export const OrderStatusChanged = event('Published for every accepted order lifecycle transition.', {
  orderId: uuid(),
  previousStatus: stringEnum(
    ORDER_STATUSES.filter((status): status is Exclude<OrderStatus, 'ARCHIVED'> => status !== 'ARCHIVED'),
  ),
  newStatus: stringEnum(
    ORDER_STATUSES.filter((status): status is Exclude<OrderStatus, 'CREATED'> => status !== 'CREATED'),
  ),
  sequence: Type.Integer({ minimum: 1 }),
  changeReason: Type.Optional(Type.String({ maxLength: 250 })),
  correlationId: Type.Optional(uuid()),
  changedAt: dateTime(),
});
export type OrderStatusChanged = domain.OrderStatusChanged;

export const OrderDeliveryAddressChanged = event(
  'Published when the validated delivery address changes before dispatch.',
  {
    orderId: uuid(),
    addressRevision: Type.Integer({ minimum: 2 }),
    previousPostalCode: Type.String(),
    deliveryAddress: address(),
    changedBy: Type.String(),
    changedAt: dateTime(),
  },
);
export type OrderDeliveryAddressChanged = domain.OrderDeliveryAddressChanged;

export const OrderArchived = event('Published when a terminal order is moved to long-term storage.', {
  orderId: uuid(),
  terminalStatus: stringEnum(ENDED_STATUSES),
  retentionCategory: stringEnum(RETENTION_CATEGORIES),
  archiveReference: Type.String(),
  recordChecksum: recordChecksum(),
  terminalAt: dateTime(),
  archivedAt: dateTime(),
});
export type OrderArchived = domain.OrderArchived;

export const EVENT_SCHEMAS = {
  OrderCreated,
  OrderConfirmed,
  OrderAmended,
  OrderPlacedOnHold,
  OrderHoldReleased,
  OrderFulfilmentStarted,
  OrderStatusChanged,
  OrderDeliveryAddressChanged,
  OrderArchived,
  OrderCompleted,
  OrderCancelled,
} as const;
export type OrderEventType = domain.OrderEventType;
export type OrderEventPayload = domain.OrderEventPayload;

/**
 * Ours, beyond the catalog: published once per erased order, keyed by its orderId like every
 * event of the topic, when POST /customers/{customerId}/erasure replaced the order's personal
 * data with a marker. Consumers that keep a copy of a name, an address or a message erase theirs.
 */
export const CustomerDataErased = event(
  "Published when a customer's personal data in an order was erased at their request (ours, beyond the catalog).",
  {
    orderId: uuid(),
    customerId: uuid(),
    erasureId: uuid({ description: 'The erasure request (POST /customers/{customerId}/erasure) that erased it' }),
    erasedFields: Type.Array(Type.String(), {
      description:
        'The fields whose values were replaced with the marker wherever they occur: the order, its history, its events',
    }),
    marker: Type.Literal(ERASED_MARKER, { description: 'What replaced every erased value' }),
    erasedAt: dateTime(),
  },
);
export type CustomerDataErased = Static<typeof CustomerDataErased>;

/** Events of ordering.orders that are ours, beyond the catalog (marked so in asyncapi.yaml). */
export const BEYOND_CATALOG_EVENT_SCHEMAS = { CustomerDataErased } as const;
/** Every event the service publishes on ordering.orders: the catalog's and ours. */
export const PUBLISHED_EVENT_SCHEMAS = { ...EVENT_SCHEMAS, ...BEYOND_CATALOG_EVENT_SCHEMAS } as const;
export type PublishedEventType = domain.PublishedEventType;
/** The events of the catalog v1.0.0; the others are the head AsyncAPI's. */
export const V1_EVENT_TYPES: OrderEventType[] = ['OrderCreated', 'OrderCompleted', 'OrderCancelled'];

/** Every error the API answers with: a stable code, a message, and the offending fields. */
export const ErrorBody = Type.Object({
  code: Type.String({ description: 'Stable machine-readable error code' }),
  message: Type.String(),
  details: Type.Array(Type.Object({ field: Type.String(), code: Type.String(), message: Type.String() })),
});
export type ErrorBody = Static<typeof ErrorBody>;

// ---- Each schema describes the domain's type ---------------------------------------------
// Compile time only: a schema and the domain's type that drift apart fail `npm run typecheck`.

/** True when A and B are the same type, not merely assignable: optional, `| null` and literals all count. */
type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
type Assert<Check extends true> = Check;
/** T with its intersections merged into one object type, as TypeBox's Static writes it (OrderArchived). */
type Merged<T> = { [Key in keyof T]: T[Key] };

type EventSchemaType = keyof typeof EVENT_SCHEMAS;
/** Per event type of either side: whether the schema's Static type is the domain's payload. */
type EventSchemasDescribePayloads = {
  [Type in EventSchemaType | domain.OrderEventType]: Type extends EventSchemaType & domain.OrderEventType
    ? Equal<Static<(typeof EVENT_SCHEMAS)[Type]>, Merged<domain.OrderEventPayloads[Type]>>
    : false;
};

type _SchemasDescribeTheDomain = [
  Assert<Equal<Static<typeof OrderStatus>, lifecycle.OrderStatus>>,
  Assert<Equal<Static<ReturnType<typeof cancellationReason>>, lifecycle.CancellationReason>>,
  Assert<Equal<Static<ReturnType<typeof orderItem>>, domain.OrderItem>>,
  Assert<Equal<Static<ReturnType<typeof address>>, domain.DeliveryAddress>>,
  Assert<Equal<Static<typeof CreateOrder>, domain.CreateOrder>>,
  Assert<Equal<Static<typeof Order>, domain.Order>>,
  Assert<Equal<EventSchemasDescribePayloads, { [Type in EventSchemaType]: true }>>,
  Assert<Equal<keyof typeof PUBLISHED_EVENT_SCHEMAS, domain.PublishedEventType>>,
];
