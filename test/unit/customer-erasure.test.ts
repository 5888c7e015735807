// The rules of customer data in events and of its erasure (src/domain/customer-erasure.ts), on
// every event of a whole lifecycle built as the activities build them: events carry personal data
// only in fields the catalog requires, and erasure leaves no personal data, keeps every other
// value, and leaves each payload valid against the catalog's schema.
import { describe, expect, it } from 'vitest';
import type { Order } from '../../src/contracts/schemas.js';
import { CustomerDataErased } from '../../src/contracts/schemas.js';
import { createExactAjv } from '../../src/contracts/validation.js';
import {
  archivedRecordOf,
  ERASED_MARKER,
  ErasureRefused,
  erasedReason,
  erasePersonalData,
  hasEnded,
  isReasonCode,
} from '../../src/domain/customer-erasure.js';
import { eventsOf, type NewEvent } from '../../src/domain/events.js';
import {
  applyTransition,
  CANCELLATION_REASONS,
  HOLD_REASONS,
  ORDER_STATUSES,
  reasonOf,
  type TransitionRequest,
  transitionEvents,
} from '../../src/domain/lifecycle.js';
import { expectValid, headCatalogSchemas } from '../support/catalog.js';
import { newCreateOrder, orderFromCommand, transitionContextAt } from '../support/orders.js';

const ADDRESS = {
  recipientName: 'Canary Recipient',
  line1: 'Canary Line One',
  line2: 'Canary Line Two',
  city: 'Canary City',
  postalCode: 'CANARY-1',
  countryCode: 'GB',
};
const MOVED = { ...ADDRESS, line1: 'Canary Moved Street', postalCode: 'CANARY-2' };
const MESSAGE = 'Canary message to the customer';
const RESOLUTION = 'Canary resolution naming the customer';
const AMENDMENT_REASON = 'Canary amendment reason';
const CANARY = /Canary|CANARY/;

/** Every event of a lifecycle that passes through each command carrying free text, as the activities build them. */
function lifecycleEvents(): NewEvent[] {
  const command = newCreateOrder({ deliveryAddress: ADDRESS, deliveryMethod: 'HOME_DELIVERY' });
  let order: Order = orderFromCommand('0b7c0000-0000-4000-8000-000000000001', command, '2026-12-01T10:00:00.000Z');
  const requests: TransitionRequest[] = [
    { command: 'amend', payload: { promotionCode: 'WINTER', reason: AMENDMENT_REASON } },
    { command: 'changeDeliveryAddress', payload: { deliveryAddress: MOVED } },
    {
      command: 'hold',
      payload: {
        reason: 'PAYMENT_REVIEW',
        ownerTeam: 'ops',
        customerMessage: MESSAGE,
        reviewBy: '2026-12-02T10:00:00Z',
      },
    },
    { command: 'release', payload: { resolution: RESOLUTION, nextStatus: 'CONFIRMED' } },
    { command: 'releaseToFulfilment', payload: {} },
    {
      command: 'startFulfilment',
      payload: { warehouseId: 'wh-1', priority: 'STANDARD', deliveryMethod: 'HOME_DELIVERY' },
    },
    { command: 'complete', payload: {} },
    { command: 'archive', payload: {} },
  ];
  const events: NewEvent[] = [];
  let statusSequence = 0;
  requests.forEach((request, index) => {
    const at = new Date(Date.parse('2026-12-01T11:00:00.000Z') + index * 60_000).toISOString();
    const context = {
      ...transitionContextAt(at, index + 1, 'api-key:ops'),
      confirmationNumber: 'ORD-00000042',
      recordChecksum: 'a'.repeat(64),
    };
    const next = applyTransition(order, request, context);
    if (next.status !== order.status) statusSequence++;
    const facts = { before: order, request, actor: 'api-key:ops', reason: reasonOf(request), statusSequence };
    events.push(...eventsOf(transitionEvents(order, next, request), next, facts));
    order = next;
  });
  return events;
}

const catalogRequired = (type: string) =>
  ((headCatalogSchemas[type] as { required?: string[] } | undefined)?.required ?? []) as string[];

describe('events carry what the catalog requires of customer data, and nothing more', () => {
  const events = lifecycleEvents();

  it('builds every kind of event of the lifecycle, each valid against the catalog', () => {
    expect(new Set(events.map((event) => event.type))).toEqual(
      new Set([
        'OrderAmended',
        'OrderDeliveryAddressChanged',
        'OrderPlacedOnHold',
        'OrderStatusChanged',
        'OrderHoldReleased',
        'OrderConfirmed',
        'OrderFulfilmentStarted',
        'OrderCompleted',
        'OrderArchived',
      ]),
    );
    for (const event of events) expectValid(event.type as 'OrderArchived', event.payload);
  });

  it('puts personal data only in fields the catalog requires (the new address, the old postal code, the resolution)', () => {
    const carrying = events.flatMap((event) =>
      Object.entries(event.payload)
        .filter(([, value]) => CANARY.test(JSON.stringify(value)))
        .map(([field]) => `${event.type}.${field}`),
    );
    expect(carrying.sort()).toEqual([
      'OrderDeliveryAddressChanged.deliveryAddress',
      'OrderDeliveryAddressChanged.previousPostalCode',
      'OrderHoldReleased.resolution',
    ]);
    for (const entry of carrying) {
      const [type, field] = entry.split('.') as [string, string];
      expect(catalogRequired(type), entry).toContain(field);
    }
  });

  it('leaves out the optional customerMessage and amendment reason, and a changeReason that is not a code', () => {
    const payloadsOf = (type: string) =>
      events.filter((event) => event.type === type).map((event) => event.payload as Record<string, unknown>);
    expect(payloadsOf('OrderPlacedOnHold')[0]).not.toHaveProperty('customerMessage');
    expect(payloadsOf('OrderAmended')[0]).not.toHaveProperty('reason');
    const reasons = payloadsOf('OrderStatusChanged').map((payload) => payload.changeReason);
    // The hold's code stays; the release's resolution (free text) does not go out twice.
    expect(reasons).toEqual(['PAYMENT_REVIEW', undefined, undefined, undefined, undefined, undefined]);
  });
});

