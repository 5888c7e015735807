// The transition table and what derives from it, and the sandbox's payload checker against Ajv.
import { describe, expect, it } from 'vitest';
import { COMMAND_MESSAGES } from '../../src/contracts/schemas.js';
import { createExactAjv } from '../../src/contracts/validation.js';
import {
  applyTransition,
  COMMAND_NAMES,
  type CommandName,
  type CommandPayloads,
  commandsFrom,
  decideTransition,
  decodeTransitionRequest,
  isFinal,
  LIFECYCLE,
  ORDER_STATUSES,
  type OrderStatus,
  PUBLIC_COMMAND_NAMES,
  TERMINAL_EVENT_TYPES,
  TERMINAL_STATUSES,
  type TransitionRequest,
  targetsOf,
  transitionEvents,
  transitionViolations,
} from '../../src/domain/lifecycle.js';
import { checkPayload } from '../../src/domain/payload-check.js';
import { newCreateOrder, orderFromCommand, transitionContextAt } from '../support/orders.js';

/**
 * The lifecycle, cell by cell: for each status, where each command leads ('same' keeps
 * the status; '=' a repeat that changes nothing; absent: 409).
 */
const EXPECTED: Record<OrderStatus, Partial<Record<CommandName, OrderStatus | 'same' | '='>>> = {
  CREATED: {
    confirm: 'CONFIRMED',
    hold: 'ON_HOLD',
    complete: 'COMPLETED',
    cancel: 'CANCELLED',
    amend: 'same',
    changeDeliveryAddress: 'same',
  },
  CONFIRMED: {
    confirm: '=',
    releaseToFulfilment: 'AWAITING_FULFILMENT',
    hold: 'ON_HOLD',
    complete: 'COMPLETED',
    cancel: 'CANCELLED',
    amend: 'same',
    changeDeliveryAddress: 'same',
  },
  ON_HOLD: { release: 'CONFIRMED', cancel: 'CANCELLED', changeDeliveryAddress: 'same' },
  AWAITING_FULFILMENT: {
    releaseToFulfilment: '=',
    hold: 'ON_HOLD',
    startFulfilment: 'FULFILLING',
    complete: 'COMPLETED',
    cancel: 'CANCELLED',
    changeDeliveryAddress: 'same',
  },
  FULFILLING: { startFulfilment: '=', complete: 'COMPLETED' },
  COMPLETED: { complete: '=', archive: 'ARCHIVED' },
  CANCELLED: { cancel: '=', archive: 'ARCHIVED' },
  ARCHIVED: { archive: '=' },
};

const ORDER = orderFromCommand('5d1f8f2e-7a8b-4c9d-8e0f-112233445566', newCreateOrder(), '2026-11-30T10:00:00.000Z');
const VALID: { [Name in CommandName]: TransitionRequest & { command: Name } } = {
  confirm: { command: 'confirm', payload: { inventoryReservationId: 'inv-1' } },
  releaseToFulfilment: { command: 'releaseToFulfilment', payload: {} },
  hold: {
    command: 'hold',
    payload: { reason: 'FRAUD_REVIEW', ownerTeam: 'risk', reviewBy: '2026-12-01T10:00:00Z' },
  },
  release: { command: 'release', payload: { resolution: 'cleared', nextStatus: 'CONFIRMED' } },
  startFulfilment: {
    command: 'startFulfilment',
    payload: { warehouseId: 'wh-1', priority: 'STANDARD', deliveryMethod: 'HOME_DELIVERY' },
  },
  complete: { command: 'complete', payload: {} },
  cancel: { command: 'cancel', payload: { reason: 'FRAUD' } },
  amend: { command: 'amend', payload: { promotionCode: 'WINTER' } },
  changeDeliveryAddress: {
    command: 'changeDeliveryAddress',
    payload: {
      deliveryAddress: { recipientName: 'A', line1: '1 Road', city: 'Town', postalCode: '12345', countryCode: 'FR' },
    },
  },
  archive: { command: 'archive', payload: {} },
};

