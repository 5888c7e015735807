// orderWorkflow on a real Temporal dev server (the stack's CLI binary), activities mocked
// with the types of the real module.
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import type { WorkflowHandle } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderActivities, PersistedOrder } from '../../src/activities/index.js';
import { loadConfig } from '../../src/config.js';
import type { CreateOrder, Order } from '../../src/contracts/schemas.js';
import type { TransitionRequest } from '../../src/domain/order.js';
import { OrderError } from '../../src/domain/order.js';
import { orderIdForCart, workflowIdForOrder } from '../../src/ids.js';
import { connectOrderWorkflows, type OrderWorkflows } from '../../src/temporal/client.js';
import { getOrderStateQuery, OrderStatusAttribute } from '../../src/workflows/definitions.js';
import { WORKFLOWS_PATH } from '../../worker.js';
import { newCreateOrder, orderFromCommand } from '../support/orders.js';
import { createTestEnvironment } from '../support/temporal.js';

/** In-memory stand-ins for the activities, recording what the workflow asked for. */
function mockActivities(options: { failCreatedPublishes?: number } = {}) {
  const calls: string[] = [];
  const orders = new Map<string, Order>();
  let createdPublishFailures = options.failCreatedPublishes ?? 0;
  const at = '2026-11-26T10:00:00.000Z';

  const activities: OrderActivities = {
    async persistOrder({ orderId, command }): Promise<PersistedOrder> {
      calls.push('persistOrder');
      const order: Order = orders.get(orderId) ?? orderFromCommand(orderId, command, at);
      orders.set(orderId, order);
      return { order, eventId: `${orderId}:OrderCreated` };
    },
    async persistTransition({ orderId, request }: { orderId: string; request: TransitionRequest }) {
      calls.push(`persistTransition:${request.name}`);
      const order = orders.get(orderId);
      if (order === undefined) throw new Error('no such order');
      const ended: Order =
        request.name === 'complete'
          ? { ...order, status: 'COMPLETED', completedAt: at }
          : { ...order, status: 'CANCELLED', cancelledAt: at, cancellationReason: request.reason };
      orders.set(orderId, ended);
      return { order: ended, eventId: `${orderId}:${ended.status}` };
    },
    async publishOrderEvent(eventId: string) {
      if (eventId.endsWith(':OrderCreated') && createdPublishFailures > 0) {
        createdPublishFailures--;
        calls.push('publish failed');
        throw new Error('kafka is down');
      }
      calls.push(`publish:${eventId.split(':')[1]}`);
    },
  };
  return { activities, calls };
}

let env: TestWorkflowEnvironment;
let workflowBundle: WorkflowBundle;

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  [env, workflowBundle] = await Promise.all([
    createTestEnvironment(),
    bundleWorkflowCode({ workflowsPath: WORKFLOWS_PATH, logger: new DefaultLogger('ERROR') }),
  ]);
});

/** `RECORD_HISTORIES=1 npx vitest run test/workflow` refreshes the histories the replay test checks. */
async function recordHistory(name: string, handle: WorkflowHandle) {
  if (process.env.RECORD_HISTORIES !== '1') return;
  const history = await handle.fetchHistory();
  const file = new URL(`./histories/${name}.json`, import.meta.url);
  await writeFile(file, `${JSON.stringify(JSON.parse(historyToJSON(history)), null, 2)}\n`);
}

afterAll(async () => {
  await env?.teardown();
});

/** Runs `body` with a worker on a fresh task queue and a production client pointed at it. */
async function withWorker<T>(
  activities: OrderActivities,
  body: (workflows: OrderWorkflows, taskQueue: string) => Promise<T>,
): Promise<T> {
  const taskQueue = `test-${randomUUID()}`;
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle,
    activities,
  });
  const workflows = await connectOrderWorkflows(
    loadConfig({ TEMPORAL_ADDRESS: env.address, TEMPORAL_TASK_QUEUE: taskQueue }),
  );
  try {
    return await worker.runUntil(body(workflows, taskQueue));
  } finally {
    await workflows.close();
  }
}

async function createOrder(workflows: OrderWorkflows, command: CreateOrder = newCreateOrder()) {
  const orderId = orderIdForCart(command.cartId);
  const result = await workflows.createOrder(orderId, command, 30_000);
  if (result === undefined) throw new Error('createOrder timed out');
  return { orderId, command, result, handle: env.client.workflow.getHandle(workflowIdForOrder(orderId)) };
}

