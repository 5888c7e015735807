import { describe, expect, it } from 'vitest';
import { eventIdFor, legacyEventIdFor, orderIdForCart, uuidV5 } from '../../src/ids.js';

describe('deterministic ids', () => {
  it('computes RFC 9562 version-5 UUIDs', () => {
    // Test vector: the DNS namespace and "www.example.com" (RFC 9562, appendix A.4).
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe(
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
  });

  it('gives one cart one order id, whatever the letter case', () => {
    const cartId = '0B6F6D6E-1C1A-4D5E-9F0A-1A2B3C4D5E6F';
    expect(orderIdForCart(cartId)).toBe(orderIdForCart(cartId.toLowerCase()));
    expect(orderIdForCart(cartId)).not.toBe(orderIdForCart('0b6f6d6e-1c1a-4d5e-9f0a-1a2b3c4d5e70'));
  });

  it('gives each event of each transition of an order its own stable id', () => {
    const orderId = orderIdForCart('0b6f6d6e-1c1a-4d5e-9f0a-1a2b3c4d5e6f');
    expect(eventIdFor(orderId, 0, 'OrderCreated')).toBe(eventIdFor(orderId.toUpperCase(), 0, 'OrderCreated'));
    expect(eventIdFor(orderId, 1, 'OrderCancelled')).not.toBe(eventIdFor(orderId, 2, 'OrderCancelled'));
    expect(eventIdFor(orderId, 1, 'OrderCancelled')).not.toBe(eventIdFor(orderId, 1, 'OrderCompleted'));
  });

  it('keeps the ids events had before sequences, for those stored then', () => {
    // An id published by the first version for this order (ids.ts before the lifecycle engine).
    expect(legacyEventIdFor('5d1f8f2e-7a8b-4c9d-8e0f-112233445566', 'OrderCreated')).toBe(
      uuidV5('event:5d1f8f2e-7a8b-4c9d-8e0f-112233445566:OrderCreated'),
    );
    expect(legacyEventIdFor('x', 'OrderCreated')).not.toBe(eventIdFor('x', 0, 'OrderCreated'));
  });
});
