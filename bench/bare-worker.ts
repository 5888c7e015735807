// The worker of the bare-Temporal baseline, run as its own process like the order worker:
// the order workflow (bench/bare-workflow.ts, prebuilt bundle at BENCH_WORKFLOW_BUNDLE) with
// activities that return what the real ones return but touch neither PostgreSQL nor Kafka.
import { ApplicationFailure } from '@temporalio/common';
import type { OrderActivities, PersistedOrder, PersistedTransition, TransitionInput } from '../src/activities/index.js';
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
import { runBaselineWorker } from './lib/baseline-worker.js';

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
    if (known !== undefined) return { order, sequence: known.sequence, unpublished: [] };
    orders.set(orderId, { order, sequence: 0, events: [created] });
    return { order, sequence: 0, unpublished: [created] };
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

  async publishOrderEvents(_eventIds: string[]): Promise<void> {},
} satisfies Pick<OrderActivities, 'persistOrder' | 'persistOrderTransition' | 'publishOrderEvents'>;

runBaselineWorker('bare worker', bareActivities);
