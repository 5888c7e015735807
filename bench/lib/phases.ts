// The four subjects of the benchmark: the order service over HTTP, and its three bare baselines
// (Temporal, PostgreSQL, Kafka). Each is a `lifecycle(index)` that runs one order from create
// to its end and records its timings; bench/run.ts drives them at the same concurrency.
import { Client, Connection } from '@temporalio/client';
import type { Kafka } from 'kafkajs';
import { createActivities } from '../../src/activities/index.js';
import type { Config } from '../../src/config.js';
import type { Order } from '../../src/contracts/schemas.js';
import { createDatabase } from '../../src/db/index.js';
import { cloudEventHeaders, createdEvent, eventsOf, type NewEvent } from '../../src/domain/events.js';
import { applyTransition, type CommandName, reasonOf, transitionEvents } from '../../src/domain/lifecycle.js';
import { orderIdForCart, workflowIdForOrder } from '../../src/ids.js';
import { createEventPublisher, type EventPublisher, ensureTopics, orderTopics } from '../../src/kafka/index.js';
import { createLogger } from '../../src/logger.js';
import { type PublishMetrics, storedEventOf } from '../../src/outbox.js';
import { dataConverterOf, startOrderOperation } from '../../src/temporal/client.js';
import { createOrderUpdate, transitionUpdates } from '../../src/workflows/definitions.js';
import type { orderWorkflow } from '../../src/workflows/order-workflow.js';
import { newCreateOrder, orderFromCommand, transitionContextAt } from '../../test/support/orders.js';
import { endOrderSignal, type YardstickEnding } from '../yardstick/definitions.js';
import type { yardstickOrderWorkflow } from '../yardstick/workflow.js';
import type { EventWatch } from './events.js';
import { ENDING_SEQUENCE, endingEventIds, endingRequest, endStatus } from './plan.js';
import { runPool } from './stats.js';

/** Who the bare subjects say asked, in the status history and the workflow's input (the API says `api:<token id>`). */
const BENCH_ACTOR = 'bench';

/** The timings of one subject, gathered over one or more measured chunks (times from performance.now()). */
export interface Samples {
  /** Start latencies (ms): until the 201 of POST /orders, or until update-with-start returned. */
  startMs: number[];
  /** Create sent → the lifecycle's end (ms): terminal event seen on Kafka, or the workflow's result. */
  lifecycleMs: number[];
  /**
   * The transition that ends the lifecycle (ms): POST complete/cancel until its 200, or the
   * Update until it returned (both answer once the transition is committed); for bare
   * PostgreSQL persistOrderTransition, for bare Kafka sending the transition's events.
   */
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

/**
 * One order from create to end; `record` is undefined for warm-up lifecycles. With a `schedule`
 * (open loop, bench/lib/open-loop.ts) the create leaves at `createAt` and the transition at
 * `transitionAt` or as soon as the create answered, whichever is later, and each latency counts
 * from its scheduled time, so a slow answer delays nothing that follows it.
 */
export type Lifecycle = (index: number, record: Recorder | undefined, schedule?: Schedule) => Promise<void>;

/** When an open-loop lifecycle's requests are due (performance.now() times). */
export interface Schedule {
  createAt: number;
  transitionAt: number;
}

/** Waits until `time` (performance.now()); at once when it is past. */
const until = (time: number) =>
  new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, time - performance.now())));

/** The transition's send time as its latency counts it: now (closed loop), or when it was due. */
async function transitionDue(schedule: Schedule | undefined): Promise<number> {
  if (schedule === undefined) return performance.now();
  await until(schedule.transitionAt);
  return schedule.transitionAt;
}

export interface Recorder {
  ok(times: { sentAt: number; startedAt: number; transitionMs: number; endedAt: number }): void;
  fail(what: string): void;
}

/** A new measured chunk of `samples`, and the recorder its lifecycles report to. */
function recorderOf(samples: Samples): Recorder {
  const chunk = { startedAt: performance.now(), completedAt: [] as number[] };
  samples.chunks.push(chunk);
  return {
    ok({ sentAt, startedAt, transitionMs, endedAt }) {
      samples.startMs.push(startedAt - sentAt);
      samples.transitionMs.push(transitionMs);
      samples.lifecycleMs.push(endedAt - sentAt);
      chunk.completedAt.push(endedAt);
    },
    fail: (what) => samples.failures.push(what),
  };
}

/** Runs `count` lifecycles (indexes from `firstIndex`) at `concurrency`, as one measured chunk of `samples` (or as warm-up). */
export async function drive(
  lifecycle: Lifecycle,
  options: { count: number; concurrency: number; firstIndex: number; samples?: Samples },
): Promise<void> {
  const recorder = options.samples && recorderOf(options.samples);
  await runPool(options.count, options.concurrency, (index) => lifecycle(options.firstIndex + index, recorder));
}

