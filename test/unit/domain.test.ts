import { describe, expect, it } from 'vitest';
import type { CreateOrder } from '../../src/contracts/schemas.js';
import { itemsTotal, sameOrderRequest, validateCreateOrder } from '../../src/domain/order.js';

const command = (overrides: Partial<CreateOrder> = {}): CreateOrder => ({
  cartId: '0b6f6d6e-1c1a-4d5e-9f0a-1a2b3c4d5e6f',
  customerId: '5d1f8f2e-7a8b-4c9d-8e0f-112233445566',
  items: [
    { productId: 'a1a1a1a1-0000-4000-8000-000000000001', quantity: 2, unitPrice: 1250 },
    { productId: 'a1a1a1a1-0000-4000-8000-000000000002', quantity: 1, unitPrice: 500 },
  ],
  total: 3000,
  currency: 'EUR',
  ...overrides,
});

describe('money', () => {
  it('adds quantity × unitPrice without losing precision', () => {
    expect(itemsTotal(command().items)).toBe(3000n);
    const huge = [{ productId: 'x', quantity: 2_147_483_647, unitPrice: 2_147_483_647 }];
    expect(itemsTotal(huge)).toBe(4_611_686_014_132_420_609n);
  });
});

describe('validateCreateOrder', () => {
  it('accepts a consistent order', () => {
    expect(validateCreateOrder(command())).toEqual([]);
  });

  it('names every offending field', () => {
    const items = command().items;
    const bad = command({
      items: [items[0]!, { ...items[0]!, unitPrice: -1 }],
      total: 1,
      currency: 'XYZ',
    });
    const fields = validateCreateOrder(bad).map((violation) => `${violation.code} ${violation.field}`);
    expect(fields).toEqual([
      'DUPLICATE_PRODUCT /items/1/productId',
      'NEGATIVE_AMOUNT /items/1/unitPrice',
      'UNKNOWN_CURRENCY /currency',
      'TOTAL_MISMATCH /total',
    ]);
  });

  it('rejects an order without items', () => {
    expect(validateCreateOrder(command({ items: [], total: 0 })).map((v) => v.code)).toEqual(['ITEMS_EMPTY']);
  });

  it('rejects totals beyond the database column', () => {
    const items = [{ productId: 'a1a1a1a1-0000-4000-8000-000000000001', quantity: 3, unitPrice: 1_000_000_000 }];
    expect(validateCreateOrder(command({ items, total: 2_147_483_647 })).map((v) => v.code)).toEqual([
      'AMOUNT_TOO_LARGE',
    ]);
  });
});

describe('sameOrderRequest', () => {
  it('ignores item order and id case', () => {
    const original = command();
    const reordered = command({
      cartId: original.cartId.toUpperCase(),
      items: [...original.items].reverse(),
    });
    expect(sameOrderRequest(original, reordered)).toBe(true);
  });

  it('sees any change of customer, money or items', () => {
    const original = command();
    expect(sameOrderRequest(original, command({ currency: 'USD' }))).toBe(false);
    expect(sameOrderRequest(original, command({ paymentAuthorizationId: 'pa_1' }))).toBe(false);
    expect(sameOrderRequest(original, command({ customerId: '5d1f8f2e-7a8b-4c9d-8e0f-000000000000' }))).toBe(false);
    const items = original.items.map((item, index) => (index === 0 ? { ...item, quantity: 3 } : item));
    expect(sameOrderRequest(original, command({ items, total: 4250 }))).toBe(false);
  });
});
