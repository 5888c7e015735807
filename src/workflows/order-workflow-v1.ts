// The first version of the order workflow (one transition after CREATED, chosen by a signal),
// kept for runs started before the lifecycle loop: their histories replay through this code
// (test/workflow/replay.test.ts). It issues exactly the commands it always did; what changed
// is only how it answers: malformed or disallowed signals are refused instead of wedging the
// order, and the transition Updates work here too. Delete once no run of it is open:
//   temporal workflow list --query 'WorkflowType="orderWorkflow" AND ExecutionStatus="Running"'
// lists the runs; those without the lifecycle-engine marker are the ones on this code.
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { Order } from '../contracts/schemas.js';
import { type CommandName, forbiddenMessage, type TransitionRequest, targetsOf } from '../domain/lifecycle.js';
import {
  getOrderStateQuery,
  OrderFailure,
  OrderStatusAttribute,
  type OrderWorkflowInput,
  transitionUpdates,
} from './definitions.js';
import {
  decodeUpdate,
  newWorkflowState,
  orderActivities,
  recordRefusal,
  registerCreateOrder,
  registerSignals,
} from './handlers.js';

const { persistOrder, persistTransition, publishOrderEvent } = orderActivities;

/** The commands this version knows: one of them ends the order. */
const V1_COMMANDS = ['complete', 'cancel'] as const satisfies readonly CommandName[];
const targetOf = (name: CommandName) => targetsOf(name)[0];

export async function orderWorkflowV1(input: OrderWorkflowInput): Promise<Order> {
  const state = newWorkflowState(input.orderId);
  let accepted: { request: TransitionRequest; actor: string } | null = null;
  let ended: Order | null = null;

  setHandler(getOrderStateQuery, () => ({
    ...state,
    pendingTransitions:
      accepted !== null && ended === null ? [{ command: accepted.request.command, actor: accepted.actor }] : [],
  }));
  registerCreateOrder(input, state);

  /** The one transition this version carries out leads where `name` leads, or elsewhere. */
  const leadsElsewhere = (name: CommandName) =>
    accepted !== null && targetOf(accepted.request.command) !== targetOf(name);
  const notAllowed = (name: CommandName) =>
    ApplicationFailure.create({
      type: OrderFailure.TRANSITION_NOT_ALLOWED,
      message: forbiddenMessage(
        input.orderId,
        ended?.status ?? targetOf(accepted?.request.command ?? name) ?? 'CREATED',
        name,
      ),
      nonRetryable: true,
    });

  for (const name of V1_COMMANDS) {
    setHandler(
      transitionUpdates[name],
      async (payload, meta) => {
        const { request, actor } = decodeUpdate(name, payload, meta);
        const mine = accepted === null;
        if (mine) accepted = { request, actor };
        await condition(() => ended !== null);
        if (leadsElsewhere(name)) throw notAllowed(name);
        return { order: ended as unknown as Order, changed: mine };
      },
      {
        validator: (payload, meta) => {
          decodeUpdate(name, payload, meta);
          if (leadsElsewhere(name)) throw notAllowed(name);
        },
      },
    );
  }

  registerSignals(state, (name, decoded) => {
    if (accepted !== null) {
      return recordRefusal(state, { via: 'signal', name, reason: `${accepted.request.command} was accepted first` });
    }
    accepted = { request: decoded.request, actor: decoded.actor };
  });

  const created = await persistOrder(input);
  state.order = created.order;
  state.status = created.order.status;

  const createdPublished = publishOrderEvent(created.eventId).then(() => {
    state.publishedEvents.push('OrderCreated');
  });

  await condition(() => accepted !== null);
  const { request } = accepted as unknown as { request: TransitionRequest };
  const finished = await persistTransition({
    orderId: input.orderId,
    request: request.command === 'cancel' ? { name: 'cancel', reason: request.payload.reason } : { name: 'complete' },
  });
  state.order = finished.order;
  state.status = finished.order.status;
  ended = finished.order;
  upsertSearchAttributes([{ key: OrderStatusAttribute, value: finished.order.status }]);

  await createdPublished;
  await publishOrderEvent(finished.eventId);
  // Its OrderStatusChanged (written since the full lifecycle) is left to the outbox sweeper:
  // this version's commands cannot change.
  state.publishedEvents.push(request.command === 'cancel' ? 'OrderCancelled' : 'OrderCompleted');
  await condition(allHandlersFinished);
  return finished.order;
}
