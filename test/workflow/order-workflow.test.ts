// orderWorkflow on a real Temporal dev server (the stack's CLI binary), activities mocked
// with the types of the real module.
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { bundleWorkflowCode, DefaultLogger, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundleOrderWorkflows } from '../../scripts/build-workflows.js';
import type { OrderActivities, PersistedOrder, TransitionInput } from '../../src/activities/index.js';
import { loadConfig } from '../../src/config.js';
import type { CreateOrder, Order } from '../../src/contracts/schemas.js';
import { applyTransition, type TransitionRequest, transitionEvents } from '../../src/domain/lifecycle.js';
import { OrderError } from '../../src/domain/order.js';
import { orderIdForCart, workflowIdForOrder } from '../../src/ids.js';
import { connectOrderWorkflowClient, type OrderWorkflowClient } from '../../src/temporal/client.js';
import {
  cancelOrderSignal,
  completeOrderSignal,
  getOrderStateQuery,
  HoldOverdueAttribute,
  OrderStatusAttribute,
  transitionUpdates,
} from '../../src/workflows/definitions.js';
import { newCreateOrder, orderFromCommand, transitionContextAt } from '../support/orders.js';
import { createTestEnvironment } from '../support/temporal.js';

/** The workflow as released in v1, frozen: runs started on it must end on today's code. */
const V1_WORKFLOWS_PATH = fileURLToPath(new URL('../fixtures/order-workflow-v1/index.ts', import.meta.url));

/** In-memory stand-ins for the activities, recording what the workflow asked for. */
function mockActivities(options: { failCreatedPublishes?: number; refuseTransitions?: number } = {}) {
  const calls: string[] = [];
  /** Events published so far, by id. */
  const published = new Set<string>();
  const transitions: TransitionInput[] = [];
  /** Transitions committed, `sequence:command`: retries of a local activity do not add any. */
  const committed: string[] = [];
  const orders = new Map<string, { order: Order; sequence: number }>();
  let createdPublishFailures = options.failCreatedPublishes ?? 0;
  let refusals = options.refuseTransitions ?? 0;
  const at = '2026-11-26T10:00:00.000Z';

  const eventsOf = (orderId: string, sequence: number, before: Order, after: Order, request: TransitionRequest) =>
    transitionEvents(before, after, request).map((type) => ({ eventId: `${orderId}:${sequence}:${type}`, type }));
  /** The context the real activity builds, with what it would fetch from PostgreSQL made up. */
  const contextOf = (sequence: number, actor: string) => ({
    ...transitionContextAt(at, sequence, actor),
    confirmationNumber: `ORD-${String(sequence).padStart(8, '0')}`,
    recordChecksum: 'c'.repeat(64),
  });

  const activities: OrderActivities = {
    async persistOrder({ orderId, command }): Promise<PersistedOrder> {
      calls.push('persistOrder');
      const createdId = `${orderId}:0:OrderCreated`;
      const known = orders.get(orderId);
      // As the real one: a repeat (a local activity run again after a lost workflow task) finds what is still unpublished.
      if (known !== undefined) {
        const unpublished = published.has(createdId) ? [] : [{ eventId: createdId, type: 'OrderCreated' as const }];
        return { ...known, eventId: createdId, unpublished };
      }
      const order = orderFromCommand(orderId, command, at);
      orders.set(orderId, { order, sequence: 0 });
      return { order, sequence: 0, eventId: createdId, unpublished: [{ eventId: createdId, type: 'OrderCreated' }] };
    },
    async persistOrderTransition(input) {
      calls.push(`persistOrderTransition:${input.request.command}`);
      transitions.push(input);
      if (refusals > 0) {
        refusals--;
        throw ApplicationFailure.create({
          type: 'PERSISTENCE_REFUSED',
          message: 'check constraint',
          nonRetryable: true,
        });
      }
      const known = orders.get(input.orderId);
      if (known === undefined) throw new Error('no such order');
      // As the real one: a retry of a committed transition finds it done.
      if (known.sequence === input.sequence) {
        return { ...known, events: eventsOf(input.orderId, input.sequence, known.order, known.order, input.request) };
      }
      const order = applyTransition(known.order, input.request, contextOf(input.sequence, input.actor));
      const events = eventsOf(input.orderId, input.sequence, known.order, order, input.request);
      orders.set(input.orderId, { order, sequence: input.sequence });
      committed.push(`${input.sequence}:${input.request.command}`);
      return { order, sequence: input.sequence, events };
    },
    async markHoldOverdue({ orderId, holdId }) {
      calls.push('markHoldOverdue');
      const known = orders.get(orderId);
      if (known?.order.hold?.holdId !== holdId) return null;
      const order = { ...known.order, hold: { ...known.order.hold, overdue: true } };
      orders.set(orderId, { ...known, order });
      return order;
    },
    async persistTransition({ orderId, request }) {
      calls.push(`persistTransition:${request.name}`);
      const known = orders.get(orderId);
      if (known === undefined) throw new Error('no such order');
      const asRequest: TransitionRequest =
        request.name === 'cancel'
          ? { command: 'cancel', payload: { reason: request.reason } }
          : { command: 'complete', payload: {} };
      const order = applyTransition(known.order, asRequest, contextOf(1, 'temporal:orderWorkflow-v1'));
      orders.set(orderId, { order, sequence: 1 });
      return { order, eventId: `${orderId}:1:${transitionEvents(known.order, order, asRequest)[0]}` };
    },
    async publishOrderEvent(eventId: string) {
      await publishOrderEvents([eventId]);
    },
    publishOrderEvents,
  };
  /** As the real one: a commit's events in turn (a failure leaves them all to the retry). */
  async function publishOrderEvents(eventIds: string[]) {
    if (eventIds.some((eventId) => eventId.endsWith(':OrderCreated')) && createdPublishFailures > 0) {
      createdPublishFailures--;
      calls.push('publish failed');
      throw new Error('kafka is down');
    }
    for (const eventId of eventIds) {
      calls.push(`publish:${eventId.split(':').at(-1)}`);
      published.add(eventId);
    }
  }
  return { activities, calls, transitions, committed };
}

