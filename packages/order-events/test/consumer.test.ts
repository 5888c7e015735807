// The runner against the local stack's Kafka and PostgreSQL (no mocks): effects once per ce_id
// in the consumer's own transaction, sequence gaps and regressions reported, poison records
// dead-lettered with their reason while the consumer goes on, and the handler inside the
// event's trace. A topic, a consumer group and a schema of its own per run.
import { randomUUID } from 'node:crypto';
import { context, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type OrderEventConsumer, startOrderEventConsumer } from '../src/consumer.js';
import type { OrderEvent } from '../src/parse.js';
import type { SequenceAnomaly } from '../src/store.js';
import { payloadOf, recordOf } from './records.js';

const BROKERS = (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const DATABASE_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/orders_test';
const run = randomUUID().slice(0, 8);
const TOPIC = `order-events-kit-test.${run}.ordering.orders`;
const GROUP = `order-events-kit-test-${run}`;
const DLQ = `${TOPIC}.${GROUP}.dlq`;
const SCHEMA = `order_events_kit_test_${run}`;

const spans = new InMemorySpanExporter();
const kafka = new Kafka({ clientId: 'order-events-kit-test', brokers: BROKERS, logLevel: logLevel.NOTHING });
const producer = kafka.producer();
const pool = new pg.Pool({ connectionString: DATABASE_URL, max: 4 });

/** What the handler does per ce_id: fail that many times first (after writing), or always. */
const failures = new Map<string, number | 'always'>();
const anomalies: SequenceAnomaly[] = [];
const logLines: { level: string; message: string }[] = [];
const counters: Record<string, number> = {};
const seenTraces = new Map<string, { traceId: string | undefined; spanId: string | undefined }>();
let consumer: OrderEventConsumer;

/** A meter that adds up its counters by name and attributes, for the assertions. */
const meter = {
  createCounter: (name: string) => ({
    add: (value: number, attributes: Record<string, string> = {}) => {
      const key = `${name} ${JSON.stringify(attributes)}`;
      counters[key] = (counters[key] ?? 0) + value;
    },
  }),
} as never;

const count = (name: string, attributes: Record<string, string>) =>
  counters[`${name} ${JSON.stringify(attributes)}`] ?? 0;

async function handle(event: OrderEvent, tx: pg.PoolClient) {
  const active = trace.getActiveSpan()?.spanContext();
  seenTraces.set(event.id, { traceId: active?.traceId, spanId: active?.spanId });
  await tx.query(`INSERT INTO ${SCHEMA}.effects (event_id, event_type, order_id) VALUES ($1, $2, $3)`, [
    event.id,
    event.type,
    event.subject,
  ]);
  const plan = failures.get(event.id);
  if (plan === 'always' || (typeof plan === 'number' && plan > 0)) {
    if (typeof plan === 'number') failures.set(event.id, plan - 1);
    throw new Error(`the handler refuses ${event.id}`);
  }
}

async function effectsOf(orderId: string): Promise<{ event_id: string; event_type: string }[]> {
  const { rows } = await pool.query(
    `SELECT event_id, event_type FROM ${SCHEMA}.effects WHERE order_id = $1 ORDER BY applied_at, event_id`,
    [orderId],
  );
  return rows;
}

async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`no ${what} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const send = (...records: ReturnType<typeof recordOf>[]) =>
  producer.send({
    topic: TOPIC,
    acks: -1,
    messages: records.map(({ key, value, headers }) => ({ key, value, headers })),
  });

/** The records of the dead-letter topic so far, read by a group of their own. */
async function deadLetters(expected: number) {
  const reader = kafka.consumer({ groupId: `${GROUP}-dlq-reader-${randomUUID()}` });
  const seen: { key: string; value: string; headers: Record<string, string> }[] = [];
  await reader.connect();
  await reader.subscribe({ topic: DLQ, fromBeginning: true });
  await reader.run({
    eachMessage: async ({ message }) => {
      const headers = Object.fromEntries(
        Object.entries(message.headers ?? {}).map(([name, value]) => [name, String(value)]),
      );
      seen.push({ key: String(message.key), value: String(message.value), headers });
    },
  });
  try {
    await until(`${expected} dead letters`, () => (seen.length >= expected ? true : undefined));
    return seen;
  } finally {
    await reader.disconnect();
  }
}

beforeAll(async () => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  trace.setGlobalTracerProvider(new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: spans })] }));
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 3 }], waitForLeaders: true });
  await admin.disconnect();
  await producer.connect();
  await pool.query(`CREATE SCHEMA ${SCHEMA}`);
  await pool.query(`CREATE TABLE ${SCHEMA}.effects (
    event_id TEXT NOT NULL, event_type TEXT NOT NULL, order_id TEXT NOT NULL, applied_at TIMESTAMPTZ DEFAULT clock_timestamp())`);
  consumer = await startOrderEventConsumer({
    kafka,
    groupId: GROUP,
    topic: TOPIC,
    pool,
    schema: SCHEMA,
    handle,
    maxAttempts: 3,
    meter,
    onSequenceAnomaly: (anomaly) => anomalies.push(anomaly),
    logger: {
      info: (_details, message) => logLines.push({ level: 'info', message }),
      warn: (_details, message) => logLines.push({ level: 'warn', message }),
      error: (_details, message) => logLines.push({ level: 'error', message }),
    },
  });
});

afterAll(async () => {
  await consumer?.stop();
  await producer.disconnect();
  await pool.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`);
  await pool.end();
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [TOPIC, DLQ] }).catch(() => undefined);
  await admin.disconnect();
});

