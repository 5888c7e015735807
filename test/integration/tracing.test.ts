// One trace per order, on the real stack: the API and the worker run as processes exporting to
// an OTLP receiver inside this test (test/support/otlp-receiver.ts). A create sent with a
// traceparent yields one trace — the HTTP request, the update-with-start, the workflow, its
// activity, the SQL and the Kafka send, each the child of the one before — and its event carries
// that trace as ce_traceparent; a transition continues its own request's trace; an event the
// outbox sweeper republishes keeps the context it was committed in. The processes get a database
// and task queue of their own, so their quick sweeper touches no other test's events.
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spansToJson } from '../../scripts/trace-picture.js';
import type { Order } from '../../src/contracts/schemas.js';
import { migrateDatabase } from '../../src/db/migrate.js';
import { workflowIdForOrder } from '../../src/ids.js';
import { api as untracedApi } from '../support/api.js';
import { collectOrderEvents } from '../support/events.js';
import { newCreateOrder } from '../support/orders.js';
import { type OtlpReceiver, type ReceivedSpan, startOtlpReceiver } from '../support/otlp-receiver.js';
import { type AppProcess, freePort, startApiProcess, startWorkerProcess } from '../support/processes.js';
import { TOKENS, testEnvironment, topicsOf } from '../support/stack.js';
import { eventually } from '../support/wait.js';

const base = testEnvironment();
const DATABASE_URL = (base.DATABASE_URL ?? '').replace(/\/[^/]+$/, '/orders_test_tracing');
const env: Record<string, string> = {
  ...base,
  DATABASE_URL,
  TEMPORAL_TASK_QUEUE: 'orders-test-tracing',
  // Topics of their own: the commands this test sends reach only these processes.
  KAFKA_TOPIC_PREFIX: 'test-tracing.',
  COMMANDS_ENABLED: 'true',
  LOG_LEVEL: 'info',
  OTEL_BSP_SCHEDULE_DELAY: '100',
  // Republishes what stayed unpublished for 3 s, every 300 ms: the test makes one such event.
  OUTBOX_SWEEP_INTERVAL_MS: '300',
  OUTBOX_SWEEP_AFTER_MS: '3000',
};

const RESULTS_DIR = new URL('../../test-results/', import.meta.url);

let receiver: OtlpReceiver;
let api: AppProcess & { url: string };
let worker: AppProcess;
let sql: pg.Pool;
let events: Awaited<ReturnType<typeof collectOrderEvents>>;

async function ensureDatabase(url: string): Promise<void> {
  const name = new URL(url).pathname.slice(1);
  const admin = new pg.Client({ connectionString: url.replace(/\/[^/]+$/, '/postgres') });
  await admin.connect();
  try {
    const { rowCount } = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  await migrateDatabase(url);
}

beforeAll(async () => {
  receiver = await startOtlpReceiver();
  await ensureDatabase(DATABASE_URL);
  const traced = { ...env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url };
  [worker, api] = await Promise.all([startWorkerProcess(traced), startApiProcess(traced, await freePort())]);
  sql = new pg.Pool({ connectionString: DATABASE_URL, max: 2 });
  events = await collectOrderEvents((env.KAFKA_BROKERS ?? '').split(','), topicsOf(env).events);
}, 120_000);

afterAll(async () => {
  await Promise.all([api?.stop(), worker?.stop()]);
  await events?.close();
  await sql?.end();
  await receiver?.close();
});

const newTraceparent = () => {
  const traceId = randomBytes(16).toString('hex');
  const spanId = randomBytes(8).toString('hex');
  return { traceId, spanId, traceparent: `00-${traceId}-${spanId}-01` };
};

async function call<T>(method: string, path: string, body: unknown, traceparent: string) {
  const response = await fetch(`${api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKENS.all}`, 'content-type': 'application/json', traceparent },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as T };
}

/**
 * Waits until the trace holds a span matching each predicate and every span's parent has come
 * too, except the caller's span (`callerSpanId`) under the request; returns the whole trace.
 */
