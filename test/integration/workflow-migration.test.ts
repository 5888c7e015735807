// Versions that retire, on the real stack: runs of the retired versions v1, v2 and v3 (each
// frozen as released, in test/fixtures/order-workflow-v1, -v2 and -v3), which this release no
// longer runs, are replaced by `npm run ops -- migrate` from PostgreSQL, with the previous release
// (test/fixtures/order-workflow-previous-release) running (onto the version it starts, v4) or
// today's (onto v5); runs of v4 are handed over to v5 with today's worker. Then they carry on
// over HTTP. Their own task queues, API and workers.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { bundleOrderWorkflows } from '../../scripts/build-workflows.js';
import { createActivities } from '../../src/activities/index.js';
import { type Config, loadConfig, temporalConnectionOf } from '../../src/config.js';
import type { Order } from '../../src/contracts/schemas.js';
import { createDatabase } from '../../src/db/index.js';
import { eventIdFor, workflowIdForOrder } from '../../src/ids.js';
import { createEventPublisher, createKafka, type EventPublisher } from '../../src/kafka/index.js';
import { createLogger } from '../../src/logger.js';
import { createPublishMetrics } from '../../src/outbox.js';
import { startServer } from '../../src/server.js';
import { connectTemporal } from '../../src/temporal/client.js';
import { createOrderWorker } from '../../src/worker.js';
import { getOrderStateQuery, OrderWorkflowVersionAttribute } from '../../src/workflows/definitions.js';
import { collectOrderEvents } from '../support/events.js';
import { newCreateOrder } from '../support/orders.js';
import { TOKENS, topicsOf } from '../support/stack.js';
import { eventually } from '../support/wait.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}/index.ts`, import.meta.url));
const OPS = fileURLToPath(new URL('../../src/ops.ts', import.meta.url));
const quiet = { info() {}, warn() {}, error() {} };

const environment = (taskQueue: string) => ({
  ...inject('env'),
  TEMPORAL_TASK_QUEUE: taskQueue,
  // The shared test worker consumes ordering.commands; these ones need not.
  COMMANDS_ENABLED: 'false',
});

let db: pg.Pool;
let events: Awaited<ReturnType<typeof collectOrderEvents>>;
let publisher: EventPublisher;
const bundles = {} as Record<'v1' | 'v2' | 'v3' | 'previous' | 'today', WorkflowBundle>;

beforeAll(async () => {
  const env = inject('env');
  db = new pg.Pool({ connectionString: env.DATABASE_URL, max: 2 });
  events = await collectOrderEvents(env.KAFKA_BROKERS!.split(','), topicsOf(env).events);
  publisher = await createEventPublisher(createKafka(loadConfig(env), quiet), quiet);
  const logger = new DefaultLogger('WARN');
  [bundles.v1, bundles.v2, bundles.v3, bundles.previous, bundles.today] = await Promise.all([
    bundleWorkflowCode({ workflowsPath: fixture('order-workflow-v1'), logger }),
    bundleWorkflowCode({ workflowsPath: fixture('order-workflow-v2'), logger }),
    bundleWorkflowCode({ workflowsPath: fixture('order-workflow-v3'), logger }),
    bundleWorkflowCode({ workflowsPath: fixture('order-workflow-previous-release'), logger }),
    bundleOrderWorkflows({ traced: false }),
  ]);
}, 120_000);

afterAll(async () => {
  await publisher?.close();
  await events?.close();
  await db?.end();
});

/**
 * A worker of the previous releases: an old bundle, and the activities those releases had (v1
 * published each event with publishOrderEvent, which today's worker no longer has).
 */
async function withPreviousRelease<T>(config: Config, bundle: WorkflowBundle, body: () => Promise<T>): Promise<T> {
  const { NativeConnection } = await import('@temporalio/worker');
  const connection = await NativeConnection.connect(temporalConnectionOf(config));
  const database = createDatabase(config, createLogger(config, 'worker'));
  const activities = createActivities({
    db: database,
    publisher,
    topic: topicsOf(inject('env')).events,
    eventSource: config.EVENT_SOURCE,
    metrics: createPublishMetrics(Runtime.instance().metricMeter),
  });
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    workflowBundle: bundle,
    activities: {
      ...activities,
      // As the previous releases had them: persistOrder named OrderCreated's id, and each event was published alone.
      persistOrder: async (input: Parameters<typeof activities.persistOrder>[0]) => ({
        ...(await activities.persistOrder(input)),
        eventId: eventIdFor(input.orderId, 0, 'OrderCreated'),
      }),
      publishOrderEvent: (eventId: string) => activities.publishOrderEvents([eventId]),
    },
  });
  try {
    return await worker.runUntil(body());
  } finally {
    await database.close();
    await connection.close();
  }
}

