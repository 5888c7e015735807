// The handler of ordering.commands without Kafka: what it serves, what it dead-letters and
// why, and that an unavailable dependency is retried instead (the message stays uncommitted).
import { randomUUID } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import { createCommandHandler, decodeCommand } from '../../src/commands/command-handler.js';
import type { CreateOrder, Order } from '../../src/contracts/schemas.js';
import { ErrorCode, OrderError } from '../../src/domain/order.js';
import type { IncomingMessage, OutgoingMessage } from '../../src/kafka/index.js';
import type { CreateOrderOutcome, OrderService, TransitionOutcome } from '../../src/orders/order-service.js';
import { newCreateOrder } from '../support/orders.js';

function message(type: string | undefined, value: unknown, headers: Record<string, string> = {}): IncomingMessage {
  return {
    topic: 'ordering.commands',
    partition: 3,
    offset: '41',
    key: Buffer.from('the-key'),
    value: value === null ? null : Buffer.isBuffer(value) ? value : Buffer.from(JSON.stringify(value)),
    headers: { ...(type !== undefined && { ce_type: Buffer.from(type) }), ...headers },
  };
}

const order = { orderId: randomUUID(), status: 'CANCELLED' } as Order;
const silent = { info: () => {}, warn: () => {}, error: () => {} };

function setup(
  orders: Partial<Pick<OrderService, 'createOrder' | 'transitionOrder'>>,
  publish = vi.fn(async () => {}),
) {
  const createOrder = vi.fn<OrderService['createOrder']>(
    orders.createOrder ?? (async (): Promise<CreateOrderOutcome> => ({ kind: 'accepted', orderId: order.orderId })),
  );
  const transitionOrder = vi.fn<OrderService['transitionOrder']>(
    orders.transitionOrder ?? (async (): Promise<TransitionOutcome> => ({ kind: 'done', order, changed: true })),
  );
  const handle = createCommandHandler({
    orders: { createOrder, transitionOrder },
    deadLetters: { publish },
    deadLetterTopic: 'ordering.commands.dlq',
    consumerGroup: 'group-1',
    logger: silent,
    retry: { initialDelayMs: 1, maxDelayMs: 2, maxUnexpectedAttempts: 3 },
  });
  const signal = new AbortController().signal;
  return {
    handle: (m: IncomingMessage, s = signal) => handle(m, { signal: s }),
    createOrder,
    transitionOrder,
    publish,
  };
}

const unavailable = () => Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

describe('decodeCommand', () => {
  it('takes each command by its ce_type and validates its payload', () => {
    const command = newCreateOrder();
    expect(decodeCommand(message('CreateOrder', command))).toEqual({
      ok: true,
      command: { type: 'CreateOrder', payload: command },
    });
    const orderId = randomUUID();
    expect(decodeCommand(message('CompleteOrder', { orderId }))).toMatchObject({ ok: true });
    expect(decodeCommand(message('CancelOrder', { orderId, reason: 'FRAUD' }))).toMatchObject({ ok: true });
  });

  it.each([
    ['no ce_type', message(undefined, {}), 'UNKNOWN_COMMAND'],
    ['an unknown ce_type', message('ShipOrder', {}), 'UNKNOWN_COMMAND'],
    ['a ce_type of Object.prototype', message('constructor', {}), 'UNKNOWN_COMMAND'],
    ['no value', message('CreateOrder', null), 'MALFORMED_JSON'],
    ['an empty value', message('CreateOrder', Buffer.alloc(0)), 'MALFORMED_JSON'],
    ['invalid JSON', message('CreateOrder', Buffer.from('{"a":')), 'MALFORMED_JSON'],
    ['invalid UTF-8', message('CreateOrder', Buffer.from([0x22, 0xc3, 0x28, 0x22])), 'MALFORMED_JSON'],
    [
      'a string where a number belongs',
      message('CreateOrder', { ...newCreateOrder(), total: '5' }),
      'VALIDATION_FAILED',
    ],
    ['an extra field', message('CompleteOrder', { orderId: randomUUID(), reason: 'FRAUD' }), 'VALIDATION_FAILED'],
    ['a bad uuid', message('CompleteOrder', { orderId: 'nope' }), 'VALIDATION_FAILED'],
  ])('refuses %s', (_name, input, reason) => {
    const decoded = decodeCommand(input);
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) expect(decoded.rejection.reason).toBe(reason);
  });

  it('names each offending field, as the HTTP error body does', () => {
    const { items: _items, ...command } = newCreateOrder();
    const decoded = decodeCommand(message('CreateOrder', { ...command, extra: 1 }));
    expect(decoded.ok).toBe(false);
    if (!decoded.ok) {
      expect(decoded.rejection.details.map((detail) => [detail.field, detail.code])).toEqual(
        expect.arrayContaining([
          ['/items', 'required'],
          ['/extra', 'additionalProperties'],
        ]),
      );
    }
  });
});