async function traceWith(
  traceId: string,
  callerSpanId: string,
  wanted: Record<string, (span: ReceivedSpan) => boolean>,
) {
  const missing = () => {
    const trace = receiver.trace(traceId);
    const ids = new Set([callerSpanId, ...trace.map((span) => span.spanId)]);
    const absent = Object.entries(wanted)
      .filter(([, matches]) => !trace.some(matches))
      .map(([name]) => name);
    const orphans = trace.filter((span) => !ids.has(span.parentSpanId)).map((span) => `parent of ${span.name}`);
    return [...absent, ...orphans];
  };
  try {
    await eventually(`the whole trace ${traceId}`, () => (missing().length === 0 ? true : undefined), 20_000);
  } catch (error) {
    const seen = receiver.trace(traceId).map((span) => `${span.resource['service.name']}: ${span.name}`);
    throw new Error(`${(error as Error).message}; missing ${missing().join(', ')}; seen: ${seen.join(' | ')}`);
  }
  return receiver.trace(traceId);
}

const service = (span: ReceivedSpan) => span.resource['service.name'];
const named = (name: string | RegExp) => (span: ReceivedSpan) =>
  typeof name === 'string' ? span.name === name : name.test(span.name);

/** The span's ancestors up to the trace's root, nearest first. */
function ancestorsOf(span: ReceivedSpan, trace: ReceivedSpan[]): ReceivedSpan[] {
  const byId = new Map(trace.map((each) => [each.spanId, each]));
  const chain: ReceivedSpan[] = [];
  for (let parent = byId.get(span.parentSpanId); parent !== undefined; parent = byId.get(parent.parentSpanId)) {
    chain.push(parent);
  }
  return chain;
}

