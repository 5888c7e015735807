// The four subjects of the benchmark: the order service over HTTP, and its three bare baselines
// (Temporal, PostgreSQL, Kafka). Each is a `lifecycle(index)` that runs one order from create
// to its end and records its timings; bench/run.ts drives them at the same concurrency.
import { Client, Connection } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Kafka } from 'kafkajs';
import { createActivities } from '../../src/activities/index.js';
import type { Config } from '../../src/config.js';
import { CANCELLATION_REASONS, type Order } from '../../src/contracts/schemas.js';
import { createDatabase } from '../../src/db/index.js';
import { cloudEventHeaders, eventForOrder } from '../../src/domain/events.js';
import { eventIdFor, orderIdForCart, workflowIdForOrder } from '../../src/ids.js';
import { createEventPublisher, type EventPublisher, ensureTopics } from '../../src/kafka/index.js';
import { createLogger } from '../../src/logger.js';
import { startOrderOperation } from '../../src/temporal/client.js';
import { cancelOrderSignal, completeOrderSignal, createOrderUpdate } from '../../src/workflows/definitions.js';
import type { orderWorkflow } from '../../src/workflows/order-workflow.js';
import { newCreateOrder, orderFromCommand } from '../../test/support/orders.js';
import type { EventWatch } from './events.js';
import { runPool } from './stats.js';

/** 30 % of the orders are cancelled, the rest completed; spread evenly over the run. */
export const endsCancelled = (index: number) => index % 10 < 3;
const reasonFor = (index: number) => CANCELLATION_REASONS[index % CANCELLATION_REASONS.length] ?? 'CUSTOMER_REQUESTED';

/** The timings of one subject, gathered over one or more measured chunks (times from performance.now()). */
export interface Samples {
  /** Start latencies (ms): until the 201 of POST /orders, or until update-with-start returned. */
  startMs: number[];
  /** Create sent → the lifecycle's end (ms): terminal event seen on Kafka, or the workflow's result. */
  lifecycleMs: number[];
  /** The complete/cancel request (ms): until its 200/202, or until the signal was accepted. */
  transitionMs: number[];
  /** Each measured chunk: when it started and when each of its lifecycles ended. */
  chunks: { startedAt: number; completedAt: number[] }[];
  failures: string[];
}

export const emptySamples = (): Samples => ({
  startMs: [],
  lifecycleMs: [],
  transitionMs: [],
  chunks: [],
  failures: [],
});

/** One order from create to end; `record` is undefined for warm-up lifecycles. */
export type Lifecycle = (index: number, record: Recorder | undefined) => Promise<void>;

export interface Recorder {
  ok(times: { sentAt: number; startedAt: number; transitionMs: number; endedAt: number }): void;
  fail(what: string): void;
}

/** Runs `count` lifecycles (indexes from `firstIndex`) at `concurrency`, as one measured chunk of `samples` (or as warm-up). */
export async function drive(
  lifecycle: Lifecycle,
  options: { count: number; concurrency: number; firstIndex: number; samples?: Samples },
): Promise<void> {
  const { samples } = options;
  const chunk = { startedAt: performance.now(), completedAt: [] as number[] };
  samples?.chunks.push(chunk);
  const recorder: Recorder | undefined = samples && {
    ok({ sentAt, startedAt, transitionMs, endedAt }) {
      samples.startMs.push(startedAt - sentAt);
      samples.transitionMs.push(transitionMs);
      samples.lifecycleMs.push(endedAt - sentAt);
      chunk.completedAt.push(endedAt);
    },
    fail: (what) => samples.failures.push(what),
  };
  await runPool(options.count, options.concurrency, (index) => lifecycle(options.firstIndex + index, recorder));
}

const describeError = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

// ---- The order service over HTTP -------------------------------------------------------------

export interface PlacedOrder {
  orderId: string;
  cancelled: boolean;
}

export function systemLifecycle(options: {
  apiUrl: string;
  token: string;
  events: EventWatch;
  lifecycleTimeoutMs: number;
}) {
  const placed: PlacedOrder[] = [];
  const counters = { createAccepted202: 0 };
  const headers = { authorization: `Bearer ${options.token}`, 'content-type': 'application/json' };
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${options.apiUrl}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
    return { status: response.status, text: await response.text() };
  };

  const lifecycle: Lifecycle = async (index, record) => {
    const command = newCreateOrder();
    const orderId = orderIdForCart(command.cartId);
    const cancelled = endsCancelled(index);
    placed.push({ orderId, cancelled });
    const fail = (what: string) => record?.fail(`order ${orderId}: ${what}`);
    try {
      const sentAt = performance.now();
      let created = await post('/orders', command);
      // 202: not committed within CREATE_ORDER_TIMEOUT_MS. The same command again answers 200
      // once it is (201 went to the first request); the latency runs until then.
      let accepted = false;
      while (created.status === 202) {
        accepted = true;
        counters.createAccepted202++;
        created = await post('/orders', command);
      }
      const createdAt = performance.now();
      if (created.status !== 201 && !(accepted && created.status === 200)) {
        return fail(`create answered ${created.status} ${created.text.slice(0, 200)}`);
      }
      const transitionSentAt = performance.now();
      const ended = cancelled
        ? await post(`/orders/${orderId}/cancel`, { reason: reasonFor(index) })
        : await post(`/orders/${orderId}/complete`, {});
      const transitionMs = performance.now() - transitionSentAt;
      if (ended.status !== 200 && ended.status !== 202) {
        return fail(`${cancelled ? 'cancel' : 'complete'} answered ${ended.status} ${ended.text.slice(0, 200)}`);
      }
      const terminal = eventIdFor(orderId, cancelled ? 'OrderCancelled' : 'OrderCompleted');
      const seenAt = await Promise.race([
        options.events.seen(terminal),
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), options.lifecycleTimeoutMs).unref()),
      ]);
      if (seenAt === undefined) return fail(`terminal event not seen within ${options.lifecycleTimeoutMs} ms`);
      record?.ok({ sentAt, startedAt: createdAt, transitionMs, endedAt: seenAt });
    } catch (error) {
      fail(describeError(error));
    }
  };
  return { lifecycle, placed, counters };
}

