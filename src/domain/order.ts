// Order rules: the limits of an order, money arithmetic, the checks of CreateOrder, the stable
// error codes. (Its types: ./types.ts; statuses and transitions: ./lifecycle.ts.) Pure: no I/O,
// no Node modules, no TypeBox, so the API and the workflow sandbox both use it; the wire schemas
// (src/contracts/schemas.ts) take their limits from here.
import type { CreateOrder, Order, OrderItem } from './types.js';

/** Largest value of a PostgreSQL INTEGER column: the bound of every amount and quantity. */
export const MAX_DB_INTEGER = 2_147_483_647;
export const MAX_ITEMS_PER_ORDER = 500;

// ---- Stable error codes ----------------------------------------------------------------

export const ErrorCode = {
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  ORDER_NOT_FOUND: 'ORDER_NOT_FOUND',
  ORDER_CONFLICT: 'ORDER_CONFLICT',
  TRANSITION_NOT_ALLOWED: 'TRANSITION_NOT_ALLOWED',
  /** The order has no running workflow to change it: POST /orders/{orderId}/resume brings one back. */
  ORDER_NOT_ACTIVE: 'ORDER_NOT_ACTIVE',
  /** Resume was asked while the order's workflow is running. */
  ORDER_WORKFLOW_RUNNING: 'ORDER_WORKFLOW_RUNNING',
  /**
   * The order's workflow did not take the transition within the wait: it had as many at once as
   * Temporal admits, or its run was handing over to a new one. Nothing happened; ask again.
   */
  ORDER_BUSY: 'ORDER_BUSY',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface Violation {
  /** JSON path of the offending field, e.g. `/items/1/productId`. */
  field: string;
  code: string;
  message: string;
}

/** An order rule was broken. Carries a stable code; the edge decides the HTTP status. */
export class OrderError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: Violation[] = [],
  ) {
    super(message);
    this.name = 'OrderError';
  }
}

// ---- Money -----------------------------------------------------------------------------

/** Sum of quantity × unitPrice in minor units. BigInt, so no product can lose precision. */
export function itemsTotal(items: readonly OrderItem[]): bigint {
  return items.reduce((sum, item) => sum + BigInt(item.quantity) * BigInt(item.unitPrice), 0n);
}

const ISO_4217 = new Set<string>(Intl.supportedValuesOf('currency'));

/** Each item naming a product an earlier item names (ids in any letter case): one product, one line. */
export function duplicateProducts(items: readonly OrderItem[]): Violation[] {
  const seen = new Map<string, number>();
  return items.flatMap((item, index) => {
    const first = seen.get(item.productId.toLowerCase());
    if (first === undefined) {
      seen.set(item.productId.toLowerCase(), index);
      return [];
    }
    return [
      {
        field: `/items/${index}/productId`,
        code: 'DUPLICATE_PRODUCT',
        message: `productId ${item.productId} already appears in /items/${first}`,
      },
    ];
  });
}

/**
 * Rules the JSON schema cannot say. Returns every violation, each naming its field;
 * an empty list means the command may become an order.
 */
export function validateCreateOrder(command: CreateOrder): Violation[] {
  const violations: Violation[] = [];
  if (command.items.length === 0) {
    violations.push({ field: '/items', code: 'ITEMS_EMPTY', message: 'an order needs at least one item' });
  }
  violations.push(...duplicateProducts(command.items));
  command.items.forEach((item, index) => {
    if (item.unitPrice < 0) {
      violations.push({
        field: `/items/${index}/unitPrice`,
        code: 'NEGATIVE_AMOUNT',
        message: 'unitPrice must not be negative',
      });
    }
  });
  // PostgreSQL text cannot hold NUL, and no identifier has control characters.
  if (command.paymentAuthorizationId !== undefined && /\p{Cc}/u.test(command.paymentAuthorizationId)) {
    violations.push({
      field: '/paymentAuthorizationId',
      code: 'CONTROL_CHARACTERS',
      message: 'paymentAuthorizationId must not contain control characters',
    });
  }
  if (!ISO_4217.has(command.currency)) {
    violations.push({
      field: '/currency',
      code: 'UNKNOWN_CURRENCY',
      message: `${command.currency} is not an ISO 4217 currency`,
    });
  }
  const computed = itemsTotal(command.items);
  if (computed > BigInt(MAX_DB_INTEGER)) {
    violations.push({
      field: '/total',
      code: 'AMOUNT_TOO_LARGE',
      message: `the items add up to ${computed}, more than the largest storable total ${MAX_DB_INTEGER}`,
    });
  } else if (computed !== BigInt(command.total)) {
    violations.push({
      field: '/total',
      code: 'TOTAL_MISMATCH',
      message: `total is ${command.total} but the items add up to ${computed}`,
    });
  }
  return violations;
}

/**
 * Whether two CreateOrder commands ask for the same order: same customer, money and items
 * (item order and letter case of ids do not matter). One cart makes one order, ever; a
 * different command for a cart that has an order is a conflict.
 */
export function sameOrderRequest(a: CreateOrder, b: CreateOrder): boolean {
  return canonicalCommand(a) === canonicalCommand(b);
}

function canonicalAddress(address: CreateOrder['deliveryAddress']): unknown[] | null {
  if (address === undefined) return null;
  const { recipientName, line1, line2, city, postalCode, countryCode } = address;
  return [recipientName, line1, line2 ?? null, city, postalCode, countryCode];
}

function canonicalCommand(command: CreateOrder): string {
  const items = command.items
    .map((item) => [item.productId.toLowerCase(), item.quantity, item.unitPrice] as const)
    .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
  return JSON.stringify([
    command.cartId.toLowerCase(),
    command.customerId.toLowerCase(),
    command.total,
    command.currency,
    command.paymentAuthorizationId ?? null,
    items,
    // Beyond the catalog v1.0.0: absent in v1 commands, so their canonical form does not change.
    ...(command.deliveryAddress === undefined && command.deliveryMethod === undefined
      ? []
      : [canonicalAddress(command.deliveryAddress), command.deliveryMethod ?? null]),
  ]);
}

/** What a new order holds of the full lifecycle: revision 1, nothing confirmed, held, fulfilled or archived. */
export function lifecycleFieldsOfNewOrder(command: CreateOrder) {
  return {
    revision: 1,
    confirmationNumber: null,
    confirmedAt: null,
    inventoryReservationId: null,
    deliveryMethod: command.deliveryMethod ?? null,
    deliveryAddress: command.deliveryAddress ?? null,
    addressRevision: 1,
    promotionCode: null,
    hold: null,
    fulfilment: null,
    legalHold: false,
    archive: null,
  } satisfies Partial<Order>;
}