describe('the command handler', () => {
  it('runs the same order-service call as the HTTP route; accepted counts as served', async () => {
    const { handle, createOrder, transitionOrder, publish } = setup({});
    const command = newCreateOrder();
    await handle(message('CreateOrder', command));
    expect(createOrder).toHaveBeenCalledWith(command, 'kafka:group-1');
    const orderId = randomUUID().toUpperCase();
    await handle(message('CancelOrder', { orderId, reason: 'FRAUD' }));
    await handle(message('CompleteOrder', { orderId }));
    expect(transitionOrder.mock.calls).toEqual([
      [orderId.toLowerCase(), { command: 'cancel', payload: { reason: 'FRAUD' } }, 'kafka:group-1'],
      [orderId.toLowerCase(), { command: 'complete', payload: {} }, 'kafka:group-1'],
    ]);
    expect(publish).not.toHaveBeenCalled();
  });

  it('dead-letters an order error with the original message and headers saying why', async () => {
    const { handle, publish } = setup({
      transitionOrder: async (): Promise<TransitionOutcome> => {
        throw new OrderError(ErrorCode.TRANSITION_NOT_ALLOWED, 'order x is CANCELLED; it cannot complete');
      },
    });
    const input = message('CompleteOrder', { orderId: randomUUID() }, { ce_id: 'abc' });
    await handle(input);
    expect(publish).toHaveBeenCalledTimes(1);
    const [topic, letter] = publish.mock.calls[0] as unknown as [string, OutgoingMessage];
    expect(topic).toBe('ordering.commands.dlq');
    expect(letter.key).toBe(input.key);
    expect(letter.value).toBe(input.value);
    expect(letter.headers).toMatchObject({
      ce_type: input.headers.ce_type,
      ce_id: 'abc',
      dlq_reason: 'TRANSITION_NOT_ALLOWED',
      dlq_message: 'order x is CANCELLED; it cannot complete',
      dlq_original_topic: 'ordering.commands',
      dlq_original_partition: '3',
      dlq_original_offset: '41',
      dlq_consumer_group: 'group-1',
    });
    expect(letter.headers.dlq_details).toBeUndefined();
  });

  it('dead-letters a CreateOrder that breaks the order rules with the violations', async () => {
    const { handle, publish } = setup({
      createOrder: async (): Promise<CreateOrderOutcome> => {
        throw new OrderError(ErrorCode.VALIDATION_FAILED, 'the order breaks the order rules', [
          { field: '/total', code: 'TOTAL_MISMATCH', message: 'total is 1 but the items add up to 2' },
        ]);
      },
    });
    await handle(message('CreateOrder', newCreateOrder()));
    const [, letter] = publish.mock.calls[0] as unknown as [string, OutgoingMessage];
    expect(letter.headers.dlq_reason).toBe('VALIDATION_FAILED');
    expect(JSON.parse(String(letter.headers.dlq_details))).toEqual([
      { field: '/total', code: 'TOTAL_MISMATCH', message: 'total is 1 but the items add up to 2' },
    ]);
  });

  it('retries while a dependency is unavailable, then serves the command without dead-lettering it', async () => {
    let calls = 0;
    const { handle, publish, createOrder } = setup({
      createOrder: async (command: CreateOrder): Promise<CreateOrderOutcome> => {
        calls += 1;
        if (calls <= 5) throw unavailable();
        return { kind: 'accepted', orderId: command.cartId };
      },
    });
    await handle(message('CreateOrder', newCreateOrder()));
    expect(createOrder).toHaveBeenCalledTimes(6);
    expect(publish).not.toHaveBeenCalled();
  });

  it('throws, leaving the message uncommitted, when stopped while retrying', async () => {
    const stop = new AbortController();
    const { handle, publish } = setup({
      createOrder: async () => {
        stop.abort(new Error('stopping'));
        throw unavailable();
      },
    });
    await expect(handle(message('CreateOrder', newCreateOrder()), stop.signal)).rejects.toThrow();
    expect(publish).not.toHaveBeenCalled();
  });

  it('dead-letters a command that keeps failing for an unexpected reason', async () => {
    const { handle, publish, createOrder } = setup({
      createOrder: async () => {
        throw new TypeError('cannot read properties of undefined');
      },
    });
    await handle(message('CreateOrder', newCreateOrder()));
    expect(createOrder).toHaveBeenCalledTimes(3);
    const [, letter] = publish.mock.calls[0] as unknown as [string, OutgoingMessage];
    expect(letter.headers.dlq_reason).toBe('PROCESSING_FAILED');
    expect(letter.headers.dlq_message).toContain('cannot read properties of undefined');
  });

  it('retries the dead letter until Kafka takes it', async () => {
    let attempts = 0;
    const publish = vi.fn(async () => {
      attempts += 1;
      if (attempts < 3) throw new Error('KafkaJSConnectionError');
    });
    const { handle } = setup({}, publish);
    await handle(message('ShipOrder', {}));
    expect(publish).toHaveBeenCalledTimes(3);
  });
});