describe('orderWorkflow', () => {
  it('creates, then completes: persists and announces each step, in order', async () => {
    const { activities, calls } = mockActivities();
    await withWorker(activities, async (workflows) => {
      const { orderId, result, handle } = await createOrder(workflows);
      expect(result.created).toBe(true);
      expect(result.order).toMatchObject({ orderId, status: 'CREATED' });

      expect(await workflows.requestTransition(orderId, { name: 'complete' })).toBe(true);
      const ended = await handle.result();
      expect(ended.status).toBe('COMPLETED');
      expect(calls).toEqual([
        'persistOrder',
        'publish:OrderCreated',
        'persistTransition:complete',
        'publish:COMPLETED',
      ]);

      const description = await handle.describe();
      expect(description.typedSearchAttributes.get(OrderStatusAttribute)).toBe('COMPLETED');
      expect(await description.memo).toMatchObject({ currency: 'EUR', itemCount: 2 });
      await recordHistory('order-completed', handle);
    });
  });

  it('creates, then cancels with the reason given', async () => {
    const { activities, calls } = mockActivities();
    await withWorker(activities, async (workflows) => {
      const { orderId, handle } = await createOrder(workflows);
      await workflows.requestTransition(orderId, { name: 'cancel', reason: 'OUT_OF_STOCK' });
      const ended = await handle.result();
      expect(ended).toMatchObject({ status: 'CANCELLED', cancellationReason: 'OUT_OF_STOCK' });
      expect(calls).toContain('persistTransition:cancel');
      expect((await handle.describe()).typedSearchAttributes.get(OrderStatusAttribute)).toBe('CANCELLED');
      await recordHistory('order-cancelled', handle);
    });
  });

  it('lets the first of racing and repeated signals win, and carries out only that one', async () => {
    const { activities, calls } = mockActivities();
    await withWorker(activities, async (workflows) => {
      const { orderId, handle } = await createOrder(workflows);
      await Promise.all([
        workflows.requestTransition(orderId, { name: 'cancel', reason: 'FRAUD' }),
        workflows.requestTransition(orderId, { name: 'complete' }),
        workflows.requestTransition(orderId, { name: 'cancel', reason: 'CUSTOMER_REQUESTED' }),
        workflows.requestTransition(orderId, { name: 'complete' }),
      ]);
      const ended = await handle.result();
      expect(['COMPLETED', 'CANCELLED']).toContain(ended.status);
      expect(calls.filter((call) => call.startsWith('persistTransition'))).toHaveLength(1);
      expect(calls.filter((call) => call.startsWith('publish:'))).toHaveLength(2);
      const state = await handle.query(getOrderStateQuery);
      expect(state.refusedTransitions).toHaveLength(3);
      expect(state.publishedEvents).toEqual([
        'OrderCreated',
        ended.status === 'COMPLETED' ? 'OrderCompleted' : 'OrderCancelled',
      ]);
      await recordHistory('order-racing-signals', handle);
    });
  });

  it('answers a repeated CreateOrder with the same order, and refuses a different one for the cart', async () => {
    const { activities, calls } = mockActivities();
    await withWorker(activities, async (workflows) => {
      const first = await createOrder(workflows);
      const again = await workflows.createOrder(first.orderId, first.command, 30_000);
      expect(again).toMatchObject({ created: false, order: { orderId: first.orderId } });

      const different = { ...first.command, currency: 'USD' };
      await expect(workflows.createOrder(first.orderId, different, 30_000)).rejects.toBeInstanceOf(OrderError);
      expect(calls.filter((call) => call === 'persistOrder')).toHaveLength(1);

      const state = await first.handle.query(getOrderStateQuery);
      expect(state).toMatchObject({ status: 'CREATED', acceptedTransition: null });
      await workflows.requestTransition(first.orderId, { name: 'complete' });
      await first.handle.result();
    });
  });

  it('joins concurrent identical creates into one workflow and one order', async () => {
    const { activities, calls } = mockActivities();
    await withWorker(activities, async (workflows) => {
      const command = newCreateOrder();
      const orderId = orderIdForCart(command.cartId);
      const results = await Promise.all(
        Array.from({ length: 8 }, () => workflows.createOrder(orderId, command, 30_000)),
      );
      expect(results.filter((result) => result?.created)).toHaveLength(1);
      expect(new Set(results.map((result) => result?.order.orderId))).toEqual(new Set([orderId]));
      expect(calls.filter((call) => call === 'persistOrder')).toHaveLength(1);
      await workflows.requestTransition(orderId, { name: 'complete' });
      await env.client.workflow.getHandle(workflowIdForOrder(orderId)).result();
    });
  });

  it('answers "accepted" when the workflow started but no worker committed the order in time', async () => {
    // No worker polls this task queue: the start reaches Temporal, the update cannot complete.
    const workflows = await connectOrderWorkflows(
      loadConfig({ TEMPORAL_ADDRESS: env.address, TEMPORAL_TASK_QUEUE: `idle-${randomUUID()}` }),
    );
    try {
      const command = newCreateOrder();
      const orderId = orderIdForCart(command.cartId);
      expect(await workflows.createOrder(orderId, command, 1_500)).toBeUndefined();
      const handle = env.client.workflow.getHandle(workflowIdForOrder(orderId));
      expect((await handle.describe()).status.name).toBe('RUNNING');
      await handle.terminate('test over');
    } finally {
      await workflows.close();
    }
  });

  it('does not hold a transition back while OrderCreated cannot be published, and keeps the event order', async () => {
    const { activities, calls } = mockActivities({ failCreatedPublishes: 3 });
    await withWorker(activities, async (workflows) => {
      const { orderId, handle } = await createOrder(workflows);
      await workflows.requestTransition(orderId, { name: 'complete' });
      const ended = await handle.result();
      expect(ended.status).toBe('COMPLETED');
      // The status change was persisted before the created event finally went out...
      expect(calls.indexOf('persistTransition:complete')).toBeLessThan(calls.indexOf('publish:OrderCreated'));
      // ...and the terminal event still followed it.
      expect(calls.indexOf('publish:OrderCreated')).toBeLessThan(calls.indexOf('publish:COMPLETED'));
      expect(calls.filter((call) => call === 'publish failed')).toHaveLength(3);
      await recordHistory('order-completed-after-publish-retries', handle);
    });
  });
});
