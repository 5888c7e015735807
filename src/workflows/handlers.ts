// What both versions of the order workflow share: its activities, its state, the createOrder
// Update, and the checks of what an Update or a signal carries. Everything that reaches a handler is untrusted:
// an operator can type any JSON (or none) into the Temporal CLI or UI.
import { type Context, context } from '@opentelemetry/api';
import {
  ApplicationFailure,
  condition,
  log,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
} from '@temporalio/workflow';
import type { OrderActivities } from '../activities/index.js';
import { type CommandName, decodeTransitionRequest, LIFECYCLE, type TransitionRequest } from '../domain/lifecycle.js';
import { sameOrderRequest } from '../domain/order.js';
import { checkPayload, describeViolations, type PayloadSchema } from '../domain/payload-check.js';
import {
  cancelOrderSignal,
  completeOrderSignal,
  createOrderUpdate,
  OrderFailure,
  type OrderWorkflowInput,
  type OrderWorkflowState,
  REFUSALS_KEPT,
  type RefusedRequest,
} from './definitions.js';

// Every activity retries failures that may pass (an outage delays an order, never loses it);
// those that cannot pass are non-retryable and reach the workflow at once.
export const ACTIVITY_OPTIONS = {
  startToCloseTimeout: '15 seconds',
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds' },
} as const;
export const orderActivities = proxyActivities<OrderActivities>(ACTIVITY_OPTIONS);
/**
 * The same activities as local activities, which the worker runs inside the workflow task that
 * asks for them: no activity task, no extra workflow task. Only for a step whose effect follows
 * from history alone (see FEWER_TASKS_PATCH in order-workflow.ts).
 */
export const localOrderActivities = proxyLocalActivities<OrderActivities>(ACTIVITY_OPTIONS);

export function newWorkflowState(orderId: string): OrderWorkflowState {
  return {
    orderId,
    status: 'PENDING',
    order: null,
    sequence: 0,
    pendingTransitions: [],
    refusedTransitions: [],
    refusedCount: 0,
    publishedEvents: [],
  };
}

/**
 * Registers the createOrder Update: the one sent with the workflow's start, and repeats of the
 * same CreateOrder. Returns the trace of its first request (the update-with-start
 * that created the run), so the creation's activities join that request's trace; undefined for a
 * run started without it.
 */
export function registerCreateOrder(input: OrderWorkflowInput, state: OrderWorkflowState): () => Context | undefined {
  let createRequests = 0;
  let createdIn: Context | undefined;
  setHandler(
    createOrderUpdate,
    async () => {
      // The update that came with the start is the first one; later ones are repeats.
      const created = createRequests++ === 0;
      if (created) createdIn = context.active();
      await condition(() => state.order !== null);
      return { order: state.order as NonNullable<OrderWorkflowState['order']>, created };
    },
    {
      validator: (command) => {
        if (!sameOrderRequest(command, input.command)) {
          throw ApplicationFailure.create({
            type: OrderFailure.ORDER_CONFLICT,
            message: `cart ${input.command.cartId} already has order ${input.orderId} with different contents`,
            nonRetryable: true,
          });
        }
      },
    },
  );
  return () => createdIn;
}

/** Keeps the latest refusals for getOrderState and says why in the log. */
export function recordRefusal(state: OrderWorkflowState, refusal: Omit<RefusedRequest, 'at'>): void {
  state.refusedTransitions.push({ ...refusal, at: new Date().toISOString() });
  if (state.refusedTransitions.length > REFUSALS_KEPT) state.refusedTransitions.shift();
  state.refusedCount++;
  log.warn('transition refused', { orderId: state.orderId, ...refusal });
}

const META_SCHEMA: PayloadSchema = {
  type: 'object',
  properties: { actor: { type: 'string', minLength: 1, maxLength: 200, pattern: '^[^\\p{Cc}]+$' } },
  additionalProperties: false,
};

/**
 * A transition Update's arguments as a request; throws the VALIDATION_FAILED failure the
 * caller gets back (details: the violations, as in the API's error body).
 */
export function decodeUpdate(
  name: CommandName,
  payload: unknown,
  meta: unknown,
): { request: TransitionRequest; actor: string } {
  const decoded = decodeTransitionRequest(name, payload ?? {});
  const metaViolations = meta === undefined || meta === null ? [] : checkPayload(META_SCHEMA, meta, '/meta');
  const violations = [...(decoded.ok ? [] : decoded.violations), ...metaViolations];
  if (!decoded.ok || violations.length > 0) {
    throw ApplicationFailure.create({
      type: OrderFailure.VALIDATION_FAILED,
      message: `the ${name} request does not match its schema: ${describeViolations(violations)}`,
      details: [violations],
      nonRetryable: true,
    });
  }
  const actor = (meta as { actor?: string } | null | undefined)?.actor ?? 'temporal:update';
  return { request: decoded.request, actor };
}

/**
 * The first version's signals, `completeOrder` and `cancelOrder`, for both versions: a malformed
 * one is refused here; `accept` decides on the others (and may refuse them too).
 */
export function registerSignals(
  state: OrderWorkflowState,
  accept: (name: CommandName, decoded: { request: TransitionRequest; actor: string }) => void,
): void {
  const onSignal =
    (name: CommandName) =>
    (...args: unknown[]) => {
      const decoded = decodeSignal(name, args);
      if (!decoded.ok) return recordRefusal(state, { via: 'signal', name, reason: decoded.reason });
      accept(name, decoded);
    };
  setHandler(completeOrderSignal, onSignal('complete'));
  setHandler(cancelOrderSignal, onSignal('cancel'));
}

/** A signal's arguments as a request, or why it is refused. */
function decodeSignal(
  name: CommandName,
  args: unknown[],
): { ok: true; request: TransitionRequest; actor: string } | { ok: false; reason: string } {
  if (args.length > 1) return { ok: false, reason: `${LIFECYCLE[name].name} takes at most one argument` };
  const decoded = decodeTransitionRequest(name, args[0] ?? {});
  if (!decoded.ok) return { ok: false, reason: `malformed: ${describeViolations(decoded.violations)}` };
  return { ok: true, request: decoded.request, actor: 'temporal:signal' };
}
