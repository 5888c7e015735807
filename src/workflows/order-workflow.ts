// One workflow per order, a loop over the transition table (src/domain/lifecycle.ts): persist
// the order, then take one accepted transition at a time, commit it (status, history row and
// events in one transaction), publish its events, until the order reaches a final status.
// Between transitions it waits for the order's next deadline too (durable timers): the end of
// the amendment window, the review date of a hold, the archival of a terminal order.
// Runs started before this loop existed take orderWorkflowV1 (see LIFECYCLE_ENGINE_PATCH);
// runs started before the deadlines end at COMPLETED or CANCELLED (DURABLE_DEADLINES_PATCH);
// runs started before FEWER_TASKS_PATCH persist the order in a remote activity and publish each event in its own.
import { type Context, context } from '@opentelemetry/api';
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  CancellationScope,
  CancelledFailure,
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
  type CommandName,
  decideTransition,
  forbiddenMessage,
  isFinal,
  isTerminal,
  type OrderStatus,
  PUBLIC_COMMAND_NAMES,
  type TransitionRequest,
  transitionViolations,
} from '../domain/lifecycle.js';
import { describeViolations } from '../domain/payload-check.js';
import {
  DEFAULT_DEADLINES,
  getOrderStateQuery,
  HoldOverdueAttribute,
  type OrderDeadlines,
  OrderFailure,
  OrderStatusAttribute,
  type OrderWorkflowInput,
  type TransitionResult,
  transitionUpdates,
} from './definitions.js';
import {
  decodeUpdate,
  localOrderActivities,
  newWorkflowState,
  orderActivities,
  recordRefusal,
  registerCreateOrder,
  registerSignals,
} from './handlers.js';
import { orderWorkflowV1 } from './order-workflow-v1.js';

/** Marks runs of the loop; runs whose history lacks it started on orderWorkflowV1 and stay on it. */
export const LIFECYCLE_ENGINE_PATCH = 'lifecycle-engine';
/** Marks runs that keep deadlines; runs without it end at COMPLETED or CANCELLED, as they always did. */
export const DURABLE_DEADLINES_PATCH = 'durable-deadlines';
/**
 * Marks runs that persist the order in a local activity and publish each commit's events in one
 * activity: two workflow tasks and two activity tasks fewer per lifecycle on the server.
 */
export const FEWER_TASKS_PATCH = 'fewer-workflow-tasks';

interface Ticket {
  request: TransitionRequest;
  actor: string;
  via: 'signal' | 'update' | 'deadline';
  outcome?: { ok: true; result: TransitionResult } | { ok: false; failure: ApplicationFailure };
  /** The trace of the Update or signal that asked for it (OpenTelemetry's workflow interceptors). */
  trace?: Context;
}

/**
 * Runs `work` in the trace of the request it serves: its activities then continue that request's
 * trace instead of the run's. Only the tracing headers of the scheduled activities change, never
 * a command, so histories replay the same.
 */
function inTraceOf<T>(trace: Context | undefined, work: () => Promise<T>): Promise<T> {
  return trace === undefined ? work() : context.with(trace, work);
}

/** How often persistOrder is run again after the worker (not anyone) cancelled it; then the run fails as before. */
const WORKER_CANCELLED_RETRIES = 5;

/**
 * persistOrder until it answers. Under cache pressure a worker can evict a run while its local
 * activity runs, and the SDK (1.24) may then resolve that activity as cancelled in the run that
 * replaces it ("Local Activity cancelled"; fault suite c with WORKER_MAX_CACHED_WORKFLOWS=2,
 * after core logged "…only an eviction. This is an SDK bug."): the order's run would fail,
 * though nobody cancelled it. persistOrder is idempotent (an order already there is returned as
 * it is), so it runs again. The success path schedules exactly what it did: histories replay.
 */
async function persistUntilAnswered<T>(persist: (input: OrderWorkflowInput) => Promise<T>, input: OrderWorkflowInput) {
  for (let retry = 0; ; retry++) {
    try {
      return await persist(input);
    } catch (error) {
      const cancelledByWorker =
        error instanceof ActivityFailure &&
        error.cause instanceof CancelledFailure &&
        !CancellationScope.current().consideredCancelled;
      if (!cancelledByWorker || retry >= WORKER_CANCELLED_RETRIES) throw error;
      log.warn('persistOrder was cancelled by the worker, not by a request; running it again', {
        orderId: input.orderId,
        retry: retry + 1,
      });
    }
  }
}

type Deadline =
  | { kind: 'amendment-window'; at: number }
  | { kind: 'hold-review'; at: number; holdId: string }
  | { kind: 'archive'; at: number };

/**
 * The order's next deadline: the end of its amendment window (from when it became CONFIRMED),
 * the review date of its hold, or its archival (after it ended). Times come from the order
 * as committed, so a replay computes the same ones.
 */
