// Builders of valid CreateOrder commands for tests.
import { randomUUID } from 'node:crypto';
import type { CreateOrder, Order } from '../../src/contracts/schemas.js';
import type { TransitionContext } from '../../src/domain/lifecycle.js';
import { lifecycleFieldsOfNewOrder } from '../../src/domain/order.js';
import { uuidV5 } from '../../src/ids.js';

export function newCreateOrder(overrides: Partial<CreateOrder> = {}): CreateOrder {
  const items = overrides.items ?? [
    { productId: randomUUID(), quantity: 2, unitPrice: 1250 },
    { productId: randomUUID(), quantity: 1, unitPrice: 499 },
  ];
  return {
    cartId: randomUUID(),
    customerId: randomUUID(),
    items,
    total: items.reduce((sum, item) => sum + item.quantity * item.unitPrice, 0),
    currency: 'EUR',
    paymentAuthorizationId: `pa_${randomUUID().slice(0, 8)}`,
    ...overrides,
  };
}

/** The order a CreateOrder becomes when persisted at `at`: what persistOrder returns, without a database. */
export function orderFromCommand(orderId: string, command: CreateOrder, at: string): Order {
  return {
    orderId,
    customerId: command.customerId,
    status: 'CREATED',
    items: command.items,
    total: command.total,
    currency: command.currency,
    createdAt: at,
    cartId: command.cartId,
    paymentAuthorizationId: command.paymentAuthorizationId ?? null,
    updatedAt: at,
    completedAt: null,
    cancelledAt: null,
    cancellationReason: null,
    ...lifecycleFieldsOfNewOrder(command),
  };
}

/** A transition's context as the activity makes it, for transitions that need nothing from the database. */
export function transitionContextAt(at: string, sequence = 1, actor = 'test'): TransitionContext {
  return {
    at,
    sequence,
    actor,
    idFor: (kind) => uuidV5(`${kind}:test:${sequence}`),
    confirmationNumber: null,
    recordChecksum: null,
  };
}
