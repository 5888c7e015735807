// Commands over Kafka on the real stack: the worker's consumer of ordering.commands serves
// CreateOrder, CancelOrder and CompleteOrder as the HTTP routes do, and dead-letters what it
// cannot serve to ordering.commands.dlq without blocking the partition.
import { randomUUID } from 'node:crypto';
import { type Admin, Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { CreateOrder } from '../../src/contracts/schemas.js';
import { orderIdForCart } from '../../src/ids.js';
import { expectValid } from '../support/catalog.js';
import { collectOrderEvents } from '../support/events.js';
import { newCreateOrder } from '../support/orders.js';
import { testEnvironment, topicsOf } from '../support/stack.js';
import { eventually } from '../support/wait.js';

// The test environment's topics (KAFKA_TOPIC_PREFIX), as the worker under test consumes them.
const { commands: COMMANDS, deadLetters: DLQ } = topicsOf(testEnvironment());

interface DeadLetter {
  key: string | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

let db: pg.Pool;
let events: Awaited<ReturnType<typeof collectOrderEvents>>;
let kafka: Kafka;
let producer: Producer;
let admin: Admin;
let groupId: string;
const deadLetters: DeadLetter[] = [];
let closeDeadLetters: () => Promise<void>;

beforeAll(async () => {
  const env = inject('env');
  // The worker's group: the configured one after the environment's prefix.
  groupId = `${env.KAFKA_TOPIC_PREFIX ?? ''}${loadConfig(env).COMMANDS_CONSUMER_GROUP}`;
  const brokers = env.KAFKA_BROKERS!.split(',');
  db = new pg.Pool({ connectionString: env.DATABASE_URL, max: 4 });
  events = await collectOrderEvents(brokers, topicsOf(env).events);
  kafka = new Kafka({ clientId: 'command-tests', brokers, logLevel: logLevel.NOTHING });
  producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  admin = kafka.admin();
  await admin.connect();

  const consumer = kafka.consumer({ groupId: `command-tests-dlq-${randomUUID()}` });
  await consumer.connect();
  await consumer.subscribe({ topic: DLQ, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message }) => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = String(value);
      // Only what this run's worker dead-lettered (another consumer group may read the same topic).
      if (headers.dlq_consumer_group !== groupId) return;
      deadLetters.push({ key: message.key?.toString('utf8') ?? null, value: message.value, headers });
    },
  });
  closeDeadLetters = () => consumer.disconnect();
});

afterAll(async () => {
  await closeDeadLetters?.();
  await producer?.disconnect();
  await admin?.disconnect();
  await events?.close();
  await db?.end();
});

/** Sends one command as a producer of another service would: CloudEvents binary mode, ce_type names the command. */
async function send(
  key: string,
  type: string | undefined,
  value: unknown,
): Promise<{ partition: number; offset: string }> {
  const headers: Record<string, string> = {
    ce_specversion: '1.0',
    ce_id: randomUUID(),
    ce_source: '/acme/tests/commands',
    'content-type': 'application/json',
    ...(type !== undefined && { ce_type: type }),
  };
  const [metadata] = await producer.send({
    topic: COMMANDS,
    acks: -1,
    messages: [
      { key, value: typeof value === 'string' || Buffer.isBuffer(value) ? value : JSON.stringify(value), headers },
    ],
  });
  if (metadata === undefined || metadata.baseOffset === undefined) throw new Error('no record metadata');
  return { partition: metadata.partition, offset: metadata.baseOffset };
}

const deadLettersOf = (key: string) => deadLetters.filter((letter) => letter.key === key);

/**
 * The dead letters of `key`, once everything sent with it so far has been dealt with: a
 * sentinel (an unknown command) sent now is dead-lettered after them, on the same partition.
 */
