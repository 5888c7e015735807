// A rollout and a rollback with Worker Versioning, on the real stack: two builds of the worker
// (the same code, build ids `a` and `b`) in one Worker Deployment, switched with the Temporal CLI
// as the README's Deploying section tells operators to, while orders are mid-life. Every order
// finishes, none is lost or stuck, and its workflow tasks after each switch run on the build made
// current (AUTO_UPGRADE). Its own task queue, deployment, API and workers.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import type { WorkflowBundle } from '@temporalio/worker';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { bundleOrderWorkflows } from '../../scripts/build-workflows.js';
import { loadConfig } from '../../src/config.js';
import type { Order } from '../../src/contracts/schemas.js';
import { workflowIdForOrder } from '../../src/ids.js';
import { createLogger } from '../../src/logger.js';
import { startServer } from '../../src/server.js';
import { createOrderWorker, type OrderWorker } from '../../src/worker.js';
import { collectOrderEvents } from '../support/events.js';
import { newCreateOrder } from '../support/orders.js';
import { TOKENS, topicsOf } from '../support/stack.js';
import { TEMPORAL_CLI } from '../support/temporal.js';
import { eventually } from '../support/wait.js';

const run = promisify(execFile);
const suffix = randomUUID().slice(0, 8);
const TASK_QUEUE = `orders-versioning-${suffix}`;
const DEPLOYMENT = `orders-versioning-${suffix}`;

const settingsOf = (buildId: string) =>
  loadConfig({
    ...inject('env'),
    TEMPORAL_TASK_QUEUE: TASK_QUEUE,
    TEMPORAL_DEPLOYMENT_NAME: DEPLOYMENT,
    TEMPORAL_BUILD_ID: buildId,
    TEMPORAL_WORKER_VERSIONING: 'true',
    // The shared test worker consumes ordering.commands; these ones need not.
    COMMANDS_ENABLED: 'false',
  });

/** `temporal worker deployment <args>` against the test namespace, its JSON output parsed. */
async function deploymentCli(...args: string[]): Promise<any> {
  const env = inject('env');
  const { stdout } = await run(TEMPORAL_CLI, [
    'worker',
    'deployment',
    ...args,
    '--address',
    env.TEMPORAL_ADDRESS ?? '',
    '--namespace',
    env.TEMPORAL_NAMESPACE ?? '',
    '--output',
    'json',
  ]);
  return stdout.trim() === '' ? undefined : JSON.parse(stdout);
}

/** The deployment as `temporal worker deployment describe` shows it. */
const describeDeployment = () => deploymentCli('describe', '--name', DEPLOYMENT).catch(() => undefined);

/** Waits until the workers of `buildId` poll: Temporal knows the version, and the CLI may route to it. */
async function versionPolls(buildId: string): Promise<void> {
  await eventually(`build ${buildId} among the versions of ${DEPLOYMENT}`, async () => {
    const described = await describeDeployment();
    // The CLI's JSON (1.9.1) spells it `BuildID`.
    return (described?.versionSummaries ?? []).some((version: any) => version.BuildID === buildId) || undefined;
  });
}

/** Makes `buildId` current as an operator does, once its workers poll, and waits until Temporal routes by it. */
async function makeCurrent(buildId: string): Promise<void> {
  await versionPolls(buildId);
  await deploymentCli('set-current-version', '--deployment-name', DEPLOYMENT, '--build-id', buildId, '--yes');
  await eventually(`build ${buildId} current in ${DEPLOYMENT}`, async () => {
    const routing = (await describeDeployment())?.routingConfig;
    return routing?.currentVersionBuildID === buildId || undefined;
  });
}

let db: pg.Pool;
let events: Awaited<ReturnType<typeof collectOrderEvents>>;
let temporal: Client;
let bundle: WorkflowBundle;

beforeAll(async () => {
  const env = inject('env');
  db = new pg.Pool({ connectionString: env.DATABASE_URL, max: 2 });
  events = await collectOrderEvents(env.KAFKA_BROKERS!.split(','), topicsOf(env).events);
  temporal = new Client({
    connection: await Connection.connect({ address: env.TEMPORAL_ADDRESS ?? '' }),
    namespace: env.TEMPORAL_NAMESPACE ?? 'default',
  });
  bundle = await bundleOrderWorkflows({ traced: false });
});

