// The transition table and what derives from it, and the sandbox's payload checker against Ajv.
import { describe, expect, it } from 'vitest';
import { COMMAND_MESSAGES } from '../../src/contracts/schemas.js';
import { createExactAjv } from '../../src/contracts/validation.js';
import {
  applyTransition,
  COMMAND_NAMES,
  commandsFrom,
  decideTransition,
  decodeTransitionRequest,
  isTerminal,
  LIFECYCLE,
  ORDER_STATUSES,
  TERMINAL_EVENT_TYPES,
  TERMINAL_STATUSES,
} from '../../src/domain/lifecycle.js';
import { checkPayload } from '../../src/domain/payload-check.js';
import { newCreateOrder, orderFromCommand } from '../support/orders.js';

describe('transition table', () => {
  it('lets a CREATED order complete or cancel, and nothing else move', () => {
    expect(decideTransition('CREATED', 'complete')).toEqual({ kind: 'apply', to: 'COMPLETED' });
    expect(decideTransition('CREATED', 'cancel')).toEqual({ kind: 'apply', to: 'CANCELLED' });
    expect(decideTransition('COMPLETED', 'cancel')).toEqual({ kind: 'forbidden', from: 'COMPLETED' });
    expect(decideTransition('CANCELLED', 'complete')).toEqual({ kind: 'forbidden', from: 'CANCELLED' });
  });

  it('treats repeating the command that got the order where it is as a no-op', () => {
    expect(decideTransition('COMPLETED', 'complete')).toEqual({ kind: 'already' });
    expect(decideTransition('CANCELLED', 'cancel')).toEqual({ kind: 'already' });
  });

  it('derives the final statuses and their events from the rows', () => {
    expect(TERMINAL_STATUSES).toEqual(['COMPLETED', 'CANCELLED']);
    expect(ORDER_STATUSES.filter(isTerminal)).toEqual(TERMINAL_STATUSES);
    expect(TERMINAL_EVENT_TYPES).toEqual(['OrderCompleted', 'OrderCancelled']);
    expect(commandsFrom('CREATED')).toEqual(COMMAND_NAMES);
  });

  it('every row leads to a known status from known statuses and names its Kafka command', () => {
    for (const name of COMMAND_NAMES) {
      const row = LIFECYCLE[name];
      expect(row.name).toBe(name);
      expect(ORDER_STATUSES).toContain(row.to);
      for (const from of row.from) expect(ORDER_STATUSES).toContain(from);
      expect(COMMAND_MESSAGES).toHaveProperty(row.commandType);
    }
  });

  it('applies a transition: new status, updatedAt and the fields the command stamps', () => {
    const order = orderFromCommand(
      '5d1f8f2e-7a8b-4c9d-8e0f-112233445566',
      newCreateOrder(),
      '2026-11-30T10:00:00.000Z',
    );
    const at = '2026-11-30T11:00:00.000Z';
    expect(applyTransition(order, { command: 'cancel', payload: { reason: 'FRAUD' } }, at)).toMatchObject({
      status: 'CANCELLED',
      updatedAt: at,
      cancelledAt: at,
      cancellationReason: 'FRAUD',
      completedAt: null,
    });
    expect(applyTransition(order, { command: 'complete', payload: {} }, at)).toMatchObject({
      status: 'COMPLETED',
      completedAt: at,
      cancelledAt: null,
    });
  });

  it('decodes untrusted requests, naming every violation', () => {
    expect(decodeTransitionRequest('cancel', { reason: 'FRAUD' })).toEqual({
      ok: true,
      request: { command: 'cancel', payload: { reason: 'FRAUD' } },
    });
    expect(decodeTransitionRequest('archive', {})).toMatchObject({ ok: false });
    expect(decodeTransitionRequest('toString', {})).toMatchObject({ ok: false });
    expect(decodeTransitionRequest('cancel', { reason: 'BOGUS', extra: 1 })).toMatchObject({
      ok: false,
      violations: [
        { field: '/reason', code: 'enum' },
        { field: '/extra', code: 'additionalProperties' },
      ],
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
