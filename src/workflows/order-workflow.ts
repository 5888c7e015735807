// One workflow per order, for the order's active life: a loop over the transition table
// (src/domain/lifecycle.ts) that persists the order, then takes one accepted transition at a
// time, commits it (status, history row and events in one transaction), publishes its events,
// and waits for the order's next deadline (durable timers: the end of the amendment window,
// the review date of a hold). It ends when the order reaches COMPLETED or CANCELLED; the archive
// sweep (archive-sweep.ts) archives ended orders later, without a run per order.
// Versions (ORDER_WORKFLOW_VERSIONS in definitions.ts): this code runs v5 and v4, whose runs
// (without ARCHIVAL_BY_SWEEP_PATCH) still wait for their archival timer. v1 to v3 are retired:
// `npm run ops -- migrate --from <version>` moves their open runs before an upgrade.
import { type Context, context } from '@opentelemetry/api';
import {
  ActivityFailure,
  ApplicationFailure,
  allHandlersFinished,
  CancellationScope,
  CancelledFailure,
  condition,
  continueAsNew,
  currentUpdateInfo,
  deprecatePatch,
  log,
  patched,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { OrderActivities, PublishableEvent } from '../activities/index.js';
import type { Order } from '../contracts/schemas.js';
import {
  type CommandName,
  type Deadline,
  deadlineOf,
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
  ANSWERS_CARRIED,
  type AnsweredUpdate,
  type CarriedOver,
  DEFAULT_CONTINUE_AS_NEW_AFTER,
  DEFAULT_DEADLINES,
  getOrderStateQuery,
  HoldOverdueAttribute,
  handOverUpdate,
  OrderFailure,
  OrderStatusAttribute,
  type OrderWorkflowInput,
  type OrderWorkflowState,
  type OrderWorkflowVersion,
  OrderWorkflowVersionAttribute,
  type TransitionResult,
  transitionUpdates,
} from './definitions.js';
import {
  ACTIVITY_OPTIONS,
  decodeUpdate,
  localOrderActivities,
  newWorkflowState,
  orderActivities,
  recordRefusal,
  registerCreateOrder,
  registerSignals,
} from './handlers.js';

// Markers of the versions before v5. Every run this code supports (v4, v5) has them; runs
// without them (v1 to v3) cannot replay here and are moved by `npm run ops -- migrate` first.
// deprecatePatch keeps recording them, so v4 histories replay; the next release deletes them.
const RETIRED_PATCHES = ['lifecycle-engine', 'durable-deadlines', 'fewer-workflow-tasks'] as const;
/** Marks v5 runs: they end at COMPLETED or CANCELLED; runs without it (v4) wait for their archival timer. */
export const ARCHIVAL_BY_SWEEP_PATCH = 'archival-by-sweep';

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

export async function orderWorkflow(input: OrderWorkflowInput): Promise<Order> {
  for (const patch of RETIRED_PATCHES) deprecatePatch(patch);
  const endsWithActiveLife = patched(ARCHIVAL_BY_SWEEP_PATCH);
  const version: OrderWorkflowVersion = endsWithActiveLife ? 'v5' : 'v4';
  // persistOrder is a local activity: what it does follows from the workflow's input alone, so
  // running it again after a lost workflow task changes nothing. A transition is not: which
  // Update comes first decides it, and a local activity commits before that decision is in
  // history; a lost task could then be retried with another winner than the one PostgreSQL
  // committed. Transitions stay remote activities, scheduled after their Update is accepted.
  // Publishing stays remote too: a Kafka outage must not hold the workflow task open.
  const { persistOrder } = localOrderActivities;
  const { publishOrderEvents, markHoldOverdue } = orderActivities;
  const durations = input.deadlines ?? DEFAULT_DEADLINES;
  const continueAsNewAfter = input.continueAsNewAfter ?? DEFAULT_CONTINUE_AS_NEW_AFTER;

  const { orderId } = input;
  const state = newWorkflowState(orderId);
  const queue: Ticket[] = [];
  setHandler(getOrderStateQuery, () => ({
    ...state,
    version,
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
  /** Nothing is pending and nothing can move the order again (in v4, not even its archival). */
  const finished = () => {
    const order = loaded();
    return (
      order !== null && queue.length === 0 && (endsWithActiveLife ? isTerminal(order.status) : isFinal(order.status))
    );
  };
  /** When the order got its current status: the amendment window runs from then. */
  let statusSince = input.carried?.statusSince ?? '';
  /** Set once this run is to hand over to a new one (continue-as-new): new Updates are asked again there. */
  let handingOver = false;
  let transitionsInRun = 0;
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

  /** Updates the previous run answered, by id: a repeat of one is answered as it was there. */
  const answeredBefore = new Map((input.carried?.answered ?? []).map((answer) => [answer.id, answer]));
  /** The newest Updates this run answered (at most ANSWERS_CARRIED), for the next run: the same repeats can reach it. */
  const answeredInRun: AnsweredUpdate[] = [];
  const remember = (answer: AnsweredUpdate) => {
    answeredInRun.push(answer);
    if (answeredInRun.length > ANSWERS_CARRIED) answeredInRun.shift();
  };
  const answerOf = (id: string, outcome: NonNullable<Ticket['outcome']>): AnsweredUpdate => {
    if (!outcome.ok) return { id, failure: { type: outcome.failure.type ?? '', message: outcome.failure.message } };
    return outcome.result.changed ? { id } : { id, unchanged: true };
  };

  for (const name of PUBLIC_COMMAND_NAMES) {
    setHandler(
      transitionUpdates[name],
      async (payload, meta) => {
        const id = currentUpdateInfo()?.id ?? '';
        const repeat = answeredBefore.get(id);
        if (repeat !== undefined) {
          // Carried out (or refused) by the previous run: the same answer, with the order as it is now.
          remember(repeat);
          if (repeat.failure !== undefined) {
            throw ApplicationFailure.create({ ...repeat.failure, nonRetryable: true });
          }
          await condition(() => loaded() !== null);
          return { order: loaded() as Order, changed: repeat.unchanged !== true };
        }
        const { request, actor } = decodeUpdate(name, payload, meta);
        const order = loaded();
        const ticket: Ticket = { request, actor, via: 'update', trace: context.active() };
        if (order !== null && finished()) {
          ticket.outcome = { ok: true, result: { order, changed: false } };
        } else {
          queue.push(ticket);
          await condition(() => ticket.outcome !== undefined);
        }
        const outcome = ticket.outcome as NonNullable<Ticket['outcome']>;
        remember(answerOf(id, outcome));
        if (!outcome.ok) throw outcome.failure;
        return outcome.result;
      },
      {
        // Runs before the Update enters history: a refusal here leaves no trace in it.
        validator: (payload, meta) => {
          if (answeredBefore.has(currentUpdateInfo()?.id ?? '')) return;
          if (handingOver) throw handingOverFailure(orderId);
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

  // An operator's (or `npm run ops -- migrate`'s) request to move this run onto today's code.
  setHandler(
    handOverUpdate,
    () => {
      handingOver = true;
      return { from: version };
    },
    {
      validator: () => {
        if (loaded() === null) throw handingOverFailure(orderId);
      },
    },
  );

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
  // Signals the previous run took and had not carried out yet.
  for (const carried of input.carried?.transitions ?? []) queue.push({ ...carried, via: 'signal' });

  const persisted = await inTraceOf(creationTrace(), () => persistUntilAnswered(persistOrder, input));
  state.order = persisted.order;
  state.status = persisted.order.status;
  state.sequence = persisted.sequence;
  if (statusSince === '') statusSince = persisted.statusSince ?? persisted.order.updatedAt;
  // A resumed run finds the order wherever it was left.
  if (persisted.order.status !== 'CREATED') {
    upsertSearchAttributes([{ key: OrderStatusAttribute, value: persisted.order.status }]);
  }
  // A run continued from v4 (a migration) says from now on which version it runs.
  if (endsWithActiveLife && workflowInfo().typedSearchAttributes.get(OrderWorkflowVersionAttribute) !== version) {
    upsertSearchAttributes([{ key: OrderWorkflowVersionAttribute, value: version }]);
  }
  if (persisted.order.hold?.overdue) showHoldOverdue(true);

  // Publishing does not hold the order back (a Kafka outage must not block transitions), but
  // each transition's events go out after the previous ones, so consumers see them in order.
  let publishing = inTraceOf(creationTrace(), () => publishInOrder(Promise.resolve(), persisted.unpublished));
  function publishInOrder(previous: Promise<void>, events: PublishableEvent[]): Promise<void> {
    return previous.then(async () => {
      if (events.length === 0) return;
      const eventIds = events.map((event) => event.eventId);
      try {
        await publishOrderEvents(eventIds);
        state.publishedEvents.push(...events.map((event) => event.type));
      } catch (error) {
        // Only a non-retryable failure gets here; the outbox sweeper publishes what is left.
        log.error('events not published; left to the outbox sweeper', { orderId, eventIds, error });
      }
    });
  }

  async function carryOut(ticket: Ticket, order: Order): Promise<NonNullable<Ticket['outcome']>> {
    const { request, actor } = ticket;
    const decision = decideTransition(order.status, request);
    if (decision.kind === 'already') return { ok: true, result: { order, changed: false } };
    if (decision.kind === 'forbidden') return { ok: false, failure: notAllowed(order.status, request.command) };
    try {
      const { persistOrderTransition } = endsWithActiveLife
        ? proxyActivities<OrderActivities>({ ...ACTIVITY_OPTIONS, summary: `commit ${request.command}` })
        : orderActivities;
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
      showHoldOverdue(committed.order.hold?.overdue ?? false);
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

  /** Whether only signals (which the next run takes over) are left: no Update waits for this run. */
  const onlySignalsLeft = () => queue.every((ticket) => ticket.via === 'signal');
  /** Continues as new, taking the pending signals and the amendment window's start along. */
  async function handOver(): Promise<never> {
    await publishing;
    await condition(() => allHandlersFinished() && onlySignalsLeft());
    // Temporal can lose the answer of an Update completed in the same workflow task as the
    // continue-as-new, and hand that Update to the next run again (temporalio/temporal#6375: a
    // committed amendment answered 409 there). The answers go out in a task of their own first.
    await sleep(1);
    await condition(() => allHandlersFinished() && onlySignalsLeft());
    const carried: CarriedOver = {
      transitions: queue.map(({ request, actor }) => ({ request, actor })),
      statusSince,
      answered: answeredInRun,
    };
    log.info('handing over to a new run', { orderId, from: version, transitionsInRun, carried: queue.length });
    return continueAsNew<typeof orderWorkflow>({ ...input, carried });
  }

  for (;;) {
    const order = loaded();
    // v4 runs keep their archival timer; since v5 an ended order has no deadline of its own here.
    const deadline =
      order === null || (endsWithActiveLife && isTerminal(order.status))
        ? undefined
        : deadlineOf(order, statusSince, durations);
    state.nextDeadline =
      deadline === undefined ? null : { kind: deadline.kind, at: new Date(deadline.at).toISOString() };
    if (endsWithActiveLife) showDetails(state, deadline);
    const ready = () => queue.length > 0 || finished() || (handingOver && onlySignalsLeft());
    if (deadline === undefined) {
      await condition(ready);
    } else if (
      !(await (endsWithActiveLife
        ? condition(ready, Math.max(1, deadline.at - Date.now()), { summary: deadline.summary })
        : condition(ready, Math.max(1, deadline.at - Date.now()))))
    ) {
      await onDeadline(deadline);
      continue;
    }
    if (handingOver && onlySignalsLeft() && !finished()) return handOver();
    const ticket = queue[0];
    if (ticket === undefined) break;
    ticket.outcome = await inTraceOf(ticket.trace, () => carryOut(ticket, state.order as Order));
    queue.shift();
    transitionsInRun++;
    if (!ticket.outcome.ok) {
      recordRefusal(state, { via: ticket.via, name: ticket.request.command, reason: ticket.outcome.failure.message });
    }
    if (endsWithActiveLife) {
      // A long-lived order starts afresh from the database well before Temporal's limits of one
      // execution (2,000 Updates, 50 MB of history).
      if (!finished() && (transitionsInRun >= continueAsNewAfter || workflowInfo().continueAsNewSuggested)) {
        handingOver = true;
      }
    } else if (workflowInfo().continueAsNewSuggested && queue.length === 0 && !finished()) {
      // v4's way, kept as it was so its histories replay.
      await publishing;
      if (queue.length === 0 && allHandlersFinished()) await continueAsNew<typeof orderWorkflow>(input);
    }
  }
  await publishing;
  if (endsWithActiveLife) showDetails(state, undefined);
  // Let Updates still in flight answer before the run closes.
  await condition(allHandlersFinished);
  return state.order as Order;
}

function handingOverFailure(orderId: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: OrderFailure.RUN_HANDING_OVER,
    message: `order ${orderId}'s workflow is handing over to a new run; ask again`,
    nonRetryable: true,
  });
}

/** The run's current details in the Temporal UI: where the order is and what it waits for. */
function showDetails(state: OrderWorkflowState, deadline: Deadline | undefined): void {
  const order = state.order;
  if (order === null) return;
  const lines = [`**Status:** ${order.status}`];
  if (order.confirmationNumber !== null) lines.push(`**Confirmation:** ${order.confirmationNumber}`);
  if (order.hold !== null) {
    lines.push(
      `**Hold:** ${order.hold.reason}, review by ${order.hold.reviewBy}${order.hold.overdue ? ' (overdue)' : ''}`,
    );
  }
  if (deadline !== undefined)
    lines.push(`**Next deadline:** ${deadline.summary} at ${new Date(deadline.at).toISOString()}`);
  setCurrentDetails(lines.join('\n\n'));
}