describe('startOrderEventConsumer', () => {
  it('applies each event once: a redelivered ce_id changes nothing, a failed attempt leaves no write', async () => {
    const orderId = randomUUID();
    const created = recordOf('OrderCreated', payloadOf('OrderCreated', orderId));
    const confirmed = recordOf('OrderConfirmed', payloadOf('OrderConfirmed', orderId));
    // The handler writes, then fails twice: both attempts' writes must be rolled back.
    failures.set(confirmed.headers.ce_id!.toString(), 2);
    await send(created, created, confirmed, created, confirmed);

    const effects = await until('both events applied', async () => {
      const rows = await effectsOf(orderId);
      return rows.length >= 2 ? rows : undefined;
    });
    // Every record behind them has been consumed too (the last one is a duplicate).
    await until('five records consumed', () =>
      count('order_events_consumed', { outcome: 'duplicate', event_type: 'OrderCreated' }) >= 2 &&
      count('order_events_consumed', { outcome: 'duplicate', event_type: 'OrderConfirmed' }) >= 1
        ? true
        : undefined,
    );
    expect((await effectsOf(orderId)).map((row) => row.event_type)).toEqual(['OrderCreated', 'OrderConfirmed']);
    expect(effects.map((row) => row.event_id)).toEqual([
      created.headers.ce_id!.toString(),
      confirmed.headers.ce_id!.toString(),
    ]);
    const { rows } = await pool.query(`SELECT event_id FROM ${SCHEMA}.processed_events WHERE order_id = $1`, [orderId]);
    expect(rows).toHaveLength(2);
    expect(logLines.filter((line) => line.message === 'order-events: handler failed; trying again')).toHaveLength(2);
  });

  it('reports a gap and a regression of OrderStatusChanged.sequence: metric, log and callback', async () => {
    const orderId = randomUUID();
    const statusChange = (sequence: number) =>
      recordOf('OrderStatusChanged', { ...payloadOf('OrderStatusChanged', orderId), sequence });
    const [one, two, four, three] = [1, 2, 4, 3].map(statusChange) as [
      ReturnType<typeof statusChange>,
      ReturnType<typeof statusChange>,
      ReturnType<typeof statusChange>,
      ReturnType<typeof statusChange>,
    ];
    // 1 and 2 in order, then 4 (3 missed), then 3 late; and 2 again (a redelivery: no report).
    await send(one, two, four, three, two);
    await until('four status changes applied', async () => ((await effectsOf(orderId)).length >= 4 ? true : undefined));
    await until('the redelivery consumed', () =>
      count('order_events_consumed', { outcome: 'duplicate', event_type: 'OrderStatusChanged' }) >= 1
        ? true
        : undefined,
    );
    const ofOrder = anomalies.filter((anomaly) => anomaly.orderId === orderId);
    expect(ofOrder).toEqual([
      { kind: 'gap', orderId, eventId: four.headers.ce_id!.toString(), expected: 3, received: 4 },
      { kind: 'regression', orderId, eventId: three.headers.ce_id!.toString(), expected: 5, received: 3 },
    ]);
    expect(count('order_events_sequence_anomalies', { kind: 'gap' })).toBeGreaterThanOrEqual(1);
    expect(count('order_events_sequence_anomalies', { kind: 'regression' })).toBeGreaterThanOrEqual(1);
    expect(logLines.map((line) => line.message)).toContain(
      `order-events: OrderStatusChanged sequence gap on order ${orderId}: expected 3, received 4`,
    );
    // Reported, never skipped: all four were handed to the handler.
    expect((await effectsOf(orderId)).map((row) => row.event_id).sort()).toEqual(
      [one, two, four, three].map((record) => record.headers.ce_id!.toString()).sort(),
    );
  });

  it('dead-letters poison records with the reason and goes on; skips an unknown type', async () => {
    const orderId = randomUUID();
    const payload = payloadOf('OrderCreated', orderId);
    const refused = recordOf('OrderConfirmed', payloadOf('OrderConfirmed', orderId));
    failures.set(refused.headers.ce_id!.toString(), 'always');
    await send(
      recordOf('OrderCreated', payload, { ce_id: undefined }),
      recordOf('OrderCreated', payload, { ce_specversion: '0.3' }),
      recordOf('OrderCreated', { ...payload, total: -1.5 }),
      recordOf('OrderShipped', payload),
      refused,
      recordOf('OrderCreated', payload),
    );
    // The valid event behind the poison ones is applied.
    await until('the valid OrderCreated applied', async () =>
      (await effectsOf(orderId)).length === 1 ? true : undefined,
    );
    const letters = (await deadLetters(4)).filter((letter) => letter.key === orderId);
    expect(
      letters.map((letter) => [letter.headers.dlq_reason, letter.headers.dlq_field ?? null, letter.headers.ce_type]),
    ).toEqual([
      ['MISSING_HEADER', 'ce_id', 'OrderCreated'],
      ['UNSUPPORTED_SPECVERSION', 'ce_specversion', 'OrderCreated'],
      ['INVALID_PAYLOAD', 'data/total', 'OrderCreated'],
      ['HANDLER_FAILED', null, 'OrderConfirmed'],
    ]);
    for (const letter of letters) {
      expect(letter.headers.dlq_original_topic).toBe(TOPIC);
      expect(letter.headers.dlq_consumer_group).toBe(GROUP);
      expect(letter.headers.dlq_message).not.toBe('');
      expect(Number(letter.headers.dlq_original_offset)).toBeGreaterThanOrEqual(0);
    }
    expect(letters[3]?.headers.dlq_message).toBe(`the handler refuses ${refused.headers.ce_id}`);
    expect(letters[2]?.value).toBe(JSON.stringify({ ...payload, total: -1.5 }));
    expect(count('order_events_consumed', { outcome: 'skipped' })).toBeGreaterThanOrEqual(1);
    // The refused event's writes were rolled back, and its id is not recorded: it was not applied.
    expect((await effectsOf(orderId)).map((row) => row.event_type)).toEqual(['OrderCreated']);
  });

  it("runs the handler inside the trace of the event's ce_traceparent", async () => {
    const orderId = randomUUID();
    const traceId = randomUUID().replace(/-/g, '');
    const parentSpanId = traceId.slice(0, 16);
    const record = recordOf('OrderCreated', payloadOf('OrderCreated', orderId), {
      ce_traceparent: `00-${traceId}-${parentSpanId}-01`,
    });
    const untraced = recordOf('OrderCompleted', payloadOf('OrderCompleted', orderId));
    await send(record, untraced);
    await until('both handled', async () => ((await effectsOf(orderId)).length === 2 ? true : undefined));
    const seen = seenTraces.get(record.headers.ce_id!.toString());
    expect(seen?.traceId).toBe(traceId);
    // The span ends once the transaction is committed, just after the rows become visible.
    const span = await until('the CONSUMER span', () =>
      spans.getFinishedSpans().find((candidate) => candidate.spanContext().spanId === seen?.spanId),
    );
    expect(span?.name).toBe(`process ${TOPIC}`);
    expect(span?.parentSpanContext?.spanId).toBe(parentSpanId);
    expect(span?.attributes['cloudevents.event_id']).toBe(record.headers.ce_id!.toString());
    // Without ce_traceparent the handler still runs in a span of its own, in a new trace.
    expect(seenTraces.get(untraced.headers.ce_id!.toString())?.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(seenTraces.get(untraced.headers.ce_id!.toString())?.traceId).not.toBe(traceId);
  });
});