/** Today's worker on the task queue until `body` is done. */
async function withTodaysWorker<T>(config: Config, body: () => Promise<T>): Promise<T> {
  const worker = await createOrderWorker(config, createLogger(config, 'worker'), { workflowBundle: bundles.today });
  const running = worker.run();
  try {
    return await body();
  } finally {
    worker.shutdown();
    await running;
  }
}

/** `npm run ops -- <args>` with the environment's config: its exit code and what it printed. */
async function ops(env: Record<string, string>, ...args: string[]) {
  try {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', OPS, ...args], {
      env: { ...process.env, ...env },
    });
    return { code: 0, stdout };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: `${failed.stdout}${failed.stderr}` };
  }
}

/** Open runs per version, as `npm run ops -- versions` prints them. */
async function versions(env: Record<string, string>): Promise<Record<string, number>> {
  const { code, stdout } = await ops(env, 'versions');
  expect(code, stdout).toBe(0);
  return Object.fromEntries(
    [...stdout.matchAll(/^\s+(v\d)\s+(\d+)/gm)].map(([, version, count]) => [version, Number(count)]),
  );
}

/** Waits until `versions` prints these counts (visibility catches up with a moved run within a second or so). */
async function versionsBecome(env: Record<string, string>, expected: Record<string, number>) {
  await eventually(`open runs per version ${JSON.stringify(expected)}`, async () => {
    const counts = await versions(env);
    return Object.entries(expected).every(([version, count]) => counts[version] === count) ? counts : undefined;
  });
}

async function withApi<T>(config: Config, body: (call: ApiCall) => Promise<T>): Promise<T> {
  const server = await startServer(config);
  const address = server.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  const call: ApiCall = async (method, path, requestBody) => {
    const response = await fetch(`http://127.0.0.1:${address.port}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${TOKENS.all}`,
        ...(requestBody !== undefined && { 'content-type': 'application/json' }),
      },
      body: requestBody === undefined ? undefined : JSON.stringify(requestBody),
    });
    return { status: response.status, body: (await response.json()) as Order & { code?: string } };
  };
  try {
    return await body(call);
  } finally {
    await server.close();
  }
}
type ApiCall = (
  method: string,
  path: string,
  body?: unknown,
) => Promise<{ status: number; body: Order & { code?: string } }>;

