// The worker of the bare-Temporal baseline, run as its own process like the order worker:
// the order workflow (bench/bare-workflow.ts, prebuilt bundle at BENCH_BARE_BUNDLE) with
// activities that return what the real ones return but touch neither PostgreSQL nor Kafka.
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { loadConfig } from '../src/config.js';
import type { Order } from '../src/contracts/schemas.js';
import type { TransitionRequest } from '../src/domain/order.js';
import { eventIdFor } from '../src/ids.js';
import type { OrderWorkflowInput } from '../src/workflows/definitions.js';
import { orderFromCommand } from '../test/support/orders.js';
import { orderWorkerOptions } from '../worker.js';

/** The order the real persistOrder would return, computed in memory. */
const orderOf = ({ orderId, command }: OrderWorkflowInput): Order =>
  orderFromCommand(orderId, command, new Date().toISOString());

const orders = new Map<string, Order>();

export const bareActivities = {
  async persistOrder(input: OrderWorkflowInput) {
    const order = orders.get(input.orderId) ?? orderOf(input);
    orders.set(input.orderId, order);
    return { order, eventId: eventIdFor(input.orderId, 'OrderCreated') };
  },
  async persistTransition({ orderId, request }: { orderId: string; request: TransitionRequest }) {
    const created = orders.get(orderId);
    if (created === undefined) throw new Error(`order ${orderId} unknown to this worker`);
    orders.delete(orderId);
    const at = new Date().toISOString();
    const order: Order =
      request.name === 'complete'
        ? { ...created, status: 'COMPLETED', updatedAt: at, completedAt: at }
        : { ...created, status: 'CANCELLED', updatedAt: at, cancelledAt: at, cancellationReason: request.reason };
    return { order, eventId: eventIdFor(orderId, request.name === 'complete' ? 'OrderCompleted' : 'OrderCancelled') };
  },
  async publishOrderEvent(_eventId: string): Promise<void> {},
};

async function main() {
  const bundle = process.env.BENCH_BARE_BUNDLE;
  if (bundle === undefined) throw new Error('BENCH_BARE_BUNDLE: path of the prebuilt bundle of bench/bare-workflow.ts');
  const config = loadConfig();
  Runtime.install({ logger: new DefaultLogger('WARN'), shutdownSignals: ['SIGTERM', 'SIGINT'] });
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    workflowBundle: { codePath: bundle },
    activities: bareActivities,
    ...orderWorkerOptions(config),
  });
  console.log(`bare worker polling ${config.TEMPORAL_TASK_QUEUE}`);
  await worker.run();
  await connection.close();
}

main().catch((error: unknown) => {
  console.error('bare worker failed:', error);
  process.exit(1);
});
