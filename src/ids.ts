// Deterministic identifiers. An order's id is derived from its cart, and an event's id from
// its order, the sequence of its transition and its type, so every retry of a command or an
// activity names the same thing.
import { createHash } from 'node:crypto';

/** Namespace of the order service's name-based UUIDs (a fixed random v4 UUID). */
const ORDER_SERVICE_NAMESPACE = '7f1c9a52-3a0e-4b8e-9d51-0c6f2b8e4a17';

/** RFC 9562 version-5 (SHA-1, name-based) UUID. */
export function uuidV5(name: string, namespace: string = ORDER_SERVICE_NAMESPACE): string {
  const hash = createHash('sha1')
    .update(Buffer.from(namespace.replaceAll('-', ''), 'hex'))
    .update(name, 'utf8')
    .digest();
  const bytes = hash.subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** One cart, one order: the order id is a function of the cart id. */
export function orderIdForCart(cartId: string): string {
  return uuidV5(`cart:${cartId.toLowerCase()}`);
}

/**
 * The CloudEvents ce_id of the event of a given type emitted by an order's transition number
 * `sequence` (0: its creation). Events stored before sequences existed keep the ids they were
 * published with (migrations/0004).
 */
export function eventIdFor(orderId: string, sequence: number, eventType: string): string {
  return uuidV5(`event:${orderId.toLowerCase()}:${sequence}:${eventType}`);
}

/** The ce_id events had before sequences (one event of a type per order): kept for the events stored then. */
export function legacyEventIdFor(orderId: string, eventType: string): string {
  return uuidV5(`event:${orderId.toLowerCase()}:${eventType}`);
}

export function workflowIdForOrder(orderId: string): string {
  return `order-${orderId.toLowerCase()}`;
}