afterAll(async () => {
  await events?.close();
  await db?.end();
  await temporal?.connection.close();
});

/** A worker of `buildId`, running until stopped. */
async function startBuild(buildId: string): Promise<{ stop(): Promise<void> }> {
  const settings = settingsOf(buildId);
  const worker: OrderWorker = await createOrderWorker(settings, createLogger(settings, `worker-${buildId}`), {
    workflowBundle: bundle,
  });
  const running = worker.run();
  return {
    async stop() {
      worker.shutdown();
      await running;
    },
  };
}

/** The build the order's run is on, and its behaviour, as the server describes the run. */
async function versioningOf(orderId: string) {
  const described = await temporal.workflow.getHandle(workflowIdForOrder(orderId)).describe();
  const info = described.raw.workflowExecutionInfo?.versioningInfo;
  return { buildId: info?.deploymentVersion?.buildId, behavior: info?.behavior, status: described.status.name };
}

/** The run's versioning once it ended: it ends with its order, a moment after the order's last event is out. */
const endedRun = (orderId: string) =>
  eventually(`the end of ${orderId}'s run`, async () => {
    const versioning = await versioningOf(orderId);
    return versioning.status === 'RUNNING' ? undefined : versioning;
  });

/** The build of each completed workflow task of the order's run, in order. */
async function workflowTaskBuilds(orderId: string): Promise<string[]> {
  const history = await temporal.workflow.getHandle(workflowIdForOrder(orderId)).fetchHistory();
  return (history.events ?? []).flatMap((event) => {
    const completed = event.workflowTaskCompletedEventAttributes;
    return completed ? [completed.deploymentVersion?.buildId ?? 'unversioned'] : [];
  });
}

/**
 * The order's workflow tasks ran on `from` (at least the `before` it had at the switch), then
 * only on `to`, and at least one did. A task of `from` may still complete between the count and
 * the switch (an event published after a commit): where the switch falls is not pinned.
 */
async function expectSwitched(orderId: string, from: string, to: string, before: number) {
  const taskBuilds = await workflowTaskBuilds(orderId);
  const switched = taskBuilds.indexOf(to);
  expect(switched, `${orderId}: ${taskBuilds}`).toBeGreaterThanOrEqual(before);
  expect(taskBuilds, orderId).toEqual([...Array(switched).fill(from), ...Array(taskBuilds.length - switched).fill(to)]);
}

/** How many workflow tasks of the order's run completed so far, all on `buildId`. */
async function tasksOn(orderId: string, buildId: string): Promise<number> {
  const taskBuilds = await workflowTaskBuilds(orderId);
  expect(new Set(taskBuilds), orderId).toEqual(new Set([buildId]));
  return taskBuilds.length;
}

// VERSIONING_BEHAVIOR_AUTO_UPGRADE in temporal.api.enums.v1.VersioningBehavior.
const AUTO_UPGRADE = 2;