async function settledDeadLettersOf(key: string): Promise<DeadLetter[]> {
  const sentinel = randomUUID();
  await send(key, 'Sentinel', { sentinel });
  await eventually(`sentinel on ${DLQ}`, () =>
    deadLettersOf(key).some((letter) => letter.value?.toString('utf8').includes(sentinel)) ? true : undefined,
  );
  return deadLettersOf(key).filter((letter) => letter.headers.ce_type !== 'Sentinel');
}

async function orderRow(orderId: string) {
  const { rows } = await db.query('SELECT * FROM orders WHERE order_id = $1', [orderId]);
  return rows[0] as Record<string, unknown> | undefined;
}

/** The order's row in the test database once it has `status`: proof that the test worker served the command. */
function orderRowWith(orderId: string, status: string) {
  return eventually(`order ${orderId} ${status} in the database`, async () => {
    const row = await orderRow(orderId);
    return row?.status === status ? row : undefined;
  });
}

/**
 * The order's events, one per ce_id. Every consumer group gets every command: a worker of
 * another environment on this Kafka (`npm start`) may serve it too and publish the same events
 * again, with the same ce_id (consumers deduplicate on it).
 */
function eventsOf(orderId: string) {
  return [...new Map(events.ofOrder(orderId).map((event) => [event.headers.ce_id, event])).values()];
}

async function expectEvents(orderId: string, types: string[]) {
  const seen = await eventually(`${types.join(', ')} of order ${orderId}`, () => {
    const distinct = eventsOf(orderId);
    return distinct.length >= types.length ? distinct : undefined;
  });
  expect(seen.map((event) => event.headers.ce_type)).toEqual(types);
  for (const event of seen) expectValid(event.headers.ce_type as 'OrderCreated', event.payload);
  return seen;
}

async function committedOffset(partition: number): Promise<bigint> {
  const [topic] = await admin.fetchOffsets({ groupId, topics: [COMMANDS] });
  const offset = topic?.partitions.find((entry) => entry.partition === partition)?.offset ?? '-1';
  return BigInt(offset);
}

describe('CreateOrder on ordering.commands', () => {
  it('creates the order in PostgreSQL, announces OrderCreated, and commits the offset', async () => {
    const command = newCreateOrder();
    const orderId = orderIdForCart(command.cartId);
    const sent = await send(command.cartId, 'CreateOrder', command);

    const [created] = await expectEvents(orderId, ['OrderCreated']);
    expect(created?.payload).toMatchObject({
      orderId,
      customerId: command.customerId,
      total: command.total,
      currency: command.currency,
      status: 'created',
    });
    expect(await orderRowWith(orderId, 'CREATED')).toMatchObject({
      status: 'CREATED',
      cart_id: command.cartId,
      customer_id: command.customerId,
      total_cents: command.total,
      payment_authorization_id: command.paymentAuthorizationId,
    });
    await eventually('committed offset', async () =>
      (await committedOffset(sent.partition)) > BigInt(sent.offset) ? true : undefined,
    );
    expect(await settledDeadLettersOf(command.cartId)).toEqual([]);
  });

  it('makes one order of the same command delivered twice (a replay after a crash)', async () => {
    const command = newCreateOrder();
    const orderId = orderIdForCart(command.cartId);
    await send(command.cartId, 'CreateOrder', command);
    await send(command.cartId, 'CreateOrder', command);
    // Served in order on the partition: once the order is completed, both creates were handled.
    await send(command.cartId, 'CompleteOrder', { orderId });

    await expectEvents(orderId, ['OrderCreated', 'OrderCompleted', 'OrderStatusChanged']);
    const { rows } = await db.query('SELECT count(*)::int AS n FROM orders WHERE cart_id = $1', [command.cartId]);
    expect(rows[0].n).toBe(1);
    const stored = await db.query(
      'SELECT event_type FROM order_events WHERE order_id = $1 ORDER BY sequence, position',
      [orderId],
    );
    expect(stored.rows.map((row) => row.event_type)).toEqual(['OrderCreated', 'OrderCompleted', 'OrderStatusChanged']);
    expect(await settledDeadLettersOf(command.cartId)).toEqual([]);
    // Still exactly one OrderCreated on the topic.
    expect(eventsOf(orderId).map((event) => event.headers.ce_type)).toEqual([
      'OrderCreated',
      'OrderCompleted',
      'OrderStatusChanged',
    ]);
  });

  it('takes ids in any letter case, as the HTTP route does', async () => {
    const command = newCreateOrder();
    const orderId = orderIdForCart(command.cartId);
    await send(command.cartId, 'CreateOrder', { ...command, cartId: command.cartId.toUpperCase() });
    await send(command.cartId, 'CancelOrder', { orderId: orderId.toUpperCase(), reason: 'CUSTOMER_REQUESTED' });
    await expectEvents(orderId, ['OrderCreated', 'OrderCancelled', 'OrderStatusChanged']);
    expect(await orderRowWith(orderId, 'CANCELLED')).toMatchObject({ cart_id: command.cartId });
  });
});

