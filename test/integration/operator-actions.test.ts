// What operators do to orders on the real stack, and what must never follow: malformed signals
// and Updates typed by hand, a terminated workflow, a race of transitions. After each, the order
// can still reach exactly one final status, with exactly one final event.
import { describe, expect, it } from 'vitest';
import type { Order } from '../../src/contracts/schemas.js';
import { LIFECYCLE, TERMINAL_EVENT_TYPES, targetOf } from '../../src/domain/lifecycle.js';
import { eventIdFor, orderIdForCart, workflowIdForOrder } from '../../src/ids.js';
import { getOrderStateQuery } from '../../src/workflows/definitions.js';
import { api } from '../support/api.js';
import { newCreateOrder } from '../support/orders.js';
import { useStackClients } from '../support/stack-clients.js';

const stack = useStackClients();

async function createOrder(): Promise<Order> {
  const response = await api<Order>('POST', '/orders', newCreateOrder());
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body;
}

const handleOf = (orderId: string) => stack.temporal.workflow.getHandle(workflowIdForOrder(orderId));

/** The order once GET shows it in `status`. */
async function orderIn(orderId: string, status: string): Promise<Order> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const response = await api<Order>('GET', `/orders/${orderId}`);
    if (response.body.status === status) return response.body;
    if (Date.now() > deadline) throw new Error(`order ${orderId} is ${response.body.status}, not ${status}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The order's status history as the API shows it: [command, to] per transition. */
async function historyOf(orderId: string): Promise<[string, string][]> {
  const response = await api('GET', `/orders/${orderId}/history`);
  expect(response.status).toBe(200);
  return response.body.history.map((change: { command: string; to: string }) => [change.command, change.to]);
}

/** Exactly one final event on Kafka, after OrderCreated and before its OrderStatusChanged, and the same in the outbox. */
async function expectOneFinalEvent(orderId: string, finalEvent: string) {
  const seen = await stack.events.waitFor(orderId, 3);
  expect(seen.map((event) => event.headers.ce_type)).toEqual(['OrderCreated', finalEvent, 'OrderStatusChanged']);
  const { rows } = await stack.db.query(
    'SELECT event_type, sequence FROM order_events WHERE order_id = $1 ORDER BY sequence, position',
    [orderId],
  );
  expect(rows).toEqual([
    { event_type: 'OrderCreated', sequence: 0 },
    { event_type: finalEvent, sequence: 1 },
    { event_type: 'OrderStatusChanged', sequence: 1 },
  ]);
  expect(seen[1]?.headers.ce_id).toBe(eventIdFor(orderId, 1, finalEvent));
  expect(seen.filter((event) => TERMINAL_EVENT_TYPES.includes(event.headers.ce_type as never))).toHaveLength(1);
}

describe('signals and Updates typed by hand', () => {
  it('refuses the three bad cancelOrder signals without wedging the order; complete still works', async () => {
    const order = await createOrder();
    const handle = handleOf(order.orderId);
    // What `temporal workflow signal --name cancelOrder --input …` sends: a bad reason, nothing, a string.
    await handle.signal('cancelOrder', { reason: 'BOGUS' });
    await handle.signal('cancelOrder');
    await handle.signal('cancelOrder', 'x');
    const state = await handle.query(getOrderStateQuery);
    expect(state).toMatchObject({ status: 'CREATED', refusedCount: 3, pendingTransitions: [] });
    expect(state.refusedTransitions.every((refusal) => refusal.via === 'signal')).toBe(true);

    const completed = await api<Order>('POST', `/orders/${order.orderId}/complete`);
    expect(completed.status, JSON.stringify(completed.body)).toBe(200);
    expect(completed.body.status).toBe('COMPLETED');
    await expectOneFinalEvent(order.orderId, 'OrderCompleted');
    expect(await historyOf(order.orderId)).toEqual([
      ['create', 'CREATED'],
      ['complete', 'COMPLETED'],
    ]);
    const { rows } = await stack.db.query('SELECT status FROM orders WHERE order_id = $1', [order.orderId]);
    expect(rows[0]?.status).toBe('COMPLETED');
  });

  it('carries out a good signal, and refuses a malformed Update before it enters history', async () => {
    const order = await createOrder();
    const handle = handleOf(order.orderId);
    await expect(handle.executeUpdate('cancel', { args: [{ reason: 'BOGUS' }] })).rejects.toMatchObject({
      cause: { type: 'VALIDATION_FAILED' },
    });
    await handle.signal('cancelOrder', { reason: 'FRAUD' });
    expect(await orderIn(order.orderId, 'CANCELLED')).toMatchObject({ cancellationReason: 'FRAUD' });
    await expectOneFinalEvent(order.orderId, 'OrderCancelled');
    const history = await handle.fetchHistory();
    const accepted = (history.events ?? []).filter(
      (event) => event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name === 'cancel',
    );
    expect(accepted).toEqual([]);
    const changes = await api('GET', `/orders/${order.orderId}/history`);
    expect(changes.body.history[1]).toMatchObject({ command: 'cancel', reason: 'FRAUD', actor: 'temporal:signal' });
  });
});

describe('POST /orders/{orderId}/resume', () => {
  it('brings back an order whose workflow was terminated, republishing what it had not published', async () => {
    const order = await createOrder();
    await stack.events.waitFor(order.orderId, 1);
    await handleOf(order.orderId).terminate('operator mistake');
    // As if the run had been terminated between committing OrderCreated and publishing it.
    await stack.db.query('UPDATE order_events SET published_at = NULL WHERE order_id = $1', [order.orderId]);

    const stuck = await api('POST', `/orders/${order.orderId}/complete`);
    expect(stuck.status).toBe(409);
    expect(stuck.body).toMatchObject({ code: 'ORDER_NOT_ACTIVE', message: expect.stringContaining('/resume') });

    const resumed = await api<Order>('POST', `/orders/${order.orderId}/resume`);
    expect(resumed.status, JSON.stringify(resumed.body)).toBe(200);
    expect(resumed.body).toMatchObject({ orderId: order.orderId, status: 'CREATED' });
    const again = await api('POST', `/orders/${order.orderId}/resume`);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('ORDER_WORKFLOW_RUNNING');

    const cancelled = await api<Order>('POST', `/orders/${order.orderId}/cancel`, { reason: 'CUSTOMER_REQUESTED' });
    expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);
    expect(cancelled.body.status).toBe('CANCELLED');
    // OrderCreated went out again under its own ce_id, then the one final event.
    const seen = await stack.events.waitFor(order.orderId, 3);
    const types = seen.map((event) => event.headers.ce_type);
    expect(types.slice(0, 3)).toEqual(['OrderCreated', 'OrderCreated', 'OrderCancelled']);
    expect(seen[1]?.headers.ce_id).toBe(seen[0]?.headers.ce_id);
    expect(await historyOf(order.orderId)).toEqual([
      ['create', 'CREATED'],
      ['cancel', 'CANCELLED'],
    ]);
  });

  it('resumes an order that had reached its final status: the new run publishes what was left and closes', async () => {
    const order = await createOrder();
    await api('POST', `/orders/${order.orderId}/complete`);
    await handleOf(order.orderId).terminate('operator mistake');
    const resumed = await api<Order>('POST', `/orders/${order.orderId}/resume`);
    expect(resumed.status).toBe(200);
    // The new run loads the order from PostgreSQL; an ended order keeps no run open (the sweep archives it).
    expect(await handleOf(order.orderId).result()).toMatchObject({ status: 'COMPLETED' });
    expect((await handleOf(order.orderId).describe()).searchAttributes.OrderStatus).toEqual(['COMPLETED']);
    // Commands to it answer from PostgreSQL without a run: a repeat 200, anything else 409.
    expect((await api<Order>('POST', `/orders/${order.orderId}/complete`)).status).toBe(200);
    const cancel = await api<{ code: string }>('POST', `/orders/${order.orderId}/cancel`, { reason: 'FRAUD' });
    expect(cancel).toMatchObject({ status: 409, body: { code: 'TRANSITION_NOT_ALLOWED' } });
  });

  it('answers 404 for an order that does not exist, and 403 without orders:manage', async () => {
    const missing = await api('POST', `/orders/${orderIdForCart('00000000-0000-4000-8000-00000000beef')}/resume`);
    expect(missing.status).toBe(404);
    const order = await createOrder();
    const { TOKENS } = await import('../support/stack.js');
    const forbidden = await api('POST', `/orders/${order.orderId}/resume`, undefined, {
      authorization: `Bearer ${TOKENS.read}`,
    });
    expect(forbidden.status).toBe(403);
  });
});

describe('a race of 20 mixed transitions', () => {
  it('lets exactly one win: 200 for those leading where it went, 409 for the others, one final event', async () => {
    const order = await createOrder();
    const requests = Array.from({ length: 20 }, (_, index): 'cancel' | 'complete' =>
      index % 2 === 0 ? 'cancel' : 'complete',
    );
    const responses = await Promise.all(
      requests.map((command) =>
        command === 'cancel'
          ? api<Order>('POST', `/orders/${order.orderId}/cancel`, { reason: 'OUT_OF_STOCK' })
          : api<Order>('POST', `/orders/${order.orderId}/complete`),
      ),
    );
    const { rows } = await stack.db.query('SELECT status FROM orders WHERE order_id = $1', [order.orderId]);
    const final = rows[0]?.status as string;
    const winner = requests.find((command) => targetOf(command) === final);
    expect(winner).toBeDefined();
    responses.forEach((response, index) => {
      const command = requests[index] as 'cancel' | 'complete';
      expect(response.status, JSON.stringify(response.body)).toBe(command === winner ? 200 : 409);
      if (response.status === 200) expect(response.body.status).toBe(final);
      else expect(response.body).toMatchObject({ code: 'TRANSITION_NOT_ALLOWED' });
    });
    await expectOneFinalEvent(order.orderId, LIFECYCLE[winner as 'cancel' | 'complete'].events[0] as string);
    expect(await historyOf(order.orderId)).toEqual([
      ['create', 'CREATED'],
      [winner, final],
    ]);
  });
});
