// Temporal's limits of one execution, over HTTP on the real stack: it admits 10 Updates in flight
// and 2,000 in its history. Thirty transitions at once on one order each answer 200, 409 (or 202
// on a timeout, 429 ORDER_BUSY when not taken in time), never 5xx; and with
// ORDER_CONTINUE_AS_NEW_AFTER of 8 the order crosses several runs meanwhile without losing one.
// Its own task queue, API and worker.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { bundleOrderWorkflows } from '../../scripts/build-workflows.js';
import { loadConfig } from '../../src/config.js';
import type { Order } from '../../src/contracts/schemas.js';
import { workflowIdForOrder } from '../../src/ids.js';
import { createLogger } from '../../src/logger.js';
import { startServer } from '../../src/server.js';
import { connectTemporal } from '../../src/temporal/client.js';
import { createOrderWorker, type OrderWorker } from '../../src/worker.js';
import { newCreateOrder } from '../support/orders.js';
import { TOKENS } from '../support/stack.js';

const config = loadConfig({
  ...inject('env'),
  TEMPORAL_TASK_QUEUE: `orders-limits-${randomUUID()}`,
  COMMANDS_ENABLED: 'false',
  ORDER_CONTINUE_AS_NEW_AFTER: '8',
  // Thirty transitions take their turns on one run after another: time enough for all to answer.
  TRANSITION_WAIT_MS: '30000',
});

let server: Awaited<ReturnType<typeof startServer>>;
let worker: OrderWorker;
let running: Promise<void>;
let baseUrl: string;
let db: pg.Pool;

beforeAll(async () => {
  worker = await createOrderWorker(config, createLogger(config, 'worker'), {
    workflowBundle: await bundleOrderWorkflows({ traced: false }),
  });
  running = worker.run();
  server = await startServer(config);
  const address = server.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no port');
  baseUrl = `http://127.0.0.1:${address.port}`;
  db = new pg.Pool({ connectionString: config.DATABASE_URL, max: 2 });
}, 120_000);

afterAll(async () => {
  await server?.close();
  worker?.shutdown();
  await running;
  await db?.end();
});

async function call(method: string, path: string, body?: unknown) {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TOKENS.all}`,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Order & { code?: string } };
}

describe('one order at the limits of one execution', () => {
  it('answers 30 concurrent transitions with 200 or 409, never 5xx, across several runs, losing none', async () => {
    const created = await call('POST', '/orders', newCreateOrder());
    expect(created.status).toBe(201);
    const { orderId } = created.body;

    // 28 amendments, a confirm and a hold, all at once: every one may apply (CREATED or CONFIRMED).
    const requests = [
      ...Array.from(
        { length: 28 },
        (_, index) => () => call('PATCH', `/orders/${orderId}`, { promotionCode: `P${index}` }),
      ),
      () => call('POST', `/orders/${orderId}/confirm`, {}),
      () =>
        call('POST', `/orders/${orderId}/hold`, {
          reason: 'PAYMENT_REVIEW',
          ownerTeam: 'payments',
          reviewBy: new Date(Date.now() + 3_600_000).toISOString(),
        }),
    ];
    const answers = await Promise.all(requests.map((send) => send()));
    const statuses = answers.map((answer) => answer.status);
    expect(
      statuses.filter((status) => status >= 500),
      JSON.stringify(answers.filter((a) => a.status >= 500)),
    ).toEqual([]);
    expect(statuses.every((status) => [200, 202, 409, 429].includes(status))).toBe(true);
    // Within TRANSITION_WAIT_MS every one was carried out or refused by the rules: none timed out.
    const done = answers.filter((answer) => answer.status === 200);
    const refused = answers.filter((answer) => answer.status === 409);
    expect(done.length + refused.length).toBe(30);
    // Only what the hold made impossible was refused: amendments after it (an ON_HOLD order takes none).
    expect(refused.every((answer) => answer.body.code === 'TRANSITION_NOT_ALLOWED')).toBe(true);

    // Each 200 is one committed transition, in one unbroken sequence.
    const { rows } = await db.query<{ sequence: number; command: string }>(
      'SELECT sequence, command FROM order_status_history WHERE order_id = $1 ORDER BY sequence',
      [orderId],
    );
    expect(rows.map((row) => row.sequence)).toEqual(rows.map((_, index) => index));
    expect(rows).toHaveLength(1 + done.length);
    // Every amendment that answered 200 made one revision.
    const amended = answers.slice(0, 28).filter((answer) => answer.status === 200).length;
    expect((await call('GET', `/orders/${orderId}`)).body.revision).toBe(1 + amended);

    // More transitions than ORDER_CONTINUE_AS_NEW_AFTER: the order went through several runs, one open now.
    const temporal = await connectTemporal(config);
    try {
      const { executions } = await temporal.client.workflowService.listWorkflowExecutions({
        namespace: config.TEMPORAL_NAMESPACE,
        query: `WorkflowId = '${workflowIdForOrder(orderId)}'`,
      });
      expect(executions.length).toBeGreaterThanOrEqual(Math.floor(done.length / 8));
      const latest = await temporal.client.workflow.getHandle(workflowIdForOrder(orderId)).describe();
      expect(latest.status.name).toBe('RUNNING');
    } finally {
      await temporal.close();
    }
    // And it still takes transitions.
    const released = await call('POST', `/orders/${orderId}/release`, { resolution: 'ok', nextStatus: 'CONFIRMED' });
    expect([200, 409]).toContain(released.status);
  });
});