let env: TestWorkflowEnvironment;
let workflowBundle: WorkflowBundle;
let v1Bundle: WorkflowBundle;

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  [env, workflowBundle, v1Bundle] = await Promise.all([
    createTestEnvironment(),
    bundleOrderWorkflows({ traced: false }),
    bundleWorkflowCode({ workflowsPath: V1_WORKFLOWS_PATH, logger: new DefaultLogger('ERROR') }),
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

/** Runs `body` with a worker (today's bundle unless told) and a production client pointed at its task queue. */
async function withWorker<T>(
  activities: OrderActivities,
  body: (workflows: OrderWorkflowClient) => Promise<T>,
  {
    bundle = workflowBundle,
    taskQueue = `test-${randomUUID()}`,
    // Orders here archive a second after they end, so their runs close and their results can be awaited.
    deadlines = { ARCHIVE_AFTER_MS: '1000' } as Record<string, string>,
  } = {},
): Promise<T> {
  const worker = await Worker.create({
    connection: env.nativeConnection,
    taskQueue,
    workflowBundle: bundle,
    activities,
  });
  const workflows = await connectOrderWorkflowClient(
    loadConfig({ TEMPORAL_ADDRESS: env.address, TEMPORAL_TASK_QUEUE: taskQueue, ...deadlines }),
  );
  try {
    return await worker.runUntil(body(workflows));
  } finally {
    await workflows.close();
  }
}

async function createOrder(workflows: OrderWorkflowClient, command: CreateOrder = newCreateOrder()) {
  const orderId = orderIdForCart(command.cartId);
  const result = await workflows.startOrder(orderId, command, 'api:test', 30_000);
  if (result === undefined) throw new Error('createOrder timed out');
  return { orderId, command, result, handle: env.client.workflow.getHandle(workflowIdForOrder(orderId)) };
}

const complete: TransitionRequest = { command: 'complete', payload: {} };
const cancel = (reason: 'FRAUD' | 'OUT_OF_STOCK' | 'CUSTOMER_REQUESTED' = 'FRAUD'): TransitionRequest => ({
  command: 'cancel',
  payload: { reason },
});

/** Sends a transition Update through the production client; the committed result. */
async function transition(workflows: OrderWorkflowClient, orderId: string, request: TransitionRequest) {
  const outcome = await workflows.transition(orderId, request, 'api:test', 30_000);
  if (outcome.kind !== 'done') throw new Error(`transition not done: ${outcome.kind}`);
  return outcome.result;
}

/** The names of the transition Updates accepted into the run's history. */
async function acceptedUpdates(handle: WorkflowHandle): Promise<string[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).flatMap((event) => {
    const name = event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name;
    return name && name !== 'createOrder' ? [name] : [];
  });
}

/**
 * The order as it ended (COMPLETED or CANCELLED), from the run's result: the run closes once
 * the order is archived (ARCHIVE_AFTER_MS after it ended), ARCHIVED with its terminal status.
 */
async function endedOrder(handle: WorkflowHandle): Promise<Order> {
  const order = (await handle.result()) as Order;
  expect(order.status).toBe('ARCHIVED');
  return { ...order, status: order.archive?.terminalStatus ?? order.status };
}

/** Calls to the transition activity, except the workflow's own archival. */
const transitionCalls = (calls: string[]) =>
  calls.filter((call) => call.startsWith('persistOrderTransition') && call !== 'persistOrderTransition:archive');

describe('orderWorkflow', () => {
  it('creates, then completes by Update: answers with the committed order, persists and announces each step', async () => {
    const { activities, calls, transitions } = mockActivities();
    await withWorker(activities, async (workflows) => {
      const { orderId, result, handle } = await createOrder(workflows);
      expect(result.created).toBe(true);
      expect(result.order).toMatchObject({ orderId, status: 'CREATED' });

      const done = await transition(workflows, orderId, complete);
      expect(done).toMatchObject({ changed: true, order: { orderId, status: 'COMPLETED' } });
      expect((await endedOrder(handle)).status).toBe('COMPLETED');
      // ARCHIVE_AFTER_MS after it completed, the workflow archived it by itself.
      expect(calls.filter((call) => !call.startsWith('publish'))).toEqual([
        'persistOrder',
        'persistOrderTransition:complete',
        'persistOrderTransition:archive',
      ]);
      expect(calls.filter((call) => call.startsWith('publish:'))).toEqual([
        'publish:OrderCreated',
        'publish:OrderCompleted',
        'publish:OrderStatusChanged',
        'publish:OrderArchived',
        'publish:OrderStatusChanged',
      ]);
      expect(transitions).toEqual([
        { orderId, sequence: 1, from: 'CREATED', request: complete, actor: 'api:test' },
        {
          orderId,
          sequence: 2,
          from: 'COMPLETED',
          request: { command: 'archive', payload: {} },
          actor: 'temporal:archive',
        },
      ]);

      const description = await handle.describe();
      expect(description.typedSearchAttributes.get(OrderStatusAttribute)).toBe('ARCHIVED');
      expect(await description.memo).toMatchObject({ currency: 'EUR', itemCount: 2 });
      await recordHistory('v4-order-completed-then-archived', handle);
    });
  });

  it('creates, then cancels with the reason given', async () => {
    const { activities, transitions } = mockActivities();
    await withWorker(activities, async (workflows) => {
      const { orderId, handle } = await createOrder(workflows);
      const done = await transition(workflows, orderId, cancel('OUT_OF_STOCK'));
      expect(done.order).toMatchObject({ status: 'CANCELLED', cancellationReason: 'OUT_OF_STOCK' });
      expect((await handle.describe()).typedSearchAttributes.get(OrderStatusAttribute)).toBe('CANCELLED');
      expect(await endedOrder(handle)).toMatchObject({ status: 'CANCELLED', cancellationReason: 'OUT_OF_STOCK' });
      expect(transitions.map((input) => input.request.command)).toEqual(['cancel', 'archive']);
      await recordHistory('v4-order-cancelled', handle);
    });
  });

  it('lets exactly one of 20 racing transitions win; the others are refused before history or answered as repeats', async () => {
    const { activities, calls, committed } = mockActivities();
    await withWorker(activities, async (workflows) => {
      const { orderId, handle } = await createOrder(workflows);
      const requests = Array.from({ length: 20 }, (_, index) => (index % 2 === 0 ? cancel() : complete));
      const outcomes = await Promise.allSettled(
        requests.map((request) => workflows.transition(orderId, request, 'api:test', 30_000)),
      );
      const ended = await endedOrder(handle);
      const changed = outcomes.filter(
        (outcome) => outcome.status === 'fulfilled' && outcome.value.kind === 'done' && outcome.value.result.changed,
      );
      expect(changed).toHaveLength(1);
      // The others: refused by the validator, answered as repeats, or too late for the run (the API then asks the database).
      for (const outcome of outcomes) {
        if (outcome.status === 'rejected') expect(outcome.reason).toMatchObject({ code: 'TRANSITION_NOT_ALLOWED' });
        else if (outcome.value.kind === 'done') expect(outcome.value.result.order.status).toBe(ended.status);
        else expect(outcome.value.kind).toBe('not-running');
      }
      // Refused Updates never entered history: only those leading where the order went did.
      const winner = ended.status === 'COMPLETED' ? 'complete' : 'cancel';
      expect(new Set(await acceptedUpdates(handle))).toEqual(new Set([winner]));
      expect(committed).toEqual([`1:${winner}`, '2:archive']);
      // OrderCreated; the winner's event and OrderStatusChanged; OrderArchived and OrderStatusChanged.
      expect(calls.filter((call) => call.startsWith('publish:'))).toHaveLength(5);
      await recordHistory('v4-order-racing-updates', handle);
    });
  });

  it('refuses malformed and disallowed signals without blocking the order, and records why', async () => {
    const { activities, calls } = mockActivities();
    await withWorker(activities, async (workflows) => {
      const { handle } = await createOrder(workflows);
      await handle.signal(cancelOrderSignal, { reason: 'BOGUS' });
      await handle.signal(cancelOrderSignal);
      await handle.signal(cancelOrderSignal, 'x');
      await handle.signal(completeOrderSignal, { unexpected: true });
      await expect(handle.query(getOrderStateQuery)).resolves.toMatchObject({ status: 'CREATED', refusedCount: 4 });

      // A valid signal still works, and the order moves on; one after it is refused.
      await handle.signal(cancelOrderSignal, { reason: 'FRAUD' });
      await handle.signal(completeOrderSignal);
      const ended = await endedOrder(handle);
      expect(ended).toMatchObject({ status: 'CANCELLED', cancellationReason: 'FRAUD' });
      expect(transitionCalls(calls)).toEqual(['persistOrderTransition:cancel']);
      const state = await handle.query(getOrderStateQuery);
      expect(state.refusedTransitions.map((refusal) => refusal.reason)).toEqual([
        expect.stringContaining('/reason must be one of'),
        expect.stringContaining('must have property reason'),
        expect.stringContaining('must be object'),
        expect.stringContaining('/unexpected is not allowed'),
        expect.stringContaining('it cannot complete'),
      ]);
      expect(state.publishedEvents).toEqual([
        'OrderCreated',
        'OrderCancelled',
        'OrderStatusChanged',
        'OrderArchived',
        'OrderStatusChanged',
      ]);
      await recordHistory('v4-order-bad-signals', handle);
    });
  });

  it('refuses an Update with a malformed payload or meta in its validator: the caller gets the fields, history nothing', async () => {
    const { activities } = mockActivities();
    await withWorker(activities, async (workflows) => {
      const { orderId, handle } = await createOrder(workflows);
      const bogus = { command: 'cancel', payload: { reason: 'BOGUS' } } as unknown as TransitionRequest;
      const error = await workflows.transition(orderId, bogus, 'api:test', 30_000).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(OrderError);
      expect(error).toMatchObject({
        code: 'VALIDATION_FAILED',
        details: [expect.objectContaining({ field: '/reason' })],
      });
      await expect(
        handle.executeUpdate(transitionUpdates.complete, { args: [{}, { actor: 'bad\u0000actor' }] }),
      ).rejects.toMatchObject({ cause: { type: 'VALIDATION_FAILED' } });
      await expect(handle.executeUpdate('cancel', { args: ['x'] })).rejects.toMatchObject({
        cause: { type: 'VALIDATION_FAILED' },
      });
      expect(await acceptedUpdates(handle)).toEqual([]);
      await transition(workflows, orderId, complete);
      await endedOrder(handle);
    });
  });

  it('takes an Update typed by hand without its optional meta', async () => {
    const { activities, transitions } = mockActivities();
    await withWorker(activities, async (workflows) => {
      const { handle } = await createOrder(workflows);
      await handle.executeUpdate('cancel', { args: [{ reason: 'CUSTOMER_REQUESTED' }] });
      expect(await endedOrder(handle)).toMatchObject({ status: 'CANCELLED' });
      expect(transitions[0]?.actor).toBe('temporal:update');
    });
  });

  it('does not wedge the order when a transition can never be committed', async () => {
    const { activities, calls } = mockActivities({ refuseTransitions: 1 });
    await withWorker(activities, async (workflows) => {
      const { orderId, handle } = await createOrder(workflows);
      await expect(workflows.transition(orderId, cancel(), 'api:test', 30_000)).rejects.toMatchObject({
        cause: { type: 'TRANSITION_FAILED' },
      });
      expect(await handle.query(getOrderStateQuery)).toMatchObject({ status: 'CREATED', refusedCount: 1 });
      await transition(workflows, orderId, complete);
      expect(await endedOrder(handle)).toMatchObject({ status: 'COMPLETED' });
      expect(transitionCalls(calls)).toHaveLength(2);
    });
  });

  it('resumes a terminated order from the database: a new run, then transitions work again', async () => {
    const { activities, calls } = mockActivities();
    await withWorker(activities, async (workflows) => {
      const { orderId, command, handle } = await createOrder(workflows);
      await handle.terminate('operator mistake');
      expect(await workflows.transition(orderId, complete, 'api:test', 5_000)).toEqual({ kind: 'not-running' });

      expect(await workflows.resume(orderId, command, 'CREATED', 'api:ops')).toBe(true);
      expect(await workflows.resume(orderId, command, 'CREATED', 'api:ops')).toBe(false);
      const done = await transition(workflows, orderId, complete);
      expect(done).toMatchObject({ changed: true, order: { status: 'COMPLETED' } });
      await endedOrder(env.client.workflow.getHandle(workflowIdForOrder(orderId)));
      expect(calls.filter((call) => call === 'persistOrder')).toHaveLength(2);
    });
  });

  it("carries runs started on the first workflow version to their end on today's code, by Update and by signal", async () => {
    const { activities, calls } = mockActivities();
    const taskQueue = `upgrade-${randomUUID()}`;
    const [byUpdate, bySignal, racing] = await withWorker(
      activities,
      async (workflows) => Promise.all([createOrder(workflows), createOrder(workflows), createOrder(workflows)]),
      { bundle: v1Bundle, taskQueue },
    );
    if (byUpdate === undefined || bySignal === undefined || racing === undefined) throw new Error('not started');
    await withWorker(
      activities,
      async (workflows) => {
        expect(await transition(workflows, byUpdate.orderId, cancel('CUSTOMER_REQUESTED'))).toMatchObject({
          changed: true,
          order: { status: 'CANCELLED' },
        });
        await bySignal.handle.signal(cancelOrderSignal, { reason: 'BOGUS' });
        await bySignal.handle.signal(completeOrderSignal);
        const outcomes = await Promise.allSettled([
          transition(workflows, racing.orderId, complete),
          transition(workflows, racing.orderId, cancel()),
        ]);
        expect(outcomes.filter((outcome) => outcome.status === 'fulfilled')).toHaveLength(1);
        expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toEqual([
          expect.objectContaining({ reason: expect.objectContaining({ code: 'TRANSITION_NOT_ALLOWED' }) }),
        ]);
        expect(await byUpdate.handle.result()).toMatchObject({ status: 'CANCELLED' });
        expect(await bySignal.handle.result()).toMatchObject({ status: 'COMPLETED' });
        await racing.handle.result();
        expect(await bySignal.handle.query(getOrderStateQuery)).toMatchObject({ refusedCount: 1 });
        await recordHistory('v1-order-cancelled-by-update-after-upgrade', byUpdate.handle);
        await recordHistory('v1-order-completed-by-signal-after-upgrade', bySignal.handle);
      },
      { taskQueue },
    );
    // The first version's activities, as its histories name them.
    expect(calls.filter((call) => call.startsWith('persistTransition:'))).toHaveLength(3);
    expect(calls.some((call) => call.startsWith('persistOrderTransition'))).toBe(false);
  });

  it('answers a repeated CreateOrder with the same order, and refuses a different one for the cart', async () => {
    const { activities, calls } = mockActivities();
    await withWorker(activities, async (workflows) => {
      const first = await createOrder(workflows);
      const again = await workflows.startOrder(first.orderId, first.command, 'api:test', 30_000);
      expect(again).toMatchObject({ created: false, order: { orderId: first.orderId } });

      const different = { ...first.command, currency: 'USD' };
      await expect(workflows.startOrder(first.orderId, different, 'api:test', 30_000)).rejects.toBeInstanceOf(
        OrderError,
      );
      expect(calls.filter((call) => call === 'persistOrder')).toHaveLength(1);

      const state = await first.handle.query(getOrderStateQuery);
      expect(state).toMatchObject({ status: 'CREATED', pendingTransitions: [] });
      await transition(workflows, first.orderId, complete);
      await endedOrder(first.handle);
    });
  });

  it('joins concurrent identical creates into one workflow and one order', async () => {
    const { activities, calls } = mockActivities();
    await withWorker(activities, async (workflows) => {
      const command = newCreateOrder();
      const orderId = orderIdForCart(command.cartId);
      const results = await Promise.all(
        Array.from({ length: 8 }, () => workflows.startOrder(orderId, command, 'api:test', 30_000)),
      );
      expect(results.filter((result) => result?.created)).toHaveLength(1);
      expect(new Set(results.map((result) => result?.order.orderId))).toEqual(new Set([orderId]));
      expect(calls.filter((call) => call === 'persistOrder')).toHaveLength(1);
      await transition(workflows, orderId, complete);
      await endedOrder(env.client.workflow.getHandle(workflowIdForOrder(orderId)));
    });
  });

  it('answers "accepted" when the workflow started but no worker committed the order in time', async () => {
    // No worker polls this task queue: the start reaches Temporal, the update cannot complete.
    const workflows = await connectOrderWorkflowClient(
      loadConfig({ TEMPORAL_ADDRESS: env.address, TEMPORAL_TASK_QUEUE: `idle-${randomUUID()}` }),
    );
    try {
      const command = newCreateOrder();
      const orderId = orderIdForCart(command.cartId);
      expect(await workflows.startOrder(orderId, command, 'api:test', 1_500)).toBeUndefined();
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
      await transition(workflows, orderId, complete);
      const ended = await endedOrder(handle);
      expect(ended.status).toBe('COMPLETED');
      // The status change was committed before the created event finally went out...
      expect(calls.indexOf('persistOrderTransition:complete')).toBeLessThan(calls.indexOf('publish:OrderCreated'));
      // ...and the terminal event still followed it.
      expect(calls.indexOf('publish:OrderCreated')).toBeLessThan(calls.indexOf('publish:OrderCompleted'));
      expect(calls.filter((call) => call === 'publish failed')).toHaveLength(3);
      await recordHistory('v4-order-completed-after-publish-retries', handle);
    });
  });

  it('walks the whole lifecycle: a hold goes overdue, the amendment window and the archival come by themselves', async () => {
    const { activities, calls, transitions } = mockActivities();
    const deadlines = { AMENDMENT_WINDOW_MS: '1500', ARCHIVE_AFTER_MS: '1000' };
    await withWorker(
      activities,
      async (workflows) => {
        const { orderId, handle } = await createOrder(workflows);
        const held = await transition(workflows, orderId, {
          command: 'hold',
          payload: {
            reason: 'PAYMENT_REVIEW',
            ownerTeam: 'payments',
            reviewBy: new Date(Date.now() + 1_000).toISOString(),
          },
        });
        expect(held.order).toMatchObject({ status: 'ON_HOLD', hold: { reason: 'PAYMENT_REVIEW', overdue: false } });
        // reviewBy passes with the order still held: marked overdue, for operators to find.
        await waitFor(async () => (await handle.describe()).typedSearchAttributes.get(HoldOverdueAttribute) === true);
        expect(calls).toContain('markHoldOverdue');
        expect((await handle.query(getOrderStateQuery)).order?.hold?.overdue).toBe(true);

        // Released to CONFIRMED: held before it was confirmed, so the release confirms it.
        const released = await transition(workflows, orderId, {
          command: 'release',
          payload: { resolution: 'payment verified', nextStatus: 'CONFIRMED' },
        });
        expect(released.order).toMatchObject({ status: 'CONFIRMED', hold: null, confirmationNumber: 'ORD-00000002' });
        expect((await handle.describe()).typedSearchAttributes.get(HoldOverdueAttribute)).toBe(false);
        expect(await handle.query(getOrderStateQuery)).toMatchObject({ nextDeadline: { kind: 'amendment-window' } });
        const amended = await transition(workflows, orderId, {
          command: 'amend',
          payload: { promotionCode: 'WINTER' },
        });
        expect(amended.order).toMatchObject({ status: 'CONFIRMED', revision: 2, promotionCode: 'WINTER' });

        // The amendment window closes by itself: the order awaits fulfilment.
        await waitFor(async () => (await handle.query(getOrderStateQuery)).status === 'AWAITING_FULFILMENT');
        await expect(
          workflows.transition(orderId, { command: 'amend', payload: { promotionCode: 'LATE' } }, 'api:test', 30_000),
        ).rejects.toMatchObject({ code: 'TRANSITION_NOT_ALLOWED' });
        const fulfilling = await transition(workflows, orderId, {
          command: 'startFulfilment',
          payload: { warehouseId: 'wh-1', priority: 'EXPEDITED', deliveryMethod: 'HOME_DELIVERY' },
        });
        expect(fulfilling.order).toMatchObject({
          status: 'FULFILLING',
          fulfilment: { warehouseId: 'wh-1', itemCount: 3 },
        });
        await transition(workflows, orderId, complete);
        const archived = (await handle.result()) as Order;
        expect(archived).toMatchObject({
          status: 'ARCHIVED',
          archive: { terminalStatus: 'COMPLETED', retentionCategory: 'FINANCIAL_RECORD' },
        });
        expect(transitions.map(({ request, actor }) => `${request.command} by ${actor}`)).toEqual([
          'hold by api:test',
          'release by api:test',
          'amend by api:test',
          'releaseToFulfilment by temporal:amendment-window',
          'startFulfilment by api:test',
          'complete by api:test',
          'archive by temporal:archive',
        ]);
        await recordHistory('v4-order-full-lifecycle', handle);
      },
      { deadlines },
    );
  });

  it('keeps a pending deadline across a worker restart: it fires once, on the new worker', async () => {
    const { activities, committed } = mockActivities();
    const taskQueue = `restart-${randomUUID()}`;
    const deadlines = { AMENDMENT_WINDOW_MS: '1500' };
    const { orderId, handle } = await withWorker(
      activities,
      async (workflows) => {
        const created = await createOrder(workflows);
        await transition(workflows, created.orderId, { command: 'confirm', payload: {} });
        return created;
      },
      { taskQueue, deadlines },
    );
    // No worker while the window closes; the next one carries the timer out.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await withWorker(
      activities,
      async () => waitFor(async () => (await handle.query(getOrderStateQuery)).status === 'AWAITING_FULFILMENT'),
      { taskQueue, deadlines },
    );
    expect(committed).toEqual(['1:confirm', '2:releaseToFulfilment']);
    await handle.terminate('test over');
    expect(orderId).toBeDefined();
  });

  it('refuses an amendment that breaks the order rules in its validator: nothing enters history', async () => {
    const { activities } = mockActivities();
    await withWorker(activities, async (workflows) => {
      const { orderId, handle } = await createOrder(workflows);
      const productId = 'a1a1a1a1-0000-4000-8000-000000000001';
      const twice = [
        { productId, quantity: 1, unitPrice: 100 },
        { productId, quantity: 2, unitPrice: 100 },
      ];
      await expect(
        workflows.transition(orderId, { command: 'amend', payload: { items: twice } }, 'api:test', 30_000),
      ).rejects.toMatchObject({
        code: 'VALIDATION_FAILED',
        details: [expect.objectContaining({ code: 'DUPLICATE_PRODUCT' })],
      });
      expect(await acceptedUpdates(handle)).toEqual([]);
      await handle.terminate('test over');
    });
  });
});

/** Polls `check` every 100 ms until it holds (20 s at most). */
async function waitFor(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met within 20 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
