// One TypeBox schema per contract of the Acme event catalog v1.0.0 (copies in ./catalog).
// The API validates with them, the OpenAPI/AsyncAPI documents are generated from them and
// the TypeScript types are derived from them. test/unit/contracts.test.ts proves each one
// equals its catalog schema, except for the tightening keywords listed in TIGHTENING_KEYWORDS.
import { type Static, type TSchema, Type } from '@sinclair/typebox';

/** Keywords we add on top of the catalog to bound hostile input; everything else is the catalog's. */
export const TIGHTENING_KEYWORDS = ['additionalProperties', 'maxItems', 'maxLength', 'maximum', 'minItems'] as const;

/** Largest value of a PostgreSQL INTEGER column: the bound of every amount and quantity. */
export const MAX_DB_INTEGER = 2_147_483_647;
export const MAX_ITEMS_PER_ORDER = 500;

const uuid = () => Type.String({ format: 'uuid' });
const currency = () => Type.String({ pattern: '^[A-Z]{3}$' });
const dateTime = () => Type.String({ format: 'date-time' });

export const CANCELLATION_REASONS = ['CUSTOMER_REQUESTED', 'PAYMENT_FAILED', 'OUT_OF_STOCK', 'FRAUD'] as const;
/** A string enum written as JSON Schema's `enum`, as the catalog does (TypeBox unions would say `anyOf`). */
const stringEnum = <const T extends readonly string[]>(values: T, options: { description?: string } = {}) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });

const cancellationReason = (description?: string) =>
  stringEnum(CANCELLATION_REASONS, description === undefined ? {} : { description });

export const ORDER_STATUSES = ['CREATED', 'COMPLETED', 'CANCELLED'] as const;

const orderItem = () =>
  Type.Object(
    {
      productId: uuid(),
      quantity: Type.Integer({ minimum: 1, maximum: MAX_DB_INTEGER }),
      unitPrice: Type.Integer({ description: 'Price per unit in minor units (e.g. cents)', maximum: MAX_DB_INTEGER }),
    },
    { additionalProperties: false },
  );

export const CreateOrder = Type.Object(
  {
    cartId: Type.String({ description: 'Identifier of the cart this order was created from', format: 'uuid' }),
    customerId: Type.String({ description: 'Identifier of the customer placing the order', format: 'uuid' }),
    items: Type.Array(orderItem(), {
      description: 'The items in the order',
      maxItems: MAX_ITEMS_PER_ORDER,
    }),
    total: Type.Integer({
      description: 'Order total in minor units (e.g. cents)',
      minimum: 0,
      maximum: MAX_DB_INTEGER,
    }),
    currency: Type.String({ description: 'ISO 4217 currency code', pattern: '^[A-Z]{3}$' }),
    paymentAuthorizationId: Type.Optional(
      Type.String({ description: 'Identifier of the payment authorization for this order', maxLength: 200 }),
    ),
  },
  {
    title: 'CreateOrder',
    description: 'Command to create a new order from a checked-out cart',
    additionalProperties: false,
  },
);
export type CreateOrder = Static<typeof CreateOrder>;
export type OrderItem = CreateOrder['items'][number];

export const CancelOrder = Type.Object(
  {
    orderId: Type.String({ description: 'Identifier of the order to cancel', format: 'uuid' }),
    reason: cancellationReason('Why the order is being cancelled'),
  },
  {
    title: 'CancelOrder',
    description: 'Command to cancel an existing order',
    additionalProperties: false,
  },
);
export type CancelOrder = Static<typeof CancelOrder>;
export type CancellationReason = CancelOrder['reason'];

/** Not in the catalog v1.0.0: the fulfilment command, received on ordering.commands as POST /orders/{orderId}/complete. */
export const CompleteOrder = Type.Object(
  { orderId: Type.String({ description: 'Identifier of the order to complete', format: 'uuid' }) },
  {
    title: 'CompleteOrder',
    description: 'Command to complete an existing order once it has been fulfilled',
    additionalProperties: false,
  },
);
export type CompleteOrder = Static<typeof CompleteOrder>;

/** HTTP body of POST /orders/{orderId}/cancel: the CancelOrder command, the id being in the path. */
export const CancelOrderBody = Type.Pick(CancelOrder, ['reason'], {
  additionalProperties: false,
});

export const GetOrderRequest = Type.Object(
  { orderId: Type.String({ description: 'Unique identifier of the order to fetch', format: 'uuid' }) },
  { description: 'Parameters used to look up the order', additionalProperties: false },
);

/** The GetOrder response of the catalog, plus the extras a caller of an order system needs. */
export const Order = Type.Object(
  {
    orderId: uuid(),
    customerId: uuid(),
    status: stringEnum(ORDER_STATUSES),
    items: Type.Array(
      Type.Object({
        productId: uuid(),
        quantity: Type.Integer({ minimum: 1 }),
        unitPrice: Type.Integer(),
      }),
    ),
    total: Type.Integer({ description: 'Order total in minor units (e.g. cents)' }),
    currency: currency(),
    createdAt: dateTime(),
    // Extras beyond the catalog's GetOrder response.
    cartId: uuid(),
    paymentAuthorizationId: Type.Union([Type.String(), Type.Null()]),
    updatedAt: dateTime(),
    completedAt: Type.Union([dateTime(), Type.Null()]),
    cancelledAt: Type.Union([dateTime(), Type.Null()]),
    cancellationReason: Type.Union([cancellationReason(), Type.Null()]),
  },
  { description: 'The order returned by the query' },
);
export type Order = Static<typeof Order>;
export type OrderStatus = Order['status'];

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
export type OrderCreated = Static<typeof OrderCreated>;

export const OrderCompleted = Type.Object(
  { orderId: uuid(), customerId: uuid(), completedAt: dateTime() },
  {
    title: 'OrderCompleted',
    description: 'Published when an order has been fulfilled and completed',
  },
);
export type OrderCompleted = Static<typeof OrderCompleted>;

export const OrderCancelled = Type.Object(
  {
    orderId: uuid(),
    customerId: Type.Optional(uuid()),
    reason: cancellationReason(),
    cancelledAt: dateTime(),
  },
  { title: 'OrderCancelled', description: 'Published when an order has been cancelled' },
);
export type OrderCancelled = Static<typeof OrderCancelled>;

export const EVENT_SCHEMAS = { OrderCreated, OrderCompleted, OrderCancelled } as const;
export type OrderEventType = keyof typeof EVENT_SCHEMAS;
export type OrderEventPayload = OrderCreated | OrderCompleted | OrderCancelled;

/** Every error the API answers with: a stable code, a message, and the offending fields. */
export const ErrorBody = Type.Object({
  code: Type.String({ description: 'Stable machine-readable error code' }),
  message: Type.String(),
  details: Type.Array(Type.Object({ field: Type.String(), code: Type.String(), message: Type.String() })),
});
export type ErrorBody = Static<typeof ErrorBody>;

export const ALL_SCHEMAS: TSchema[] = [
  CreateOrder,
  CancelOrder,
  CompleteOrder,
  CancelOrderBody,
  Order,
  OrderCreated,
  OrderCompleted,
  OrderCancelled,
  ErrorBody,
];