/**
 * Runs `count` lifecycles as one measured chunk of `samples` at a fixed arrival rate (open
 * loop): lifecycle i's create is due i / ratePerSec after the start and its transition
 * `transitionDelayMs` later, whether or not earlier ones have answered.
 */
export async function driveOpenLoop(
  lifecycle: Lifecycle,
  options: { count: number; ratePerSec: number; transitionDelayMs: number; firstIndex: number; samples: Samples },
): Promise<void> {
  const recorder = recorderOf(options.samples);
  const startedAt = performance.now();
  const intervalMs = 1000 / options.ratePerSec;
  const inFlight: Promise<void>[] = [];
  for (let index = 0; index < options.count; index++) {
    const createAt = startedAt + index * intervalMs;
    await until(createAt);
    const schedule = { createAt, transitionAt: createAt + options.transitionDelayMs };
    inFlight.push(lifecycle(options.firstIndex + index, recorder, schedule));
  }
  await Promise.all(inFlight);
}

const describeError = (error: unknown) => (error instanceof Error ? `${error.name}: ${error.message}` : String(error));

// ---- The order service over HTTP -------------------------------------------------------------

export interface PlacedOrder {
  orderId: string;
  /** The command that ends its lifecycle. */
  command: CommandName;
}

/**
 * Lifecycles through the API processes at `apiUrls`: each request (create, transition, a
 * repeat after a 202) goes to the next API in turn (round robin), so an order's create and
 * its transition are mostly served by different processes when there are several.
 */
export function systemLifecycle(options: {
  apiUrls: string[];
  token: string;
  events: EventWatch;
  lifecycleTimeoutMs: number;
}) {
  if (options.apiUrls.length === 0) throw new Error('systemLifecycle needs at least one API URL');
  const placed: PlacedOrder[] = [];
  const counters = { createAccepted202: 0, transitionAccepted202: 0 };
  /** Requests sent to each API (same order as `apiUrls`), warm-up included. */
  const requestsPerApi = options.apiUrls.map(() => 0);
  let nextApi = 0;
  const headers = { authorization: `Bearer ${options.token}`, 'content-type': 'application/json' };
  const post = async (path: string, body: unknown) => {
    const api = nextApi;
    nextApi = (nextApi + 1) % options.apiUrls.length;
    requestsPerApi[api] = (requestsPerApi[api] ?? 0) + 1;
    const response = await fetch(`${options.apiUrls[api]}${path}`, {
      method: 'POST',
      headers,
      body: JSON.stringify(body),
    });
    return { status: response.status, text: await response.text() };
  };

  const lifecycle: Lifecycle = async (index, record, schedule) => {
    const createOrder = newCreateOrder();
    const orderId = orderIdForCart(createOrder.cartId);
    const ending = endingRequest(index);
    placed.push({ orderId, command: ending.command });
    const fail = (what: string) => record?.fail(`order ${orderId}: ${what}`);
    try {
      const sentAt = schedule?.createAt ?? performance.now();
      let created = await post('/orders', createOrder);
      // 202: not committed within CREATE_ORDER_TIMEOUT_MS. The same command again answers 200
      // once it is (201 went to the first request); the latency runs until then.
      let accepted = false;
      while (created.status === 202) {
        accepted = true;
        counters.createAccepted202++;
        created = await post('/orders', createOrder);
      }
      const createdAt = performance.now();
      if (created.status !== 201 && !(accepted && created.status === 200)) {
        return fail(`create answered ${created.status} ${created.text.slice(0, 200)}`);
      }
      // 202: the workflow did not answer within TRANSITION_WAIT_MS. The same command again
      // answers 200 once the transition is committed (a repeat changes nothing); the latency
      // runs until then, as for create.
      const path = `/orders/${orderId}/${ending.command}`;
      const transitionSentAt = await transitionDue(schedule);
      let ended = await post(path, ending.payload);
      while (ended.status === 202) {
        counters.transitionAccepted202++;
        ended = await post(path, ending.payload);
      }
      const transitionMs = performance.now() - transitionSentAt;
      if (ended.status !== 200) return fail(`${ending.command} answered ${ended.status} ${ended.text.slice(0, 200)}`);
      const { status } = JSON.parse(ended.text) as Order;
      if (status !== endStatus(ending.command)) return fail(`${ending.command} answered 200 with the order ${status}`);
      // The lifecycle ends when the last event of its ending transition is on Kafka.
      const seen = Promise.all(endingEventIds(orderId, ending.command).map((ceId) => options.events.seen(ceId)));
      const seenAt = await Promise.race([
        seen.then((times) => Math.max(...times)),
        new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), options.lifecycleTimeoutMs).unref()),
      ]);
      if (seenAt === undefined) return fail(`terminal event not seen within ${options.lifecycleTimeoutMs} ms`);
      record?.ok({ sentAt, startedAt: createdAt, transitionMs, endedAt: seenAt });
    } catch (error) {
      fail(describeError(error));
    }
  };
  return { lifecycle, placed, counters, requestsPerApi };
}