describe('npm run ops -- migrate', () => {
  it('replaces runs of a retired version (v1) from PostgreSQL while the previous release runs; they carry on today', async () => {
    const env = environment(`orders-migrate-v1-${randomUUID()}`);
    const config = loadConfig(env);
    await withApi(config, async (call) => {
      // Orders started long ago, on the first version.
      const orders = await withPreviousRelease(config, bundles.v1, async () => {
        const created: Order[] = [];
        for (let index = 0; index < 2; index++) {
          const response = await call('POST', '/orders', newCreateOrder());
          expect(response.status).toBe(201);
          created.push(response.body);
          await events.waitFor(response.body.orderId, 1);
        }
        return created;
      });
      // Before upgrading, with the previous release running: its workers answer whether anything
      // is pending, and run the replacements (the newest version it starts: v4).
      await withPreviousRelease(config, bundles.previous, async () => {
        expect(await versions(env)).toMatchObject({ v1: 2, v4: 0, v5: 0 });
        const migrated = await ops(env, 'migrate', '--from', 'v1', '--rate', '20');
        expect(migrated.code, migrated.stdout).toBe(0);
        expect(migrated.stdout).toContain('migrate --from v1: moved 2, left 0');
        // Idempotent: nothing of v1 is left to move.
        expect((await ops(env, 'migrate', '--from', 'v1')).stdout).toContain('moved 0, left 0');
        await versionsBecome(env, { v1: 0, v4: 2 });
      });

      // Upgraded: today's worker runs v4, and moves it on to v5.
      await withTodaysWorker(config, async () => {
        const migrated = await ops(env, 'migrate', '--from', 'v4');
        expect(migrated.stdout).toContain('migrate --from v4: moved 2, left 0');
        await versionsBecome(env, { v1: 0, v4: 0, v5: 2 });
        const [toComplete, toCancel] = orders as [Order, Order];
        const completed = await call('POST', `/orders/${toComplete.orderId}/complete`);
        expect(completed.status, JSON.stringify(completed.body)).toBe(200);
        const cancelled = await call('POST', `/orders/${toCancel.orderId}/cancel`, { reason: 'OUT_OF_STOCK' });
        expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);
        for (const [order, final] of [
          [toComplete, 'OrderCompleted'],
          [toCancel, 'OrderCancelled'],
        ] as const) {
          const seen = await events.waitFor(order.orderId, 3);
          // OrderCreated once (the v1 run published it), then today's run's events.
          expect(seen.map((event) => event.headers.ce_type)).toEqual(['OrderCreated', final, 'OrderStatusChanged']);
        }
      });
      const { rows } = await db.query(
        'SELECT command, actor FROM order_status_history WHERE order_id = ANY($1::uuid[]) AND sequence > 0',
        [orders.map((order) => order.orderId)],
      );
      // One transition each, by today's workflow for the caller: nothing replayed or lost in the moves.
      expect(rows.map((row) => row.command).sort()).toEqual(['cancel', 'complete']);
      expect(rows.every((row) => row.actor.startsWith('api-key:'))).toBe(true);
    });
  });

  it("replaces runs of v2 and v3 (retired) from their histories, on the previous release or today's: a confirmed order keeps its amendment window, none loses an event", async () => {
    const env = environment(`orders-migrate-v2-v3-${randomUUID()}`);
    const config = loadConfig(env);
    const temporal = await connectTemporal(config);
    const stateOf = (order: Order) =>
      temporal.client.workflow.getHandle(workflowIdForOrder(order.orderId)).query(getOrderStateQuery);
    try {
      await withApi(config, async (call) => {
        const create = async () => {
          const response = await call('POST', '/orders', newCreateOrder());
          expect(response.status, JSON.stringify(response.body)).toBe(201);
          await events.waitFor(response.body.orderId, 1);
          return response.body;
        };
        // An order of v2 (the lifecycle loop), and two of v3 (deadlines), one of them confirmed.
        const onV2 = await withPreviousRelease(config, bundles.v2, create);
        const [onV3, confirmedOnV3, window] = await withPreviousRelease(config, bundles.v3, async () => {
          const [created, confirmed] = [await create(), await create()];
          expect((await call('POST', `/orders/${confirmed.orderId}/confirm`)).status).toBe(200);
          await events.waitFor(confirmed.orderId, 3);
          const state = await stateOf(confirmed);
          expect(state).toMatchObject({ status: 'CONFIRMED', nextDeadline: { kind: 'amendment-window' } });
          return [created, confirmed, state.nextDeadline] as const;
        });
        expect(await versions(env)).toMatchObject({ v1: 0, v2: 1, v3: 2, v4: 0, v5: 0 });

        // No release replays a v2 or v3 run that published an event (the previous release
        // schedules publishOrderEvents where they scheduled publishOrderEvent): the query fails
        // (on nondeterminism, or as "Failed to query Workflow" when the server gives up first).
        await withPreviousRelease(config, bundles.previous, async () => {
          await expect(stateOf(onV2)).rejects.toThrow(/[Nn]ondeterminism|Failed to query/);
          // Their histories say nothing is in flight, so migrate replaces them all the same:
          // with the previous release running, onto v4.
          const migrated = await ops(env, 'migrate', '--from', 'v2', '--rate', '20');
          expect(migrated.code, migrated.stdout).toBe(0);
          expect(migrated.stdout).toContain('migrate --from v2: moved 1, left 0');
          await versionsBecome(env, { v2: 0, v4: 1 });
        });

        await withTodaysWorker(config, async () => {
          // With today's release, onto v5 directly; the v4 replacement is handed over.
          for (const [from, count] of [
            ['v3', 2],
            ['v4', 1],
          ] as const) {
            const migrated = await ops(env, 'migrate', '--from', from, '--rate', '20');
            expect(migrated.code, migrated.stdout).toBe(0);
            expect(migrated.stdout).toContain(`migrate --from ${from}: moved ${count}, left 0`);
          }
          await versionsBecome(env, { v3: 0, v4: 0, v5: 3 });
          // The replacement read the window's start from PostgreSQL: it closes when it would have.
          expect(await stateOf(confirmedOnV3)).toMatchObject({
            version: 'v5',
            status: 'CONFIRMED',
            nextDeadline: window,
          });

          const steps = [
            [onV2, 'complete', undefined, ['OrderCreated', 'OrderCompleted', 'OrderStatusChanged']],
            [onV3, 'cancel', { reason: 'OUT_OF_STOCK' }, ['OrderCreated', 'OrderCancelled', 'OrderStatusChanged']],
            [
              confirmedOnV3,
              'cancel',
              { reason: 'FRAUD' },
              ['OrderCreated', 'OrderConfirmed', 'OrderStatusChanged', 'OrderCancelled', 'OrderStatusChanged'],
            ],
          ] as const;
          for (const [order, command, body, expected] of steps) {
            const response = await call('POST', `/orders/${order.orderId}/${command}`, body);
            expect(response.status, JSON.stringify(response.body)).toBe(200);
            const seen = await events.waitFor(order.orderId, expected.length);
            // The old runs published their events once; today's run published only its own.
            expect(seen.map((event) => event.headers.ce_type)).toEqual(expected);
          }
        });
        const { rows } = await db.query(
          'SELECT command, actor FROM order_status_history WHERE order_id = ANY($1::uuid[]) AND sequence > 0',
          [[onV2, onV3, confirmedOnV3].map((order) => order.orderId)],
        );
        // Each transition once, asked over HTTP: nothing replayed or lost in the moves.
        expect(rows.map((row) => row.command).sort()).toEqual(['cancel', 'cancel', 'complete', 'confirm']);
        expect(rows.every((row) => row.actor.startsWith('api-key:'))).toBe(true);
      });
    } finally {
      await temporal.close();
    }
  });

  it('hands runs of a supported version (v4) over to v5: a deadline keeps its time, an ended order closes its run', async () => {
    const env = environment(`orders-migrate-v4-${randomUUID()}`);
    const config = loadConfig(env);
    const temporal = await connectTemporal(config);
    try {
      await withApi(config, async (call) => {
        const [confirmed, completed] = await withPreviousRelease(config, bundles.previous, async () => {
          const created = await Promise.all([
            call('POST', '/orders', newCreateOrder()),
            call('POST', '/orders', newCreateOrder()),
          ]);
          const [a, b] = created.map((response) => response.body) as [Order, Order];
          expect((await call('POST', `/orders/${a.orderId}/confirm`)).status).toBe(200);
          expect((await call('POST', `/orders/${b.orderId}/complete`)).status).toBe(200);
          return [a, b];
        });
        const handleOf = (order: Order) => temporal.client.workflow.getHandle(workflowIdForOrder(order.orderId));
        await withTodaysWorker(config, async () => {
          const before = await handleOf(confirmed).query(getOrderStateQuery);
          expect(before).toMatchObject({
            version: 'v4',
            status: 'CONFIRMED',
            nextDeadline: { kind: 'amendment-window' },
          });
          expect(await versions(env)).toMatchObject({ v4: 2, v5: 0 });

          const migrated = await ops(env, 'migrate', '--from', 'v4');
          expect(migrated.code, migrated.stdout).toBe(0);
          expect(migrated.stdout).toContain('migrate --from v4: moved 2, left 0');
          expect(await versions(env)).toMatchObject({ v4: 0 });

          const after = await handleOf(confirmed).query(getOrderStateQuery);
          // The amendment window still closes when it would have: its start went along.
          expect(after).toMatchObject({ version: 'v5', status: 'CONFIRMED', nextDeadline: before.nextDeadline });
          expect((await handleOf(confirmed).describe()).typedSearchAttributes.get(OrderWorkflowVersionAttribute)).toBe(
            'v5',
          );
          // The completed order's run no longer waits months for its archival: it closed.
          expect(await handleOf(completed).result()).toMatchObject({ status: 'COMPLETED' });

          const cancelled = await call('POST', `/orders/${confirmed.orderId}/cancel`, { reason: 'FRAUD' });
          expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);
        });
      });
    } finally {
      await temporal.close();
    }
  });
});
