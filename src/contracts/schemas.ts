// One TypeBox schema per contract of the Acme event catalog v1.0.0 (copies in ./catalog).
// The API validates with them, the OpenAPI/AsyncAPI documents are generated from them and
// the TypeScript types are derived from them. test/unit/contracts.test.ts proves each one
// equals its catalog schema, except for the tightening keywords listed in TIGHTENING_KEYWORDS.
import { type Static, Type } from '@sinclair/typebox';
import {
  CANCELLATION_REASONS,
  type CommandDefinition,
  type CommandName,
  type CommandPayloads,
  LIFECYCLE,
  ORDER_STATUSES,
} from '../domain/lifecycle.js';
import { MAX_DB_INTEGER, MAX_ITEMS_PER_ORDER } from '../domain/order.js';

export { CANCELLATION_REASONS, MAX_DB_INTEGER, MAX_ITEMS_PER_ORDER, ORDER_STATUSES };

/** Keywords we add on top of the catalog to bound hostile input; everything else is the catalog's. */
export const TIGHTENING_KEYWORDS = ['additionalProperties', 'maxItems', 'maxLength', 'maximum', 'minItems'] as const;

const uuid = () => Type.String({ format: 'uuid' });
const currency = () => Type.String({ pattern: '^[A-Z]{3}$' });
const dateTime = () => Type.String({ format: 'date-time' });

/** A string enum written as JSON Schema's `enum`, as the catalog does (TypeBox unions would say `anyOf`). */
const stringEnum = <const T extends readonly string[]>(values: T, options: { description?: string } = {}) =>
  Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options });

const cancellationReason = (description?: string) =>
  stringEnum(CANCELLATION_REASONS, description === undefined ? {} : { description });

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
      minItems: 1,
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
    title: definition.commandType,
    description: definition.commandDescription,
    additionalProperties: false,
  });
}

export const CancelOrder = commandMessage('cancel');
export type CancelOrder = Static<typeof CancelOrder>;
export type CancellationReason = CancelOrder['reason'];
export const CompleteOrder = commandMessage('complete');
export type CompleteOrder = Static<typeof CompleteOrder>;

/** Each lifecycle command's message on ordering.commands, by its `ce_type`. */
export const COMMAND_MESSAGES = { CancelOrder, CompleteOrder } as const;

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