// ---- Bare Temporal: the same workflow, no-op activities, driven by a Temporal client ---------

export async function bareTemporalLifecycle(options: { config: Config; taskQueue: string }) {
  const connection = await Connection.connect({ address: options.config.TEMPORAL_ADDRESS });
  // Payloads encrypted as the order service's are (TEMPORAL_PAYLOAD_KEYS), so the baseline pays the same.
  const client = new Client({
    connection,
    namespace: options.config.TEMPORAL_NAMESPACE,
    dataConverter: dataConverterOf(options.config),
  });

  const lifecycle: Lifecycle = async (index, record, schedule) => {
    const createOrder = newCreateOrder();
    const orderId = orderIdForCart(createOrder.cartId);
    const workflowId = `bench-bare-${workflowIdForOrder(orderId)}`;
    const { command, payload } = endingRequest(index);
    try {
      const sentAt = schedule?.createAt ?? performance.now();
      // Started exactly as the order service starts an order.
      const startWorkflowOperation = startOrderOperation(orderId, createOrder, options.taskQueue, {
        workflowId,
        actor: BENCH_ACTOR,
      });
      await client.workflow.executeUpdateWithStart(createOrderUpdate, { args: [createOrder], startWorkflowOperation });
      const startedAt = performance.now();
      const handle = client.workflow.getHandle<typeof orderWorkflow>(workflowId);
      // The Update the API sends (src/temporal/client.ts): it returns once the transition is committed.
      const transitionSentAt = await transitionDue(schedule);
      const { order } = await handle.executeUpdate(transitionUpdates[command], {
        args: [payload, { actor: BENCH_ACTOR }],
      });
      const transitionMs = performance.now() - transitionSentAt;
      if (order.status !== endStatus(command)) throw new Error(`${command} left the order ${order.status}`);
      // The lifecycle ends with the committed Update (publishing, a no-op here, and the run's
      // close follow). The order service's ends later, when its events are on Kafka: the
      // comparison favours the baseline.
      record?.ok({ sentAt, startedAt, transitionMs, endedAt: performance.now() });
    } catch (error) {
      record?.fail(`workflow ${workflowId}: ${describeError(error)}`);
    }
  };
  return { lifecycle, close: () => connection.close() };
}

/** BatchOperationState.BATCH_OPERATION_STATE_RUNNING */
const BATCH_RUNNING = 1;

/**
 * Ends the workflows still open on `taskQueues` (open orders, a sweep still running) with
 * one batch operation, and waits until the server has carried it out (up to `timeoutMs`), so its
 * work does not weigh on whatever the machine measures next. Resolves to the count terminated.
 */
export async function terminateOpenWorkflows(
  config: Config,
  taskQueues: string[],
  jobId: string,
  timeoutMs = 600_000,
): Promise<number> {
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  try {
    const namespace = config.TEMPORAL_NAMESPACE;
    const queues = taskQueues.map((queue) => `TaskQueue = '${queue.replaceAll("'", '')}'`).join(' OR ');
    await connection.workflowService.startBatchOperation({
      namespace,
      jobId,
      reason: 'benchmark run over',
      visibilityQuery: `ExecutionStatus = 'Running' AND (${queues})`,
      terminationOperation: { identity: 'order-bench' },
    });
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const batch = await connection.workflowService.describeBatchOperation({ namespace, jobId });
      if (batch.state !== BATCH_RUNNING || Date.now() > deadline) return Number(batch.completeOperationCount ?? 0);
      await new Promise((resolve) => setTimeout(resolve, 1_000));
    }
  } finally {
    await connection.close();
  }
}

// ---- The yardstick: the classic order workflow of bench/yardstick, frozen, no I/O --------------