describe('CancelOrder and CompleteOrder on ordering.commands', () => {
  async function createdOrder(): Promise<{ command: CreateOrder; orderId: string }> {
    const command = newCreateOrder();
    const orderId = orderIdForCart(command.cartId);
    await send(orderId, 'CreateOrder', command);
    await expectEvents(orderId, ['OrderCreated']);
    return { command, orderId };
  }

  it('CancelOrder cancels the order with its reason and announces OrderCancelled', async () => {
    const { command, orderId } = await createdOrder();
    await send(orderId, 'CancelOrder', { orderId, reason: 'OUT_OF_STOCK' });

    const [, cancelled] = await expectEvents(orderId, ['OrderCreated', 'OrderCancelled', 'OrderStatusChanged']);
    expect(cancelled?.payload).toMatchObject({ orderId, customerId: command.customerId, reason: 'OUT_OF_STOCK' });
    const row = await orderRowWith(orderId, 'CANCELLED');
    expect(row).toMatchObject({ cancellation_reason: 'OUT_OF_STOCK', completed_at: null });
    expect(row?.cancelled_at).toBeInstanceOf(Date);
  });

  it('CompleteOrder completes the order and announces OrderCompleted; repeating it changes nothing', async () => {
    const { command, orderId } = await createdOrder();
    await send(orderId, 'CompleteOrder', { orderId });
    await send(orderId, 'CompleteOrder', { orderId });

    const [, completed] = await expectEvents(orderId, ['OrderCreated', 'OrderCompleted', 'OrderStatusChanged']);
    expect(completed?.payload).toMatchObject({ orderId, customerId: command.customerId });
    const row = await orderRowWith(orderId, 'COMPLETED');
    expect(row).toMatchObject({ cancelled_at: null });
    expect(row?.completed_at).toBeInstanceOf(Date);
    // The repeat is a no-op, as on HTTP (200 with the order), not a dead letter.
    expect(await settledDeadLettersOf(orderId)).toEqual([]);
    expect(eventsOf(orderId)).toHaveLength(3);
  });
});