// ---- Bare Temporal: the same workflow, no-op activities, driven by a Temporal client ---------

export async function bareTemporalLifecycle(options: { config: Config; taskQueue: string }) {
  const connection = await Connection.connect({ address: options.config.TEMPORAL_ADDRESS });
  const client = new Client({ connection, namespace: options.config.TEMPORAL_NAMESPACE });

  const lifecycle: Lifecycle = async (index, record) => {
    const command = newCreateOrder();
    const orderId = orderIdForCart(command.cartId);
    const workflowId = `bench-bare-${workflowIdForOrder(orderId)}`;
    try {
      const sentAt = performance.now();
      // Started exactly as the order service starts an order.
      const startWorkflowOperation = startOrderOperation(orderId, command, options.taskQueue, workflowId);
      await client.workflow.executeUpdateWithStart(createOrderUpdate, { args: [command], startWorkflowOperation });
      const startedAt = performance.now();
      const handle = client.workflow.getHandle<typeof orderWorkflow>(workflowId);
      if (endsCancelled(index)) await handle.signal(cancelOrderSignal, { reason: reasonFor(index) });
      else await handle.signal(completeOrderSignal);
      const transitionMs = performance.now() - startedAt;
      await handle.result();
      record?.ok({ sentAt, startedAt, transitionMs, endedAt: performance.now() });
    } catch (error) {
      record?.fail(`workflow ${workflowId}: ${describeError(error)}`);
    }
  };
  return { lifecycle, close: () => connection.close() };
}

// ---- Bare PostgreSQL: the activities' SQL, through pg, no Temporal --------------------------

export function barePostgresLifecycle(options: { config: Config }) {
  const db = createDatabase(options.config, createLogger(options.config, 'bench'));
  // Exactly the statements of the order activities; publishing is a no-op, marking it published is not.
  const nothingPublished: EventPublisher = { publish: async () => {}, close: async () => {} };
  const real = createActivities({ db, publisher: nothingPublished, eventSource: options.config.EVENT_SOURCE });
  // The activities read their context (metrics): run them in a mock one, still without Temporal.
  const context = new MockActivityEnvironment();
  const activities = {
    persistOrder: (input: Parameters<typeof real.persistOrder>[0]) =>
      context.run(real.persistOrder, input) as ReturnType<typeof real.persistOrder>,
    persistTransition: (input: Parameters<typeof real.persistTransition>[0]) =>
      context.run(real.persistTransition, input) as ReturnType<typeof real.persistTransition>,
    publishOrderEvent: (eventId: string) => context.run(real.publishOrderEvent, eventId),
  };

  const lifecycle: Lifecycle = async (index, record) => {
    const command = newCreateOrder();
    const orderId = orderIdForCart(command.cartId);
    try {
      const sentAt = performance.now();
      const created = await activities.persistOrder({ orderId, command });
      const startedAt = performance.now();
      await activities.publishOrderEvent(created.eventId);
      const request = endsCancelled(index)
        ? ({ name: 'cancel', reason: reasonFor(index) } as const)
        : ({ name: 'complete' } as const);
      const transitionSentAt = performance.now();
      const ended = await activities.persistTransition({ orderId, request });
      const transitionMs = performance.now() - transitionSentAt;
      await activities.publishOrderEvent(ended.eventId);
      record?.ok({ sentAt, startedAt, transitionMs, endedAt: performance.now() });
    } catch (error) {
      record?.fail(`order ${orderId}: ${describeError(error)}`);
    }
  };
  return { lifecycle, close: () => db.close() };
}

// ---- Bare Kafka: the same two events per order, through the order service's batching publisher

export const BARE_KAFKA_TOPIC = 'bench.bare-kafka';

export async function bareKafkaLifecycle(options: { kafka: Kafka; config: Config }) {
  await ensureTopics(options.kafka, [{ topic: BARE_KAFKA_TOPIC, numPartitions: 6 }]);
  const publisher = await createEventPublisher(options.kafka);
  const source = options.config.EVENT_SOURCE;
  const send = (order: Order) => {
    const event = eventForOrder(order);
    const stored = {
      eventId: eventIdFor(order.orderId, event.type),
      orderId: order.orderId,
      type: event.type,
      payload: JSON.stringify(event.payload),
      occurredAt: event.occurredAt,
    };
    return publisher.publish(BARE_KAFKA_TOPIC, {
      key: order.orderId,
      value: stored.payload,
      headers: cloudEventHeaders(stored, source),
    });
  };

  const lifecycle: Lifecycle = async (index, record) => {
    const command = newCreateOrder();
    const orderId = orderIdForCart(command.cartId);
    const now = new Date().toISOString();
    const created = orderFromCommand(orderId, command, now);
    const ended: Order = endsCancelled(index)
      ? { ...created, status: 'CANCELLED', cancelledAt: now, cancellationReason: reasonFor(index) }
      : { ...created, status: 'COMPLETED', completedAt: now };
    try {
      const sentAt = performance.now();
      await send(created);
      const startedAt = performance.now();
      await send(ended);
      const endedAt = performance.now();
      record?.ok({ sentAt, startedAt, transitionMs: endedAt - startedAt, endedAt });
    } catch (error) {
      record?.fail(`order ${orderId}: ${describeError(error)}`);
    }
  };
  return { lifecycle, close: () => publisher.close() };
}