export async function yardstickLifecycle(options: { config: Config; taskQueue: string }) {
  const connection = await Connection.connect({ address: options.config.TEMPORAL_ADDRESS });
  const client = new Client({ connection, namespace: options.config.TEMPORAL_NAMESPACE });

  const lifecycle: Lifecycle = async (index, record, schedule) => {
    const createOrder = newCreateOrder();
    const orderId = orderIdForCart(createOrder.cartId);
    const workflowId = `bench-yardstick-${orderId}`;
    const { command, payload } = endingRequest(index);
    const ending: YardstickEnding =
      command === 'cancel' ? { command, reason: (payload as { reason: string }).reason } : { command: 'complete' };
    try {
      const sentAt = schedule?.createAt ?? performance.now();
      const { customerId, currency, items, total } = createOrder;
      const handle = await client.workflow.start<typeof yardstickOrderWorkflow>('yardstickOrderWorkflow', {
        taskQueue: options.taskQueue,
        workflowId,
        args: [{ orderId, customerId, currency, items, total }],
      });
      const startedAt = performance.now();
      // The classic shape: a signal, then the workflow's result once the ending is persisted and published.
      const transitionSentAt = await transitionDue(schedule);
      await handle.signal(endOrderSignal, ending);
      const status = await handle.result();
      const endedAt = performance.now();
      if (status !== endStatus(command)) throw new Error(`${command} left the order ${status}`);
      record?.ok({ sentAt, startedAt, transitionMs: endedAt - transitionSentAt, endedAt });
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
  const uncounted: PublishMetrics = { published: () => {}, failed: () => {} };
  // Called directly, outside Temporal: they read an activity context only to report a failure that keeps coming.
  const activities = createActivities({
    db,
    publisher: nothingPublished,
    topic: orderTopics(options.config.KAFKA_TOPIC_PREFIX).events,
    eventSource: options.config.EVENT_SOURCE,
    metrics: uncounted,
  });

  const lifecycle: Lifecycle = async (index, record) => {
    const createOrder = newCreateOrder();
    const orderId = orderIdForCart(createOrder.cartId);
    try {
      // As the workflow calls them: persist, publish what is unpublished, transition, publish its events.
      const sentAt = performance.now();
      const created = await activities.persistOrder({ orderId, command: createOrder, actor: BENCH_ACTOR });
      const startedAt = performance.now();
      await activities.publishOrderEvents(created.unpublished.map((event) => event.eventId));
      const transitionSentAt = performance.now();
      const ended = await activities.persistOrderTransition({
        orderId,
        sequence: created.sequence + 1,
        from: created.order.status,
        request: endingRequest(index),
        actor: BENCH_ACTOR,
      });
      const transitionMs = performance.now() - transitionSentAt;
      await activities.publishOrderEvents(ended.events.map((event) => event.eventId));
      record?.ok({ sentAt, startedAt, transitionMs, endedAt: performance.now() });
    } catch (error) {
      record?.fail(`order ${orderId}: ${describeError(error)}`);
    }
  };
  return { lifecycle, close: () => db.close() };
}

// ---- Bare Kafka: an order's events, through the order service's batching publisher -----------

export const BARE_KAFKA_TOPIC = 'bench.bare-kafka';

export async function bareKafkaLifecycle(options: { kafka: Kafka; config: Config }) {
  await ensureTopics(options.kafka, [{ topic: BARE_KAFKA_TOPIC, numPartitions: 6 }]);
  const publisher = await createEventPublisher(options.kafka, createLogger(options.config, 'bench'));
  const source = options.config.EVENT_SOURCE;
  /** The events of an order's transition number `sequence`, one after the other, as the workflow publishes them. */
  const send = async (orderId: string, sequence: number, events: NewEvent[]) => {
    for (const event of events) {
      const stored = storedEventOf(orderId, sequence, event, undefined);
      await publisher.publish(BARE_KAFKA_TOPIC, {
        key: orderId,
        value: stored.payload,
        headers: cloudEventHeaders(stored, source),
      });
    }
  };

  const lifecycle: Lifecycle = async (index, record) => {
    const createOrder = newCreateOrder();
    const orderId = orderIdForCart(createOrder.cartId);
    const request = endingRequest(index);
    const created = orderFromCommand(orderId, createOrder, new Date().toISOString());
    const ended = applyTransition(created, request, transitionContextAt(new Date().toISOString(), ENDING_SEQUENCE));
    try {
      const sentAt = performance.now();
      await send(orderId, 0, [createdEvent(created)]);
      const startedAt = performance.now();
      const facts = { before: created, request, actor: 'bench', reason: reasonOf(request), statusSequence: 1 };
      await send(orderId, ENDING_SEQUENCE, eventsOf(transitionEvents(created, ended, request), ended, facts));
      const endedAt = performance.now();
      record?.ok({ sentAt, startedAt, transitionMs: endedAt - startedAt, endedAt });
    } catch (error) {
      record?.fail(`order ${orderId}: ${describeError(error)}`);
    }
  };
  return { lifecycle, close: () => publisher.close() };
}
