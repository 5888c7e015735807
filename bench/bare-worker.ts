// The worker of the bare-Temporal baseline, run as its own process like the order worker:
// the order workflow (bench/bare-workflow.ts, prebuilt bundle at BENCH_BARE_BUNDLE) with
// activities that return what the real ones return but touch neither PostgreSQL nor Kafka.
// It serves the SDK's Prometheus metrics at WORKER_METRICS_ADDRESS, as the order worker does:
// the bench reads its readiness there (workflow task pollers running).
import { ApplicationFailure } from '@temporalio/common';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { OrderActivities, PersistedOrder, PersistedTransition, TransitionInput } from '../src/activities/index.js';
import { loadConfig } from '../src/config.js';
import { createdEvent } from '../src/domain/events.js';
import {
  applyTransition,
  decideTransition,
  forbiddenMessage,
  isTerminal,
  transitionEvents,
} from '../src/domain/lifecycle.js';
import { eventIdFor } from '../src/ids.js';
import type { OrderWorkflowInput } from '../src/workflows/definitions.js';
import { orderFromCommand, transitionContextAt } from '../test/support/orders.js';
import { orderWorkerOptions } from '../worker.js';

/** Each open order as the database would hold it: the order and its latest transition. */
const orders = new Map<string, PersistedTransition>();

/**
 * The activities the order workflow calls, computed in memory from the transition table as the
 * real ones compute them. persistTransition (runs of the first workflow version) is left out:
 * every bare run starts on the current version.
 */
export const bareActivities = {
  async persistOrder({ orderId, command }: OrderWorkflowInput): Promise<PersistedOrder> {
    const known = orders.get(orderId);
    const order = known?.order ?? orderFromCommand(orderId, command, new Date().toISOString());
    const { type } = createdEvent(order);
    const created = { eventId: eventIdFor(orderId, 0, type), type };
    // A retry finds the order as it is now; nothing is ever left unpublished here.
    if (known !== undefined) return { order, sequence: known.sequence, eventId: created.eventId, unpublished: [] };
    orders.set(orderId, { order, sequence: 0, events: [created] });
    return { order, sequence: 0, eventId: created.eventId, unpublished: [created] };
  },

  async persistOrderTransition({ orderId, sequence, request }: TransitionInput): Promise<PersistedTransition> {
    const known = orders.get(orderId);
    if (known === undefined) throw new Error(`order ${orderId} unknown to this worker`);
    if (known.sequence === sequence) return known; // a retry of a transition already carried out
    if (decideTransition(known.order.status, request.command).kind !== 'apply') {
      throw ApplicationFailure.create({
        type: 'TRANSITION_NOT_ALLOWED',
        message: forbiddenMessage(orderId, known.order.status, request.command),
        nonRetryable: true,
      });
    }
    const order = applyTransition(known.order, request, transitionContextAt(new Date().toISOString(), sequence));
    const events = transitionEvents(known.order, order, request).map((type) => ({
      eventId: eventIdFor(orderId, sequence, type),
      type,
    }));
    const committed = { order, sequence, events };
    // A finished order is forgotten, so the worker's memory does not grow with the run.
    if (isTerminal(order.status)) orders.delete(orderId);
    else orders.set(orderId, committed);
    return committed;
  },

  async publishOrderEvent(_eventId: string): Promise<void> {},
} satisfies Pick<OrderActivities, 'persistOrder' | 'persistOrderTransition' | 'publishOrderEvent'>;

async function main() {
  const bundle = process.env.BENCH_BARE_BUNDLE;
  if (bundle === undefined) throw new Error('BENCH_BARE_BUNDLE: path of the prebuilt bundle of bench/bare-workflow.ts');
  const config = loadConfig();
  Runtime.install({
    logger: new DefaultLogger('WARN'),
    shutdownSignals: ['SIGTERM', 'SIGINT'],
    telemetryOptions: {
      metrics: { prometheus: { bindAddress: config.WORKER_METRICS_ADDRESS, countersTotalSuffix: true } },
    },
  });
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    workflowBundle: { codePath: bundle },
    activities: bareActivities,
    ...orderWorkerOptions(config),
  });
  await worker.run();
  await connection.close();
}

main().catch((error: unknown) => {
  console.error('bare worker failed:', error);
  process.exit(1);
});