describe('a rollout and a rollback with Worker Versioning', () => {
  it('moves running orders to the build made current, and back, none lost or stuck', async () => {
    const server = await startServer(settingsOf('a'));
    const address = server.app.server.address();
    if (address === null || typeof address === 'string') throw new Error('no port');
    const call = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`http://127.0.0.1:${address.port}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${TOKENS.all}`,
          ...(body !== undefined && { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return { status: response.status, body: (await response.json()) as Order & { code?: string } };
    };
    const create = async () => {
      const response = await call('POST', '/orders', newCreateOrder());
      expect(response.status, JSON.stringify(response.body)).toBe(201);
      return response.body.orderId;
    };
    const transition = async (orderId: string, command: 'confirm' | 'complete' | 'cancel', status: string) => {
      const response = await call(
        'POST',
        `/orders/${orderId}/${command}`,
        command === 'cancel' ? { reason: 'OUT_OF_STOCK' } : undefined,
      );
      expect(response.status, `${command} ${orderId}: ${JSON.stringify(response.body)}`).toBe(200);
      expect(response.body.status).toBe(status);
    };
    /** Each order ends in its status, in PostgreSQL and with its last event on Kafka. */
    const expectEnded = async (ends: [string, 'COMPLETED' | 'CANCELLED'][]) => {
      const { rows } = await db.query<{ order_id: string; status: string }>(
        'SELECT order_id, status FROM orders WHERE order_id = ANY($1::uuid[])',
        [ends.map(([orderId]) => orderId)],
      );
      expect(Object.fromEntries(rows.map((row) => [row.order_id, row.status]))).toEqual(Object.fromEntries(ends));
      for (const [orderId, status] of ends) {
        const finalEvent = status === 'COMPLETED' ? 'OrderCompleted' : 'OrderCancelled';
        await eventually(
          `${finalEvent} of ${orderId} on Kafka`,
          () => events.ofOrder(orderId).some((event) => event.headers.ce_type === finalEvent) || undefined,
        );
      }
    };

    const builds: { stop(): Promise<void> }[] = [];
    try {
      // Build a, current: orders start on it and some are confirmed.
      builds.push(await startBuild('a'));
      await makeCurrent('a');
      const orders = [];
      for (let index = 0; index < 6; index++) orders.push(await create());
      for (const orderId of orders.slice(0, 3)) await transition(orderId, 'confirm', 'CONFIRMED');
      for (const orderId of orders) {
        expect(await versioningOf(orderId)).toEqual({ buildId: 'a', behavior: AUTO_UPGRADE, status: 'RUNNING' });
      }
      const tasksOnA = new Map(await Promise.all(orders.map(async (id) => [id, await tasksOn(id, 'a')] as const)));

      // Rollout: build b starts beside a and is made current while the orders are mid-life.
      builds.push(await startBuild('b'));
      // The README's ramp step, at 0 % so that which build serves which task stays certain here.
      await versionPolls('b');
      await deploymentCli(
        'set-ramping-version',
        '--deployment-name',
        DEPLOYMENT,
        '--build-id',
        'b',
        '--percentage',
        '0',
        '--yes',
      );
      expect((await describeDeployment())?.routingConfig).toMatchObject({
        currentVersionBuildID: 'a',
        rampingVersionBuildID: 'b',
      });
      await makeCurrent('b');
      // Made current, the ramping build is no longer ramping.
      expect((await describeDeployment())?.routingConfig).toMatchObject({ rampingVersionBuildID: '' });
      const [c0, c1, c2, n0, n1, n2] = orders as [string, string, string, string, string, string];
      await transition(c0, 'complete', 'COMPLETED');
      await transition(c1, 'cancel', 'CANCELLED');
      await transition(c2, 'complete', 'COMPLETED');
      await transition(n0, 'confirm', 'CONFIRMED');
      await transition(n0, 'complete', 'COMPLETED');
      await transition(n1, 'complete', 'COMPLETED');
      await transition(n2, 'cancel', 'CANCELLED');
      await expectEnded([
        [c0, 'COMPLETED'],
        [c1, 'CANCELLED'],
        [c2, 'COMPLETED'],
        [n0, 'COMPLETED'],
        [n1, 'COMPLETED'],
        [n2, 'CANCELLED'],
      ]);
      for (const orderId of orders) {
        // The run ended with its order, on the build that ran its last workflow task.
        expect(await endedRun(orderId)).toEqual({ buildId: 'b', behavior: AUTO_UPGRADE, status: 'COMPLETED' });
        // Every workflow task before the switch ran on a, every one after it on b.
        await expectSwitched(orderId, 'a', 'b', tasksOnA.get(orderId) ?? 0);
      }

      // Orders started under b, one confirmed; then a rollback: a is current again and finishes them.
      const later = [await create(), await create(), await create()] as [string, string, string];
      await transition(later[0], 'confirm', 'CONFIRMED');
      for (const orderId of later) expect((await versioningOf(orderId)).buildId).toBe('b');
      const tasksOnB = new Map(await Promise.all(later.map(async (id) => [id, await tasksOn(id, 'b')] as const)));
      await makeCurrent('a');
      await transition(later[0], 'complete', 'COMPLETED');
      await transition(later[1], 'cancel', 'CANCELLED');
      await transition(later[2], 'complete', 'COMPLETED');
      await expectEnded([
        [later[0], 'COMPLETED'],
        [later[1], 'CANCELLED'],
        [later[2], 'COMPLETED'],
      ]);
      for (const orderId of later) {
        expect(await endedRun(orderId)).toEqual({ buildId: 'a', behavior: AUTO_UPGRADE, status: 'COMPLETED' });
        await expectSwitched(orderId, 'b', 'a', tasksOnB.get(orderId) ?? 0);
      }
    } finally {
      await server.close();
      for (const build of builds.reverse()) await build.stop();
    }
  });
});