describe('erasure of personal data', () => {
  it('leaves no personal data in any event of the lifecycle, keeps every other value, and the catalog still holds', () => {
    for (const event of lifecycleEvents()) {
      const erased = erasePersonalData(event.payload);
      expect(JSON.stringify(erased), event.type).not.toMatch(CANARY);
      expectValid(event.type as 'OrderArchived', erased);
      // Every value that held no personal data is as it was.
      const kept = (payload: object) =>
        Object.fromEntries(Object.entries(payload).filter(([, value]) => !CANARY.test(JSON.stringify(value))));
      expect(kept(erased), event.type).toMatchObject(kept(event.payload));
    }
  });

  it('replaces each line of an address with the marker and keeps the country; an absent line stays absent', () => {
    expect(erasePersonalData(ADDRESS)).toEqual({
      recipientName: ERASED_MARKER,
      line1: ERASED_MARKER,
      line2: ERASED_MARKER,
      city: ERASED_MARKER,
      postalCode: ERASED_MARKER,
      countryCode: 'GB',
    });
    const { line2: _line2, ...withoutLine2 } = ADDRESS;
    expect(erasePersonalData(withoutLine2)).not.toHaveProperty('line2');
    expect(erasePersonalData(null)).toBeNull();
    // An empty previous postal code (no address before) says nothing about anyone: kept as it is.
    expect(erasePersonalData({ previousPostalCode: '' })).toEqual({ previousPostalCode: '' });
  });

  it('keeps reason codes and erases free-text reasons, in events and in the history', () => {
    for (const code of [...HOLD_REASONS, ...CANCELLATION_REASONS]) {
      expect(isReasonCode(code)).toBe(true);
      expect(erasedReason(code)).toBe(code);
      expect(erasePersonalData({ reason: code, changeReason: code })).toEqual({ reason: code, changeReason: code });
    }
    expect(erasedReason(RESOLUTION)).toBe(ERASED_MARKER);
    expect(erasedReason(null)).toBeNull();
    expect(erasePersonalData({ hold: { reason: 'FRAUD_REVIEW', customerMessage: MESSAGE, ownerTeam: 'ops' } })).toEqual(
      {
        hold: { reason: 'FRAUD_REVIEW', customerMessage: ERASED_MARKER, ownerTeam: 'ops' },
      },
    );
  });

  it('takes only orders that have ended: COMPLETED, CANCELLED, ARCHIVED', () => {
    expect(ORDER_STATUSES.filter(hasEnded)).toEqual(['COMPLETED', 'CANCELLED', 'ARCHIVED']);
    const refusal = new ErasureRefused('c', [{ orderId: 'o-1', status: 'ON_HOLD' }]);
    expect(refusal.code).toBe('CUSTOMER_HAS_OPEN_ORDERS');
    expect(refusal.message).toContain('o-1 (ON_HOLD)');
  });

  it('rebuilds the record an archived order’s checksum covers: its terminal status and time, the history before the archival', () => {
    const command = newCreateOrder();
    const order = orderFromCommand('0b7c0000-0000-4000-8000-000000000002', command, '2026-12-01T10:00:00.000Z');
    expect(archivedRecordOf(order, [])).toBeNull();
    const archived: Order = {
      ...order,
      status: 'ARCHIVED',
      updatedAt: '2026-12-03T00:00:00.000Z',
      completedAt: '2026-12-02T00:00:00.000Z',
      archive: {
        terminalStatus: 'COMPLETED',
        terminalAt: '2026-12-02T00:00:00.000Z',
        retentionCategory: 'FINANCIAL_RECORD',
        archiveReference: 'archive/2026-12/x',
        recordChecksum: 'b'.repeat(64),
        archivedAt: '2026-12-03T00:00:00.000Z',
      },
    };
    const history = [{ command: 'create' }, { command: 'complete' }, { command: 'archive' }];
    expect(archivedRecordOf(archived, history)).toEqual({
      order: { ...archived, status: 'COMPLETED', updatedAt: '2026-12-02T00:00:00.000Z', archive: null },
      history: [{ command: 'create' }, { command: 'complete' }],
    });
  });

  it('CustomerDataErased validates as asyncapi.yaml publishes it', () => {
    const validate = createExactAjv().compile(CustomerDataErased);
    const event = {
      orderId: '0b7c0000-0000-4000-8000-000000000003',
      customerId: '0b7c0000-0000-4000-8000-000000000004',
      erasureId: '0b7c0000-0000-4000-8000-000000000005',
      erasedFields: ['recipientName'],
      marker: ERASED_MARKER,
      erasedAt: '2026-12-05T07:00:00.000Z',
    };
    expect(validate(event), JSON.stringify(validate.errors)).toBe(true);
    expect(validate({ ...event, marker: 'gone' })).toBe(false);
  });
});