export function nextDeadline(order: Order, statusSince: string, durations: OrderDeadlines): Deadline | undefined {
  switch (order.status) {
    case 'CONFIRMED':
      return { kind: 'amendment-window', at: Date.parse(statusSince) + durations.amendmentWindowMs };
    case 'ON_HOLD':
      return order.hold === null || order.hold.overdue
        ? undefined
        : { kind: 'hold-review', at: Date.parse(order.hold.reviewBy), holdId: order.hold.holdId };
    case 'COMPLETED':
    case 'CANCELLED': {
      const endedAt = order.completedAt ?? order.cancelledAt ?? order.updatedAt;
      return { kind: 'archive', at: Date.parse(endedAt) + durations.archiveAfterMs };
    }
    default:
      return undefined;
  }
}

export async function orderWorkflow(input: OrderWorkflowInput): Promise<Order> {
  if (!patched(LIFECYCLE_ENGINE_PATCH)) return orderWorkflowV1(input);
  const keepsDeadlines = patched(DURABLE_DEADLINES_PATCH);
  // Since FEWER_TASKS_PATCH persistOrder is a local activity: what it does follows from the
  // workflow's input alone, so running it again after a lost workflow task changes nothing.
  // A transition is not: which Update comes first decides it, and a local activity commits
  // before that decision is in history; a lost task could then be retried with another winner
  // than the one PostgreSQL committed. Transitions stay remote activities, scheduled after
  // their Update is accepted. Publishing stays remote too: a Kafka outage must not hold the
  // workflow task, and with it the next transition, open.
  const fewerTasks = patched(FEWER_TASKS_PATCH);
  const { persistOrder } = fewerTasks ? localOrderActivities : orderActivities;
  const { persistOrderTransition, publishOrderEvent, publishOrderEvents, markHoldOverdue } = orderActivities;
  const durations = input.deadlines ?? DEFAULT_DEADLINES;

  const { orderId } = input;
  const state = newWorkflowState(orderId);
  const queue: Ticket[] = [];
  setHandler(getOrderStateQuery, () => ({
    ...state,
    pendingTransitions: queue.map(({ request, actor }) => ({ command: request.command, actor })),
  }));
  const creationTrace = registerCreateOrder(input, state);

  const loaded = (): Order | null => state.order;
  /** The status the order will have once every accepted transition is carried out. */
  const projectedStatus = (): OrderStatus | undefined => {
    const order = loaded();
    if (order === null) return undefined;
    return queue.reduce<OrderStatus>((status, { request }) => {
      const decision = decideTransition(status, request);
      return decision.kind === 'apply' ? decision.to : status;
    }, order.status);
  };
  /** Nothing is pending and nothing can move the order again (runs without deadlines: no caller can). */
  const finished = () => {
    const order = loaded();
    return order !== null && queue.length === 0 && (keepsDeadlines ? isFinal(order.status) : isTerminal(order.status));
  };
  /** When the order got its current status: the amendment window runs from then. */
  let statusSince = '';
  let holdOverdueShown = false;
  const showHoldOverdue = (overdue: boolean) => {
    if (overdue === holdOverdueShown) return;
    holdOverdueShown = overdue;
    upsertSearchAttributes([{ key: HoldOverdueAttribute, value: overdue }]);
  };
  const notAllowed = (status: OrderStatus, command: CommandName) =>
    ApplicationFailure.create({
      type: OrderFailure.TRANSITION_NOT_ALLOWED,
      message: forbiddenMessage(orderId, status, command),
      nonRetryable: true,
    });

  for (const name of PUBLIC_COMMAND_NAMES) {
    setHandler(
      transitionUpdates[name],
      async (payload, meta) => {
        const { request, actor } = decodeUpdate(name, payload, meta);
        const order = loaded();
        if (order !== null && finished()) return { order, changed: false };
        const ticket: Ticket = { request, actor, via: 'update', trace: context.active() };
        queue.push(ticket);
        await condition(() => ticket.outcome !== undefined);
        const outcome = ticket.outcome as NonNullable<Ticket['outcome']>;
        if (!outcome.ok) throw outcome.failure;
        return outcome.result;
      },
      {
        // Runs before the Update enters history: a refusal here leaves no trace in it.
        validator: (payload, meta) => {
          const { request } = decodeUpdate(name, payload, meta);
          const status = projectedStatus();
          if (status !== undefined && decideTransition(status, request).kind === 'forbidden') {
            throw notAllowed(status, name);
          }
          const order = loaded();
          const violations = order === null ? [] : transitionViolations(order, request);
          if (violations.length > 0) {
            throw ApplicationFailure.create({
              type: OrderFailure.VALIDATION_FAILED,
              message: `the ${name} request breaks the order rules: ${describeViolations(violations)}`,
              details: [violations],
              nonRetryable: true,
            });
          }
        },
      },
    );
  }

  registerSignals(state, (name, decoded) => {
    const status = projectedStatus();
    const decision = status === undefined ? undefined : decideTransition(status, decoded.request);
    if (status !== undefined && decision?.kind !== 'apply') {
      const reason =
        decision?.kind === 'already' ? `the order is already ${status}` : forbiddenMessage(orderId, status, name);
      return recordRefusal(state, { via: 'signal', name, reason });
    }
    queue.push({ request: decoded.request, actor: decoded.actor, via: 'signal', trace: context.active() });
  });

  const persisted = await inTraceOf(creationTrace(), () => persistUntilAnswered(persistOrder, input));
  state.order = persisted.order;
  state.status = persisted.order.status;
  state.sequence = persisted.sequence;
  statusSince = persisted.order.updatedAt;
  // A resumed run finds the order wherever it was left.
  if (persisted.order.status !== 'CREATED') {
    upsertSearchAttributes([{ key: OrderStatusAttribute, value: persisted.order.status }]);
  }
  if (keepsDeadlines && persisted.order.hold?.overdue) showHoldOverdue(true);

  // Publishing does not hold the order back (a Kafka outage must not block transitions), but
  // each transition's events go out after the previous ones, so consumers see them in order.
  let publishing = inTraceOf(creationTrace(), () => publishInOrder(Promise.resolve(), persisted.unpublished));
  function publishInOrder(previous: Promise<void>, events: PublishableEvent[]): Promise<void> {
    return previous.then(async () => {
      const batches = fewerTasks ? [events] : events.map((event) => [event]);
      for (const batch of batches) {
        if (batch.length === 0) continue;
        const eventIds = batch.map((event) => event.eventId);
        try {
          await (fewerTasks ? publishOrderEvents(eventIds) : publishOrderEvent(eventIds[0] as string));
          state.publishedEvents.push(...batch.map((event) => event.type));
        } catch (error) {
          // Only a non-retryable failure gets here; the outbox sweeper publishes what is left.
          log.error('events not published; left to the outbox sweeper', { orderId, eventIds, error });
        }
      }
    });
  }

  async function carryOut(ticket: Ticket, order: Order): Promise<NonNullable<Ticket['outcome']>> {
    const { request, actor } = ticket;
    const decision = decideTransition(order.status, request);
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
        statusSince = committed.order.updatedAt;
      }
      if (keepsDeadlines) showHoldOverdue(committed.order.hold?.overdue ?? false);
      publishing = publishInOrder(publishing, committed.events);
      return { ok: true, result: { order: committed.order, changed: true } };
    } catch (error) {
      // The activity retries whatever may pass: this one will never be committed.
      const cause = error instanceof ActivityFailure && error.cause instanceof Error ? error.cause : error;
      // A rule of the order the activity found broken (an amendment's items) is the caller's mistake.
      if (cause instanceof ApplicationFailure && cause.type === OrderFailure.VALIDATION_FAILED) {
        return {
          ok: false,
          failure: ApplicationFailure.create({
            type: OrderFailure.VALIDATION_FAILED,
            message: cause.message,
            details: cause.details as unknown[],
            nonRetryable: true,
          }),
        };
      }
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

  /** What a deadline does when it comes: a transition of the workflow's own, or marking a hold overdue. */
  async function onDeadline(deadline: Deadline): Promise<void> {
    if (deadline.kind === 'hold-review') {
      const marked = await markHoldOverdue({ orderId, holdId: deadline.holdId });
      if (marked !== null) {
        state.order = marked;
        showHoldOverdue(true);
        log.warn('hold overdue', { orderId, holdId: deadline.holdId, reviewBy: marked.hold?.reviewBy });
      }
      return;
    }
    const request: TransitionRequest =
      deadline.kind === 'archive'
        ? { command: 'archive', payload: {} }
        : { command: 'releaseToFulfilment', payload: {} };
    queue.push({ request, actor: `temporal:${deadline.kind}`, via: 'deadline' });
  }

  for (;;) {
    const order = loaded();
    const deadline = keepsDeadlines && order !== null ? nextDeadline(order, statusSince, durations) : undefined;
    state.nextDeadline =
      deadline === undefined ? null : { kind: deadline.kind, at: new Date(deadline.at).toISOString() };
    const ready = () => queue.length > 0 || finished();
    if (deadline === undefined) {
      await condition(ready);
    } else if (!(await condition(ready, Math.max(1, deadline.at - Date.now())))) {
      await onDeadline(deadline);
      continue;
    }
    const ticket = queue[0];
    if (ticket === undefined) break;
    ticket.outcome = await inTraceOf(ticket.trace, () => carryOut(ticket, state.order as Order));
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
