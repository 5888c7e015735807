// One workflow per order, a loop over the transition table (src/domain/lifecycle.ts): persist
// the order, then take one accepted transition at a time, commit it (status, history row and
// events in one transaction), publish its events, until the order reaches a final status.
// Runs started before this loop existed take orderWorkflowV1 (see LIFECYCLE_ENGINE_PATCH).
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  condition,
  continueAsNew,
  log,
  patched,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { PublishableEvent } from '../activities/index.js';
import type { Order } from '../contracts/schemas.js';
import {
  COMMAND_NAMES,
  type CommandName,
  decideTransition,
  forbiddenMessage,
  isTerminal,
  type OrderStatus,
  type TransitionRequest,
} from '../domain/lifecycle.js';
import {
  getOrderStateQuery,
  OrderFailure,
  OrderStatusAttribute,
  type OrderWorkflowInput,
  type TransitionResult,
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
import { orderWorkflowV1 } from './order-workflow-v1.js';

/** Marks runs of the loop; runs whose history lacks it started on orderWorkflowV1 and stay on it. */
export const LIFECYCLE_ENGINE_PATCH = 'lifecycle-engine';

const { persistOrder, persistOrderTransition, publishOrderEvent } = orderActivities;

interface Ticket {
  request: TransitionRequest;
  actor: string;
  via: 'signal' | 'update';
  outcome?: { ok: true; result: TransitionResult } | { ok: false; failure: ApplicationFailure };
}

export async function orderWorkflow(input: OrderWorkflowInput): Promise<Order> {
  if (!patched(LIFECYCLE_ENGINE_PATCH)) return orderWorkflowV1(input);

  const { orderId } = input;
  const state = newWorkflowState(orderId);
  const queue: Ticket[] = [];
  setHandler(getOrderStateQuery, () => ({
    ...state,
    pendingTransitions: queue.map(({ request, actor }) => ({ command: request.command, actor })),
  }));
  registerCreateOrder(input, state);

  const loaded = (): Order | null => state.order;
  /** The status the order will have once every accepted transition is carried out. */
  const projectedStatus = (): OrderStatus | undefined => {
    const order = loaded();
    if (order === null) return undefined;
    return queue.reduce<OrderStatus>((status, { request }) => {
      const decision = decideTransition(status, request.command);
      return decision.kind === 'apply' ? decision.to : status;
    }, order.status);
  };
  /** Nothing is pending and no command can move the order again. */
  const finished = () => {
    const order = loaded();
    return order !== null && queue.length === 0 && isTerminal(order.status);
  };
  const notAllowed = (status: OrderStatus, command: CommandName) =>
    ApplicationFailure.create({
      type: OrderFailure.TRANSITION_NOT_ALLOWED,
      message: forbiddenMessage(orderId, status, command),
      nonRetryable: true,
    });

  for (const name of COMMAND_NAMES) {
    setHandler(
      transitionUpdates[name],
      async (payload, meta) => {
        const { request, actor } = decodeUpdate(name, payload, meta);
        const order = loaded();
        if (order !== null && finished()) return { order, changed: false };
        const ticket: Ticket = { request, actor, via: 'update' };
        queue.push(ticket);
        await condition(() => ticket.outcome !== undefined);
        const outcome = ticket.outcome as NonNullable<Ticket['outcome']>;
        if (!outcome.ok) throw outcome.failure;
        return outcome.result;
      },
      {
        // Runs before the Update enters history: a refusal here leaves no trace in it.
        validator: (payload, meta) => {
          decodeUpdate(name, payload, meta);
          const status = projectedStatus();
          if (status !== undefined && decideTransition(status, name).kind === 'forbidden') {
            throw notAllowed(status, name);
          }
        },
      },
    );
  }

  registerSignals(state, (name, decoded) => {
    const status = projectedStatus();
    const decision = status === undefined ? undefined : decideTransition(status, name);
    if (status !== undefined && decision?.kind !== 'apply') {
      const reason =
        decision?.kind === 'already' ? `the order is already ${status}` : forbiddenMessage(orderId, status, name);
      return recordRefusal(state, { via: 'signal', name, reason });
    }
    queue.push({ request: decoded.request, actor: decoded.actor, via: 'signal' });
  });

  const persisted = await persistOrder(input);
  state.order = persisted.order;
  state.status = persisted.order.status;
  state.sequence = persisted.sequence;
  // A resumed run finds the order wherever it was left.
  if (persisted.order.status !== 'CREATED') {
    upsertSearchAttributes([{ key: OrderStatusAttribute, value: persisted.order.status }]);
  }

  // Publishing does not hold the order back (a Kafka outage must not block transitions), but
  // each transition's events go out after the previous ones, so consumers see them in order.
  let publishing = publishInOrder(Promise.resolve(), persisted.unpublished);
  function publishInOrder(previous: Promise<void>, events: PublishableEvent[]): Promise<void> {
    return previous.then(async () => {
      for (const event of events) {
        try {
          await publishOrderEvent(event.eventId);
          state.publishedEvents.push(event.type);
        } catch (error) {
          // Only a non-retryable failure gets here; the outbox sweeper publishes what is left.
          log.error('event not published; left to the outbox sweeper', { orderId, eventId: event.eventId, error });
        }
      }
    });
  }

  async function carryOut(ticket: Ticket, order: Order): Promise<NonNullable<Ticket['outcome']>> {
    const { request, actor } = ticket;
    const decision = decideTransition(order.status, request.command);
    if (decision.kind === 'already') return { ok: true, result: { order, changed: false } };
    if (decision.kind === 'forbidden') return { ok: false, failure: notAllowed(order.status, request.command) };
    try {
      const committed = await persistOrderTransition({
        orderId,
        sequence: state.sequence + 1,
        from: order.status,
        request,
        actor,
      });
      state.order = committed.order;
      state.status = committed.order.status;
      state.sequence = committed.sequence;
      if (committed.order.status !== order.status) {
        upsertSearchAttributes([{ key: OrderStatusAttribute, value: committed.order.status }]);
      }
      publishing = publishInOrder(publishing, committed.events);
      return { ok: true, result: { order: committed.order, changed: true } };
    } catch (error) {
      // The activity retries whatever may pass: this one will never be committed.
      const cause = error instanceof ActivityFailure && error.cause instanceof Error ? error.cause : error;
      log.error('transition could not be committed', { orderId, command: request.command, error: cause });
      return {
        ok: false,
        failure: ApplicationFailure.create({
          type: OrderFailure.TRANSITION_FAILED,
          message: `the ${request.command} of order ${orderId} could not be committed`,
          nonRetryable: true,
        }),
      };
    }
  }

  for (;;) {
    await condition(() => queue.length > 0 || finished());
    const ticket = queue[0];
    if (ticket === undefined) break;
    ticket.outcome = await carryOut(ticket, state.order as Order);
    queue.shift();
    if (!ticket.outcome.ok) {
      recordRefusal(state, { via: ticket.via, name: ticket.request.command, reason: ticket.outcome.failure.message });
    }
    // A long-lived order with many transitions starts afresh from the database before its history grows large.
    if (workflowInfo().continueAsNewSuggested && queue.length === 0 && !finished()) {
      await publishing;
      if (queue.length === 0 && allHandlersFinished()) await continueAsNew<typeof orderWorkflow>(input);
    }
  }
  await publishing;
  // Let Updates still in flight answer before the run closes.
  await condition(allHandlersFinished);
  return state.order as Order;
}