describe('transition table', () => {
  it.each(ORDER_STATUSES)('from %s: every command leads where the lifecycle says, or is refused', (status) => {
    for (const name of COMMAND_NAMES) {
      const expected = EXPECTED[status][name];
      const decision = decideTransition(status, VALID[name]);
      if (expected === undefined) expect(decision, `${status} × ${name}`).toEqual({ kind: 'forbidden', from: status });
      else if (expected === '=') expect(decision, `${status} × ${name}`).toEqual({ kind: 'already' });
      else
        expect(decision, `${status} × ${name}`).toEqual({ kind: 'apply', to: expected === 'same' ? status : expected });
    }
  });

  it('a release leads where its payload says', () => {
    const release = (nextStatus: 'CONFIRMED' | 'AWAITING_FULFILMENT') =>
      decideTransition('ON_HOLD', { command: 'release', payload: { resolution: 'ok', nextStatus } });
    expect(release('AWAITING_FULFILMENT')).toEqual({ kind: 'apply', to: 'AWAITING_FULFILMENT' });
    expect(release('CONFIRMED')).toEqual({ kind: 'apply', to: 'CONFIRMED' });
  });

  it('derives the terminal and final statuses from the rows', () => {
    expect(TERMINAL_STATUSES).toEqual(['COMPLETED', 'CANCELLED', 'ARCHIVED']);
    expect(ORDER_STATUSES.filter(isFinal)).toEqual(['ARCHIVED']);
    expect(TERMINAL_EVENT_TYPES).toEqual(['OrderCompleted', 'OrderCancelled']);
    // Only the workflow archives: no HTTP route, no Kafka command, no Update.
    expect(PUBLIC_COMMAND_NAMES).not.toContain('archive');
    expect(commandsFrom('COMPLETED')).toEqual([]);
    expect(commandsFrom('COMPLETED', true)).toEqual(['archive']);
  });

  it('every row leads to known statuses from known statuses and names its Kafka command', () => {
    for (const name of PUBLIC_COMMAND_NAMES) {
      const row = LIFECYCLE[name];
      expect(row.name).toBe(name);
      for (const status of [...row.from, ...targetsOf(name)]) expect(ORDER_STATUSES).toContain(status);
      expect(COMMAND_MESSAGES).toHaveProperty(row.commandType as string);
    }
  });

  it('applies a transition: new status, updatedAt and the fields the command stamps', () => {
    const at = '2026-11-30T11:00:00.000Z';
    expect(applyTransition(ORDER, VALID.cancel, transitionContextAt(at))).toMatchObject({
      status: 'CANCELLED',
      updatedAt: at,
      cancelledAt: at,
      cancellationReason: 'FRAUD',
      completedAt: null,
    });
    expect(applyTransition(ORDER, VALID.complete, transitionContextAt(at))).toMatchObject({
      status: 'COMPLETED',
      completedAt: at,
      cancelledAt: null,
    });
  });

  it("emits each row's events, then OrderStatusChanged when the status changed", () => {
    const at = '2026-11-30T11:00:00.000Z';
    const context = { ...transitionContextAt(at), confirmationNumber: 'ORD-00000042' };
    const held = applyTransition(ORDER, VALID.hold, context);
    expect(held.hold).toMatchObject({ reason: 'FRAUD_REVIEW', reviewBy: '2026-12-01T10:00:00.000Z', overdue: false });
    expect(transitionEvents(ORDER, held, VALID.hold)).toEqual(['OrderPlacedOnHold', 'OrderStatusChanged']);
    // Held before it was confirmed: the release confirms it.
    const released = applyTransition(held, VALID.release, context);
    expect(released).toMatchObject({ status: 'CONFIRMED', hold: null, confirmationNumber: 'ORD-00000042' });
    expect(transitionEvents(held, released, VALID.release)).toEqual([
      'OrderHoldReleased',
      'OrderConfirmed',
      'OrderStatusChanged',
    ]);
    const heldAgain = applyTransition(released, VALID.hold, context);
    const releasedAgain = applyTransition(heldAgain, VALID.release, context);
    expect(transitionEvents(heldAgain, releasedAgain, VALID.release)).toEqual([
      'OrderHoldReleased',
      'OrderStatusChanged',
    ]);
    // An amendment keeps the status: no OrderStatusChanged.
    const amended = applyTransition(ORDER, VALID.amend, context);
    expect(amended).toMatchObject({ status: 'CREATED', revision: 2, promotionCode: 'WINTER' });
    expect(transitionEvents(ORDER, amended, VALID.amend)).toEqual(['OrderAmended']);
  });

  it('an amendment of items follows the create rules and recomputes the total', () => {
    const productId = 'a1a1a1a1-0000-4000-8000-000000000001';
    const amend = (payload: CommandPayloads['amend']) => ({ command: 'amend' as const, payload });
    expect(transitionViolations(ORDER, amend({}))).toMatchObject([{ code: 'NOTHING_TO_AMEND' }]);
    expect(
      transitionViolations(
        ORDER,
        amend({
          items: [
            { productId, quantity: 1, unitPrice: 1 },
            { productId: productId.toUpperCase(), quantity: 1, unitPrice: 1 },
          ],
        }),
      ),
    ).toMatchObject([{ field: '/items/1/productId', code: 'DUPLICATE_PRODUCT' }]);
    expect(
      transitionViolations(ORDER, amend({ items: [{ productId, quantity: 2_000_000_000, unitPrice: 2 }] })),
    ).toMatchObject([{ code: 'AMOUNT_TOO_LARGE' }]);
    const amended = applyTransition(
      ORDER,
      amend({ items: [{ productId, quantity: 3, unitPrice: 250 }] }),
      transitionContextAt('2026-11-30T11:00:00.000Z'),
    );
    expect(amended).toMatchObject({ total: 750, revision: 2, items: [{ productId, quantity: 3, unitPrice: 250 }] });
  });

  it('decodes untrusted requests, naming every violation', () => {
    expect(decodeTransitionRequest('cancel', { reason: 'FRAUD' })).toEqual({
      ok: true,
      request: { command: 'cancel', payload: { reason: 'FRAUD' } },
    });
    expect(decodeTransitionRequest('toString', {})).toMatchObject({ ok: false });
    expect(decodeTransitionRequest('cancel', { reason: 'BOGUS', extra: 1 })).toMatchObject({
      ok: false,
      violations: [
        { field: '/reason', code: 'enum' },
        { field: '/extra', code: 'additionalProperties' },
      ],
    });
    expect(
      decodeTransitionRequest('hold', { reason: 'FRAUD_REVIEW', ownerTeam: 'risk', reviewBy: 'tomorrow' }),
    ).toMatchObject({
      ok: false,
      violations: [{ field: '/reviewBy', code: 'format' }],
    });
  });
});