describe('one trace per order (OpenTelemetry)', () => {
  let orderId: string;
  let created: ReturnType<typeof newTraceparent>;

  it('a create continues the caller’s traceparent from the HTTP request to the Kafka send', async () => {
    created = newTraceparent();
    const response = await call<Order>('POST', '/orders', newCreateOrder(), created.traceparent);
    expect(response.status).toBe(201);
    orderId = response.body.orderId;
    const topic = topicsOf(env).events;

    const trace = await traceWith(created.traceId, created.spanId, {
      request: named('POST /orders'),
      updateWithStart: named(/^UpdateWithStartWorkflow:/),
      // The workflow's own RunWorkflow span ends (and is exported) when its run does, at archival.
      workflow: named('HandleUpdate:createOrder'),
      activity: named('RunActivity:persistOrder'),
      sql: (span) =>
        span.attributes['db.system.name'] === 'postgresql' || span.attributes['db.system'] === 'postgresql',
      send: named(`send ${topic}`),
    });
    // Kept for the README's picture (node --import tsx scripts/trace-picture.ts <this file> docs/order-trace.svg).
    mkdirSync(RESULTS_DIR, { recursive: true });
    writeFileSync(new URL('order-trace.json', RESULTS_DIR), spansToJson(trace));

    // Every span has its parent in the trace (traceWith waited for that), except the request's,
    // whose parent is the caller's span: one tree under the caller.
    const ids = new Set(trace.map((span) => span.spanId));
    const roots = trace.filter((span) => !ids.has(span.parentSpanId));
    expect(roots.map((span) => [span.name, span.parentSpanId])).toEqual([['POST /orders', created.spanId]]);

    const request = trace.find(named('POST /orders'));
    expect(request && service(request)).toBe('order-api');
    expect(request?.kind).toBe('server');
    expect(request?.attributes).toMatchObject({
      'order.id': orderId,
      'order.status': 'CREATED',
      'workflow.id': workflowIdForOrder(orderId),
      'http.route': '/orders',
    });

    // The chain: request → update-with-start (client) → the workflow's Update → persistOrder → its SQL.
    const activity = trace.find(named('RunActivity:persistOrder'));
    expect(activity && service(activity)).toBe('order-worker');
    expect(activity?.attributes).toMatchObject({
      'order.id': orderId,
      'order.status': 'CREATED',
      'workflow.id': workflowIdForOrder(orderId),
    });
    const activityAncestors = ancestorsOf(activity as ReceivedSpan, trace).map((span) => span.name);
    expect(activityAncestors).toEqual(
      expect.arrayContaining([
        'StartActivity:persistOrder',
        'HandleUpdate:createOrder',
        'UpdateWithStartWorkflow:createOrder',
      ]),
    );
    expect(activityAncestors.at(-1)).toBe('POST /orders');
    const insert = trace.find(
      (span) =>
        span.parentSpanId === activity?.spanId &&
        /INSERT/i.test(String(span.attributes['db.query.text'] ?? span.attributes['db.statement'] ?? span.name)),
    );
    expect(insert, 'an INSERT statement span under persistOrder').toBeDefined();

    // The send: a PRODUCER span of the order's event, named as the messaging conventions say.
    const send = trace.find(named(`send ${topic}`));
    expect(send?.kind).toBe('producer');
    expect(send?.attributes).toMatchObject({
      'messaging.system': 'kafka',
      'messaging.destination.name': topic,
      'messaging.kafka.message.key': orderId,
      'order.id': orderId,
    });
    expect(ancestorsOf(send as ReceivedSpan, trace).map((span) => span.name)).toContain('RunActivity:persistOrder');

    // The event continues the trace: ce_traceparent names it, with the span it was committed in.
    const [event] = await events.waitFor(orderId, 1);
    expect(event?.headers.ce_type).toBe('OrderCreated');
    expect(event?.headers.ce_traceparent).toBe(`00-${created.traceId}-${activity?.spanId}-01`);
    expect(send?.parentSpanId).toBe(activity?.spanId);
  });

  it('a complete continues its own request’s trace, and so does its event', async () => {
    const completed = newTraceparent();
    const response = await call<Order>('POST', `/orders/${orderId}/complete`, {}, completed.traceparent);
    expect(response.status).toBe(200);
    expect(response.body.status).toBe('COMPLETED');
    const trace = await traceWith(completed.traceId, completed.spanId, {
      request: named('POST /orders/:orderId/complete'),
      update: named('StartWorkflowUpdate:complete'),
      handler: named('HandleUpdate:complete'),
      activity: named('RunActivity:persistOrderTransition'),
      send: named(`send ${topicsOf(env).events}`),
    });
    const request = trace.find(named('POST /orders/:orderId/complete'));
    expect(request?.parentSpanId).toBe(completed.spanId);
    expect(request?.attributes).toMatchObject({ 'order.id': orderId, 'order.status': 'COMPLETED' });
    // None of the create's trace leaks into it.
    expect(receiver.trace(created.traceId).some(named('RunActivity:persistOrderTransition'))).toBe(false);

    const seen = await events.waitFor(orderId, 2);
    const event = seen.find((each) => each.headers.ce_type === 'OrderCompleted');
    expect(event?.headers.ce_traceparent?.split('-')[1]).toBe(completed.traceId);
  });

  it('an event republished by the outbox sweeper keeps the context it was committed in', async () => {
    const [original] = events.ofOrder(orderId).filter((event) => event.headers.ce_type === 'OrderCreated');
    const sendsBefore = receiver.trace(created.traceId).filter(named(`send ${topicsOf(env).events}`)).length;
    // As if the workflow had been terminated between the commit and the publish.
    await sql.query(
      `UPDATE order_events SET published_at = NULL, created_at = now() - interval '1 minute'
        WHERE order_id = $1 AND event_type = 'OrderCreated'`,
      [orderId],
    );
    await eventually(
      'second OrderCreated, republished by the sweeper',
      () =>
        events.ofOrder(orderId).filter((event) => event.headers.ce_type === 'OrderCreated').length === 2 || undefined,
      20_000,
    );
    const again = events.ofOrder(orderId).filter((event) => event.headers.ce_type === 'OrderCreated')[1];
    expect(again?.headers.ce_id).toBe(original?.headers.ce_id);
    expect(again?.headers.ce_traceparent).toBe(original?.headers.ce_traceparent);
    // Its send span joins the order's original trace, under the span the event was committed in.
    const trace = await traceWith(created.traceId, created.spanId, {
      resend: (span) =>
        span.name === `send ${topicsOf(env).events}` &&
        receiver.trace(created.traceId).filter(named(`send ${topicsOf(env).events}`)).length > sendsBefore,
    });
    const sends = trace.filter(named(`send ${topicsOf(env).events}`));
    expect(new Set(sends.map((span) => span.parentSpanId)).size).toBe(1);
  });

  it('writes trace_id and span_id on the log lines of a traced request', () => {
    const lines = api.output.flatMap((line) => {
      try {
        return [JSON.parse(line) as Record<string, unknown>];
      } catch {
        return [];
      }
    });
    const ofCreate = lines.filter((line) => line.trace_id === created.traceId);
    expect(ofCreate.length).toBeGreaterThan(0);
    for (const line of ofCreate) expect(line.span_id).toMatch(/^[0-9a-f]{16}$/);
  });

  it('with no OTLP endpoint (the suite’s own API and worker) nothing is traced, exported or stamped on events', async () => {
    const caller = newTraceparent();
    const response = await untracedApi<Order>('POST', '/orders', newCreateOrder(), { traceparent: caller.traceparent });
    expect(response.status).toBe(201);
    const untracedEvents = await collectOrderEvents((base.KAFKA_BROKERS ?? '').split(','), topicsOf(base).events);
    try {
      const [event] = await untracedEvents.waitFor(response.body.orderId, 1);
      expect(event?.headers.ce_type).toBe('OrderCreated');
      expect(event?.headers).not.toHaveProperty('ce_traceparent');
      const [stored] = (await sql.query('SELECT 1 FROM order_events WHERE order_id = $1', [response.body.orderId]))
        .rows;
      // That order is in the suite's database, not in this test's: the traced processes never saw it.
      expect(stored).toBeUndefined();
      expect(receiver.trace(caller.traceId)).toEqual([]);
    } finally {
      await untracedEvents.close();
    }
  });

  it('a command on ordering.commands continues the trace in its ce_traceparent', async () => {
    const created = await call<Order>('POST', '/orders', newCreateOrder(), newTraceparent().traceparent);
    expect(created.status).toBe(201);
    const { orderId: commanded } = created.body;
    const sender = newTraceparent();
    const kafka = new Kafka({
      clientId: 'tracing-test',
      brokers: (env.KAFKA_BROKERS ?? '').split(','),
      logLevel: logLevel.NOTHING,
    });
    const producer = kafka.producer();
    await producer.connect();
    try {
      await producer.send({
        topic: topicsOf(env).commands,
        acks: -1,
        messages: [
          {
            key: commanded,
            value: JSON.stringify({ orderId: commanded }),
            headers: {
              ce_specversion: '1.0',
              ce_id: randomBytes(16).toString('hex'),
              ce_source: '/acme/tests/tracing',
              ce_type: 'CompleteOrder',
              ce_traceparent: sender.traceparent,
              'content-type': 'application/json',
            },
          },
        ],
      });
    } finally {
      await producer.disconnect();
    }
    const processSpan = `process ${topicsOf(env).commands}`;
    const trace = await traceWith(sender.traceId, sender.spanId, {
      process: named(processSpan),
      update: named('StartWorkflowUpdate:complete'),
      activity: named('RunActivity:persistOrderTransition'),
      send: named(`send ${topicsOf(env).events}`),
    });
    const consumer = trace.find(named(processSpan));
    expect(consumer?.kind).toBe('consumer');
    expect(consumer?.parentSpanId).toBe(sender.spanId);
    expect(consumer?.attributes).toMatchObject({
      'messaging.destination.name': topicsOf(env).commands,
      'messaging.kafka.message.key': commanded,
    });
    const seen = await events.waitFor(commanded, 2);
    const completedEvent = seen.find((event) => event.headers.ce_type === 'OrderCompleted');
    expect(completedEvent?.headers.ce_traceparent?.split('-')[1]).toBe(sender.traceId);
  });
});