describe('commands that cannot be served', () => {
  it('go to the dead-letter topic with headers saying why, and the partition keeps flowing', async () => {
    const key = `poison-${randomUUID()}`;
    // An order to break the rules with: created, then cancelled.
    const placed = newCreateOrder();
    const placedId = orderIdForCart(placed.cartId);
    await send(key, 'CreateOrder', placed);
    await send(key, 'CancelOrder', { orderId: placedId, reason: 'FRAUD' });
    await expectEvents(placedId, ['OrderCreated', 'OrderCancelled', 'OrderStatusChanged']);

    const invalid = newCreateOrder();
    const { items: _items, ...withoutItems } = invalid;
    const poison: { type: string | undefined; value: unknown; reason: string }[] = [
      { type: 'CreateOrder', value: '{"cartId": "not json', reason: 'MALFORMED_JSON' },
      { type: 'CreateOrder', value: Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), reason: 'MALFORMED_JSON' },
      { type: 'CreateOrder', value: { ...withoutItems, coupon: 'FREE' }, reason: 'VALIDATION_FAILED' },
      { type: 'CancelOrder', value: { orderId: placedId, reason: 'BORED' }, reason: 'VALIDATION_FAILED' },
      { type: 'ShipOrder', value: { orderId: placedId }, reason: 'UNKNOWN_COMMAND' },
      { type: undefined, value: { orderId: placedId }, reason: 'UNKNOWN_COMMAND' },
      { type: 'CancelOrder', value: { orderId: randomUUID(), reason: 'FRAUD' }, reason: 'ORDER_NOT_FOUND' },
      { type: 'CompleteOrder', value: { orderId: placedId }, reason: 'TRANSITION_NOT_ALLOWED' },
      { type: 'CreateOrder', value: { ...invalid, total: invalid.total + 1 }, reason: 'VALIDATION_FAILED' },
      { type: 'CreateOrder', value: { ...placed, paymentAuthorizationId: 'another' }, reason: 'ORDER_CONFLICT' },
    ];
    const sent: { partition: number; offset: string }[] = [];
    for (const { type, value } of poison) sent.push(await send(key, type, value));

    // A valid command behind them, on the same partition, is still served.
    const after = newCreateOrder();
    const afterId = orderIdForCart(after.cartId);
    await send(key, 'CreateOrder', after);
    await expectEvents(afterId, ['OrderCreated']);
    await orderRowWith(afterId, 'CREATED');

    const letters = await settledDeadLettersOf(key);
    expect(letters.map((letter) => letter.headers.dlq_reason)).toEqual(poison.map(({ reason }) => reason));
    letters.forEach((letter, index) => {
      const original = poison[index]!;
      const expectedValue =
        typeof original.value === 'string' || Buffer.isBuffer(original.value)
          ? Buffer.from(original.value)
          : Buffer.from(JSON.stringify(original.value));
      // The original message, byte for byte, with its own headers...
      expect(letter.key).toBe(key);
      expect(letter.value?.equals(expectedValue), `value of ${original.reason}`).toBe(true);
      expect(letter.headers.ce_type).toBe(original.type);
      expect(letter.headers.ce_source).toBe('/acme/tests/commands');
      // ...and why, and where it came from.
      expect(letter.headers).toMatchObject({
        dlq_original_topic: COMMANDS,
        dlq_original_partition: String(sent[index]!.partition),
        dlq_original_offset: sent[index]!.offset,
        dlq_consumer_group: groupId,
      });
      expect(letter.headers.dlq_message?.length).toBeGreaterThan(0);
      expect(Number.isNaN(Date.parse(letter.headers.dlq_failed_at ?? ''))).toBe(false);
    });

    const details = (index: number) => JSON.parse(letters[index]?.headers.dlq_details ?? '[]') as { field: string }[];
    expect(details(2).map((detail) => detail.field)).toEqual(expect.arrayContaining(['/items', '/coupon']));
    expect(details(3).map((detail) => detail.field)).toEqual(['/reason']);
    expect(details(8).map((detail) => detail.field)).toEqual(['/total']);
    expect(letters[7]?.headers.dlq_message).toContain('CANCELLED');

    // None of them changed anything: the cancelled order is as it was, nothing else was created.
    expect(await orderRowWith(placedId, 'CANCELLED')).toMatchObject({ cancellation_reason: 'FRAUD' });
    expect(await orderRow(orderIdForCart(invalid.cartId))).toBeUndefined();
    expect(eventsOf(placedId)).toHaveLength(3);
    // Every offset up to the last command is committed: nothing is left to replay.
    const last = sent.at(-1)!;
    await eventually('committed offset', async () =>
      (await committedOffset(last.partition)) > BigInt(last.offset) ? true : undefined,
    );
  });
});
