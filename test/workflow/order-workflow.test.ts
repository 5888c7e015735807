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
  handOverUpdate,
  OrderStatusAttribute,
  OrderWorkflowVersionAttribute,
  transitionUpdates,
} from '../../src/workflows/definitions.js';
import { newCreateOrder, orderFromCommand, transitionContextAt } from '../support/orders.js';
import { createTestEnvironment } from '../support/temporal.js';

/** The workflow's v4, frozen: its runs wait for their archival timer, and must still end on today's code. */
const V4_WORKFLOWS_PATH = fileURLToPath(
  new URL('../fixtures/order-workflow-previous-release/index.ts', import.meta.url),
);

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
        return { ...known, statusSince: at, unpublished };
      }
      const order = orderFromCommand(orderId, command, at);
      orders.set(orderId, { order, sequence: 0 });
      return { order, sequence: 0, statusSince: at, unpublished: [{ eventId: createdId, type: 'OrderCreated' }] };
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
    async archiveDueOrders() {
      calls.push('archiveDueOrders');
      return { archived: 0, skipped: 0, unpublished: 0 };
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
let v4Bundle: WorkflowBundle;

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  [env, workflowBundle, v4Bundle] = await Promise.all([
    createTestEnvironment(),
    bundleOrderWorkflows({ traced: false }),
    bundleWorkflowCode({ workflowsPath: V4_WORKFLOWS_PATH, logger: new DefaultLogger('ERROR') }),
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
    // Runs of v4 archive a second after they end, so they close and their results can be awaited.
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

/** The order as it ended (COMPLETED or CANCELLED), from the run's result: since v5 the run closes there. */
async function endedOrder(handle: WorkflowHandle): Promise<Order> {
  const order = (await handle.result()) as Order;
  expect(['COMPLETED', 'CANCELLED']).toContain(order.status);
  return order;
}

/** Calls to the transition activity. */
const transitionCalls = (calls: string[]) => calls.filter((call) => call.startsWith('persistOrderTransition'));

describe('orderWorkflow', () => {
  it('creates, then completes by Update: answers with the committed order, persists and announces each step', async () => {
    const { activities, calls, transitions } = mockActivities();
    await withWorker(activities, async (workflows) => {
      const { orderId, result, handle } = await createOrder(workflows);
      expect(result.created).toBe(true);
      expect(result.order).toMatchObject({ orderId, status: 'CREATED' });

      const done = await transition(workflows, orderId, complete);
      expect(done).toMatchObject({ changed: true, order: { orderId, status: 'COMPLETED' } });
      // The run ends with the order's active life: no archival timer keeps it open (the sweep archives).
      expect((await endedOrder(handle)).status).toBe('COMPLETED');
      expect(calls.filter((call) => !call.startsWith('publish'))).toEqual([
        'persistOrder',
        'persistOrderTransition:complete',
      ]);
      expect(calls.filter((call) => call.startsWith('publish:'))).toEqual([
        'publish:OrderCreated',
        'publish:OrderCompleted',
        'publish:OrderStatusChanged',
      ]);
      expect(transitions).toEqual([{ orderId, sequence: 1, from: 'CREATED', request: complete, actor: 'api:test' }]);

      const description = await handle.describe();
      expect(description.status.name).toBe('COMPLETED');
      expect(description.typedSearchAttributes.get(OrderStatusAttribute)).toBe('COMPLETED');
      expect(description.typedSearchAttributes.get(OrderWorkflowVersionAttribute)).toBe('v5');
      expect(await description.memo).toMatchObject({ currency: 'EUR', itemCount: 2 });
      // Operators see the order, not an id: its summary in the UI's list and header.
      expect(await description.staticSummary()).toMatch(new RegExp(`^Order ${orderId}: \\d+\\.\\d{2} EUR, 2 items$`));
      await recordHistory('v5-order-completed', handle);
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
      expect(transitions.map((input) => input.request.command)).toEqual(['cancel']);
      await recordHistory('v5-order-cancelled', handle);
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
      expect(committed).toEqual([`1:${winner}`]);
      // OrderCreated; the winner's event and OrderStatusChanged.
      expect(calls.filter((call) => call.startsWith('publish:'))).toHaveLength(3);
      await recordHistory('v5-order-racing-updates', handle);
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
      expect(state.publishedEvents).toEqual(['OrderCreated', 'OrderCancelled', 'OrderStatusChanged']);
      await recordHistory('v5-order-bad-signals', handle);
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

  it("carries runs started on v4 to their end on today's code: by Update, by signal, and their own archival timer", async () => {
    const { activities, transitions } = mockActivities();
    const taskQueue = `upgrade-${randomUUID()}`;
    const [byUpdate, bySignal] = await withWorker(
      activities,
      async (workflows) => Promise.all([createOrder(workflows), createOrder(workflows)]),
      { bundle: v4Bundle, taskQueue },
    );
    if (byUpdate === undefined || bySignal === undefined) throw new Error('not started');
    await withWorker(
      activities,
      async (workflows) => {
        expect(await transition(workflows, byUpdate.orderId, cancel('CUSTOMER_REQUESTED'))).toMatchObject({
          changed: true,
          order: { status: 'CANCELLED' },
        });
        await bySignal.handle.signal(cancelOrderSignal, { reason: 'BOGUS' });
        await bySignal.handle.signal(completeOrderSignal);
        // A v4 run waits for its archival timer, as it always did, and archives the order itself.
        expect(await byUpdate.handle.result()).toMatchObject({
          status: 'ARCHIVED',
          archive: { terminalStatus: 'CANCELLED' },
        });
        expect(await bySignal.handle.result()).toMatchObject({
          status: 'ARCHIVED',
          archive: { terminalStatus: 'COMPLETED' },
        });
        expect(await bySignal.handle.query(getOrderStateQuery)).toMatchObject({ refusedCount: 1, version: 'v4' });
        expect(
          (await byUpdate.handle.describe()).typedSearchAttributes.get(OrderWorkflowVersionAttribute),
        ).toBeUndefined();
      },
      { taskQueue },
    );
    expect(transitions.filter(({ request }) => request.command === 'archive')).toHaveLength(2);
  });

  it('hands a v4 run over to v5 (npm run ops -- migrate): the order carries on, its pending signal too', async () => {
    const { activities, committed } = mockActivities();
    const taskQueue = `hand-over-${randomUUID()}`;
    const { orderId, handle } = await withWorker(activities, (workflows) => createOrder(workflows), {
      bundle: v4Bundle,
      taskQueue,
    });
    await withWorker(
      activities,
      async (workflows) => {
        const first = (await handle.describe()).runId;
        await transition(workflows, orderId, { command: 'confirm', payload: {} });
        expect(await handle.executeUpdate(handOverUpdate)).toEqual({ from: 'v4' });
        // A signal sent while it hands over is carried to the next run.
        await handle.signal(cancelOrderSignal, { reason: 'FRAUD' });
        await waitFor(async () => (await handle.describe()).runId !== first);
        const order = await endedOrder(env.client.workflow.getHandle(workflowIdForOrder(orderId)));
        expect(order.status).toBe('CANCELLED');
        const latest = await env.client.workflow.getHandle(workflowIdForOrder(orderId)).describe();
        expect(latest.typedSearchAttributes.get(OrderWorkflowVersionAttribute)).toBe('v5');
        expect(committed).toEqual(['1:confirm', '2:cancel']);
        await recordHistory('v4-order-handed-over', env.client.workflow.getHandle(workflowIdForOrder(orderId), first));
      },
      { taskQueue },
    );
  });

  it('continues as new after ORDER_CONTINUE_AS_NEW_AFTER transitions, carrying its deadline and losing none', async () => {
    const { activities, committed } = mockActivities();
    await withWorker(
      activities,
      async (workflows) => {
        const { orderId, handle } = await createOrder(workflows);
        const first = (await handle.describe()).runId;
        await transition(workflows, orderId, { command: 'confirm', payload: {} });
        const codes = Array.from({ length: 12 }, (_, index) => `PROMO${index}`);
        // Concurrent amendments: some reach a run handing over, are refused there and asked again by the client.
        const outcomes = await Promise.all(
          codes.map((promotionCode) =>
            workflows.transition(orderId, { command: 'amend', payload: { promotionCode } }, 'api:test', 30_000),
          ),
        );
        expect(outcomes.every((outcome) => outcome.kind === 'done')).toBe(true);
        expect(committed).toHaveLength(13);
        // Then one at a time: each run hands over after five.
        for (const promotionCode of ['LATER1', 'LATER2', 'LATER3', 'LATER4', 'LATER5', 'LATER6']) {
          await transition(workflows, orderId, { command: 'amend', payload: { promotionCode } });
        }
        expect(committed).toHaveLength(19);
        // One commit per sequence, none lost or repeated across the runs.
        expect(committed.map((entry) => Number(entry.split(':')[0]))).toEqual(committed.map((_, index) => index + 1));
        // Several runs, one after another, the latest still keeping the amendment window.
        const { executions } = await env.client.workflowService.listWorkflowExecutions({
          namespace: 'default',
          query: `WorkflowId = '${workflowIdForOrder(orderId)}'`,
        });
        expect(executions.length).toBeGreaterThanOrEqual(3);
        expect((await handle.query(getOrderStateQuery)).order?.promotionCode).toBe('LATER6');
        await recordHistory(
          'v5-order-continued-as-new',
          env.client.workflow.getHandle(workflowIdForOrder(orderId), first),
        );
        expect(await handle.query(getOrderStateQuery)).toMatchObject({
          status: 'CONFIRMED',
          nextDeadline: { kind: 'amendment-window' },
        });
        await handle.terminate('test over');
      },
      { deadlines: { ORDER_CONTINUE_AS_NEW_AFTER: '5' } },
    );
  });

  it('answers an Update repeated after its run continued as new as that run did, without carrying it out again', async () => {
    // The client SDK sends an Update again (same id) while the server has not confirmed it was
    // accepted; a repeat sent after the run continued as new reaches the next run.
    const { activities, committed } = mockActivities();
    await withWorker(
      activities,
      async (workflows) => {
        const { orderId, handle } = await createOrder(workflows);
        const first = (await handle.describe()).runId;
        const amend = (promotionCode: string, updateId: string) =>
          handle.executeUpdate(transitionUpdates.amend, { updateId, args: [{ promotionCode }, { actor: 'test' }] });
        await transition(workflows, orderId, { command: 'confirm', payload: {} });
        for (const code of ['P1', 'P2', 'P3']) await amend(code, `amend-${code}`);
        // The fifth transition: the run hands over after answering it.
        expect((await amend('FIRST', 'amend-first')).changed).toBe(true);
        await waitFor(async () => (await handle.describe()).runId !== first);
        const second = (await handle.describe()).runId;

        const repeat = await amend('FIRST', 'amend-first');
        expect(repeat).toMatchObject({ changed: true, order: { promotionCode: 'FIRST' } });
        expect(committed).toHaveLength(5);
        // New Updates are decided afresh; the repeat's id is still known one run later.
        for (const code of ['Q1', 'Q2', 'Q3', 'Q4', 'LAST']) {
          expect((await amend(code, `amend-${code}`)).changed).toBe(true);
        }
        expect(committed).toHaveLength(10);
        await waitFor(async () => (await handle.describe()).runId !== second);
        expect(await amend('FIRST', 'amend-first')).toMatchObject({ changed: true, order: { promotionCode: 'LAST' } });
        expect(committed).toHaveLength(10);
        expect(committed.map((entry) => Number(entry.split(':')[0]))).toEqual(committed.map((_, index) => index + 1));
        await recordHistory(
          'v5-order-update-repeated-after-continue',
          env.client.workflow.getHandle(workflowIdForOrder(orderId), second),
        );
        await handle.terminate('test over');
      },
      { deadlines: { ORDER_CONTINUE_AS_NEW_AFTER: '5' } },
    );
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
      await recordHistory('v5-order-completed-after-publish-retries', handle);
    });
  });

  it('walks the whole lifecycle: a hold goes overdue, the amendment window closes by itself, the run ends at COMPLETED', async () => {
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
        // What operators read in the Temporal UI while it runs: where the order is, what it waits for.
        expect(await currentDetails(handle)).toMatch(/\*\*Status:\*\* FULFILLING/);
        await transition(workflows, orderId, complete);
        expect(await endedOrder(handle)).toMatchObject({ status: 'COMPLETED' });
        expect(transitions.map(({ request, actor }) => `${request.command} by ${actor}`)).toEqual([
          'hold by api:test',
          'release by api:test',
          'amend by api:test',
          'releaseToFulfilment by temporal:amendment-window',
          'startFulfilment by api:test',
          'complete by api:test',
        ]);
        await recordHistory('v5-order-full-lifecycle', handle);
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

/** The run's current details, as the Temporal UI reads them (the SDK's built-in metadata query). */
async function currentDetails(handle: WorkflowHandle): Promise<string | undefined> {
  const metadata = (await handle.query('__temporal_workflow_metadata')) as { currentDetails?: string };
  return metadata.currentDetails;
}

/** Polls `check` every 100 ms until it holds (20 s at most). */
async function waitFor(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met within 20 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
