// The rules of a customer's erasure: which orders may be erased, which fields hold personal data
// and what replaces them. Pure (no I/O): the erasure service (src/orders/customer-erasure.ts)
// applies them to the rows it reads, and the event builders use `isReasonCode`.
import { CANCELLATION_REASONS, ENDED_STATUSES, HOLD_REASONS, type OrderStatus } from './lifecycle.js';
import type { Order } from './types.js';

/** What replaces each erased value: a string, so every schema that wants a string still holds. */
export const ERASED_MARKER = '[erased]';

/**
 * Fields whose every non-empty string value is personal data, wherever they occur (the order's
 * delivery address and hold, event payloads): the recipient, the address lines, what the
 * customer was told, how a hold was resolved. `countryCode` is kept: bookkeeping needs the
 * country (taxes), and a country alone names nobody.
 */
export const PERSONAL_FIELDS = [
  'recipientName',
  'line1',
  'line2',
  'city',
  'postalCode',
  'previousPostalCode',
  'phone',
  'email',
  'customerMessage',
  'resolution',
] as const;

/**
 * Fields that hold either a code (a hold or cancellation reason) or free text (an amendment's
 * reason, a release's resolution as OrderStatusChanged's changeReason): the free text goes, the
 * codes stay.
 */
export const REASON_FIELDS = ['reason', 'changeReason'] as const;

const REASON_CODES: ReadonlySet<string> = new Set<string>([...HOLD_REASONS, ...CANCELLATION_REASONS]);

/** Whether a reason is one of the lifecycle's codes (PAYMENT_REVIEW, FRAUD, …) rather than someone's words. */
export function isReasonCode(reason: string): boolean {
  return REASON_CODES.has(reason);
}

const personal = new Set<string>(PERSONAL_FIELDS);
const reasons = new Set<string>(REASON_FIELDS);

/** A free-text reason erased; a code, null or an empty string kept. */
export function erasedReason<T extends string | null | undefined>(reason: T): T | typeof ERASED_MARKER {
  return typeof reason === 'string' && reason !== '' && !isReasonCode(reason) ? ERASED_MARKER : reason;
}

/**
 * `value` with the personal data of every object in it replaced by the marker, at any depth:
 * amounts, items, dates, statuses, ids and codes untouched. Returns the same shape (the schemas
 * of the order and of each event still hold).
 */
export function erasePersonalData<T>(value: T): T {
  if (Array.isArray(value)) return value.map(erasePersonalData) as T;
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>).map(([key, field]) => {
    if (typeof field === 'string' && field !== '') {
      if (personal.has(key)) return [key, ERASED_MARKER];
      if (reasons.has(key)) return [key, erasedReason(field)];
    }
    return [key, erasePersonalData(field)];
  });
  return Object.fromEntries(entries) as T;
}

/** Whether the order's lifecycle has ended (COMPLETED, CANCELLED, ARCHIVED): only then may its data be erased. */
export function hasEnded(status: OrderStatus): boolean {
  return status === 'ARCHIVED' || (ENDED_STATUSES as readonly string[]).includes(status);
}

/** A customer's order that is still open, and why it blocks the erasure. */
export interface OpenOrder {
  orderId: string;
  status: OrderStatus;
}

/** Stable codes of the erasure's refusals; the edge maps them to HTTP. */
export const ErasureErrorCode = {
  /** The customer has orders that have not ended: their data is still needed to fulfil them. */
  CUSTOMER_HAS_OPEN_ORDERS: 'CUSTOMER_HAS_OPEN_ORDERS',
} as const;
export type ErasureErrorCode = (typeof ErasureErrorCode)[keyof typeof ErasureErrorCode];

/** An erasure refused: the customer's open orders, by id, until they end. */
export class ErasureRefused extends Error {
  readonly code: ErasureErrorCode = ErasureErrorCode.CUSTOMER_HAS_OPEN_ORDERS;
  constructor(
    readonly customerId: string,
    readonly openOrders: readonly OpenOrder[],
  ) {
    super(
      `customer ${customerId} has ${openOrders.length} open order(s): ${openOrders
        .map((order) => `${order.orderId} (${order.status})`)
        .join(', ')}; erase once they are COMPLETED or CANCELLED`,
    );
    this.name = 'ErasureRefused';
  }
}

/**
 * The record an archived order's `recordChecksum` covers (README, OrderArchived): the order as
 * it was just before its archival (its terminal status and time, no archive) and its status
 * history before the archival's row. Null for an order not archived.
 */
export function archivedRecordOf<H extends { command: string }>(
  order: Order,
  history: readonly H[],
): { order: Order; history: H[] } | null {
  const { archive } = order;
  if (archive === null) return null;
  return {
    order: { ...order, status: archive.terminalStatus, updatedAt: archive.terminalAt, archive: null },
    history: history.filter((change) => change.command !== 'archive'),
  };
}