describe('payload checker of the workflow sandbox', () => {
  const ajv = createExactAjv();
  // Hostile and ordinary payloads: the checker and Ajv must agree on every one of them.
  const samples: unknown[] = [
    undefined,
    null,
    {},
    [],
    'x',
    42,
    true,
    { reason: 'FRAUD' },
    { reason: 'fraud' },
    { reason: 'BOGUS' },
    { reason: '' },
    { reason: 7 },
    { reason: null },
    { reason: ['FRAUD'] },
    { reason: 'FRAUD', extra: 1 },
    { extra: 1 },
    JSON.parse('{"__proto__": {"reason": "FRAUD"}}'),
    { constructor: 'x' },
  ];

  it.each(COMMAND_NAMES)('agrees with Ajv on the %s payload schema', (name) => {
    const schema = LIFECYCLE[name].payloadSchema;
    const validate = ajv.compile(schema);
    for (const sample of samples) {
      expect(checkPayload(schema, sample).length === 0, JSON.stringify(sample)).toBe(validate(sample));
    }
  });

  it('agrees with Ajv on formats, bounds and arrays', () => {
    const schema = {
      type: 'object',
      properties: {
        id: { type: 'string', format: 'uuid' },
        at: { type: 'string', format: 'date-time' },
        note: { type: 'string', minLength: 1, maxLength: 3, pattern: '^[^\\p{Cc}]+$' },
        count: { type: 'integer', minimum: 1, maximum: 5 },
        tags: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 2 },
      },
      required: ['id'],
      additionalProperties: false,
    } as const;
    const validate = ajv.compile(schema);
    const id = '5d1f8f2e-7a8b-4c9d-8e0f-112233445566';
    const cases = [
      { id },
      { id: 'nope' },
      { id, at: '2026-11-30T10:00:00Z' },
      { id, at: '2026-11-30T10:00:00+01:00' },
      { id, at: '2026-13-30T10:00:00Z' },
      { id, at: 'yesterday' },
      { id, note: '' },
      { id, note: 'abcd' },
      { id, note: '😀😀😀' },
      { id, note: 'a\u0000' },
      { id, count: 0 },
      { id, count: 2.5 },
      { id, count: 5 },
      { id, count: Number.NaN },
      { id, tags: [] },
      { id, tags: ['a', 'b', 'c'] },
      { id, tags: ['a', 1] },
    ];
    for (const sample of cases) {
      expect(checkPayload(schema, sample).length === 0, JSON.stringify(sample)).toBe(validate(sample));
    }
  });
});
