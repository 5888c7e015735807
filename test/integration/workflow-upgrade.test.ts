// A deploy under running orders, on the real stack: orders started by the first workflow
// version (frozen in test/fixtures/order-workflow-v1) are completed and cancelled over HTTP
// after the worker switched to today's code. Its own task queue, API and workers.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger, type WorkflowBundle } from '@temporalio/worker';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { bundleOrderWorkflows } from '../../scripts/build-workflows.js';
import { loadConfig } from '../../src/config.js';
import type { Order } from '../../src/contracts/schemas.js';
import { createLogger } from '../../src/logger.js';
import { startServer } from '../../src/server.js';
import { createOrderWorker } from '../../src/worker.js';
import { collectOrderEvents } from '../support/events.js';
import { newCreateOrder } from '../support/orders.js';
import { TOKENS, topicsOf } from '../support/stack.js';

const V1_WORKFLOWS_PATH = fileURLToPath(new URL('../fixtures/order-workflow-v1/index.ts', import.meta.url));

const config = () =>
  loadConfig({
    ...inject('env'),
    TEMPORAL_TASK_QUEUE: `orders-upgrade-${randomUUID()}`,
    // The shared test worker consumes ordering.commands; these ones need not.
    COMMANDS_ENABLED: 'false',
  });

let db: pg.Pool;
let events: Awaited<ReturnType<typeof collectOrderEvents>>;
let v1Bundle: WorkflowBundle;
let currentBundle: WorkflowBundle;

beforeAll(async () => {
  const env = inject('env');
  db = new pg.Pool({ connectionString: env.DATABASE_URL, max: 2 });
  events = await collectOrderEvents(env.KAFKA_BROKERS!.split(','), topicsOf(env).events);
  const logger = new DefaultLogger('WARN');
  [v1Bundle, currentBundle] = await Promise.all([
    bundleWorkflowCode({ workflowsPath: V1_WORKFLOWS_PATH, logger }),
    bundleOrderWorkflows({ traced: false }),
  ]);
});

afterAll(async () => {
  await events?.close();
  await db?.end();
});

/** Runs a worker of `bundle` on the task queue until `body` is done. */
async function withWorker<T>(settings: ReturnType<typeof config>, bundle: WorkflowBundle, body: () => Promise<T>) {
  const worker = await createOrderWorker(settings, createLogger(settings, 'worker'), { workflowBundle: bundle });
  const running = worker.run();
  try {
    return await body();
  } finally {
    worker.shutdown();
    await running;
  }
}

describe('a deploy under running orders', () => {
  it('completes and cancels over HTTP, on the new code, orders started on the first workflow version', async () => {
    const settings = config();
    const server = await startServer(settings);
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
    try {
      const orders = await withWorker(settings, v1Bundle, async () => {
        const created: Order[] = [];
        for (let index = 0; index < 3; index++) {
          const response = await call('POST', '/orders', newCreateOrder());
          expect(response.status).toBe(201);
          created.push(response.body);
          await events.waitFor(response.body.orderId, 1);
        }
        return created;
      });
      const [toComplete, toCancel, racing] = orders as [Order, Order, Order];

      await withWorker(settings, currentBundle, async () => {
        const completed = await call('POST', `/orders/${toComplete.orderId}/complete`);
        expect(completed.status, JSON.stringify(completed.body)).toBe(200);
        expect(completed.body.status).toBe('COMPLETED');

        const cancelled = await call('POST', `/orders/${toCancel.orderId}/cancel`, { reason: 'OUT_OF_STOCK' });
        expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);
        expect(cancelled.body).toMatchObject({ status: 'CANCELLED', cancellationReason: 'OUT_OF_STOCK' });

        const raced = await Promise.all([
          call('POST', `/orders/${racing.orderId}/complete`),
          call('POST', `/orders/${racing.orderId}/cancel`, { reason: 'FRAUD' }),
        ]);
        expect(raced.map((response) => response.status).sort()).toEqual([200, 409]);

        for (const [order, final] of [
          [toComplete, 'OrderCompleted'],
          [toCancel, 'OrderCancelled'],
        ] as const) {
          const seen = await events.waitFor(order.orderId, 2);
          expect(seen.map((event) => event.headers.ce_type)).toEqual(['OrderCreated', final]);
        }
        await events.waitFor(racing.orderId, 2);
      });

      const { rows } = await db.query(
        `SELECT order_id, sequence, command, actor FROM order_status_history
          WHERE order_id = ANY($1::uuid[]) AND sequence > 0 ORDER BY order_id`,
        [orders.map((order) => order.orderId)],
      );
      // One transition each, carried out by the first version's activity as its history names it.
      expect(rows).toHaveLength(3);
      expect(rows.every((row) => row.sequence === 1 && row.actor === 'temporal:orderWorkflow-v1')).toBe(true);
    } finally {
      await server.close();
    }
  });
});
