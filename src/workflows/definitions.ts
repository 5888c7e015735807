// The order workflow's messages and search attributes, shared by the workflow, the client and
// the tests. Imports nothing that cannot run in the workflow sandbox.
import { defineSearchAttributeKey, type UpdateDefinition } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CreateOrder, Order } from '../contracts/schemas.js';
import { type CommandName, type OrderStatus, PUBLIC_COMMAND_NAMES } from '../domain/lifecycle.js';

export const ORDER_WORKFLOW_TYPE = 'orderWorkflow';

export interface OrderWorkflowInput {
  orderId: string;
  /** The CreateOrder the order was made from; a resumed run gets it rebuilt from the database. */
  command: CreateOrder;
  /** Who created the order, for its status history (absent in runs started before it existed). */
  actor?: string;
  /** The durations of the order's deadlines, from the config of whoever started it (defaults when absent). */
  deadlines?: OrderDeadlines;
}

export interface OrderDeadlines {
  /** How long a confirmed order may be amended before it awaits fulfilment (AMENDMENT_WINDOW_MS). */
  amendmentWindowMs: number;
  /** How long a completed or cancelled order waits before it is archived (ARCHIVE_AFTER_MS). */
  archiveAfterMs: number;
}

export const DEFAULT_DEADLINES: OrderDeadlines = {
  amendmentWindowMs: 30 * 60 * 1000,
  archiveAfterMs: 90 * 24 * 60 * 60 * 1000,
};

export interface CreateOrderResult {
  order: Order;
  /** True for the request that started the workflow; repeats of the same command get false. */
  created: boolean;
}

/** What a transition Update answers once the transition is committed in PostgreSQL. */
export interface TransitionResult {
  order: Order;
  /** False when the order already was where the command leads (a repeat): nothing new happened. */
  changed: boolean;
}

/**
 * The optional second argument of a transition Update. Operators typing an Update by hand may
 * leave it out; the API and the Kafka command handler say who asked.
 */
export interface TransitionMeta {
  /** Who asked, for the status history: `api-key:<token id>`, a token subject, `kafka:<group>`, an operator's name. */
  actor?: string;
}

/** A transition or signal the workflow refused, for operators (getOrderState) and the log. */
export interface RefusedRequest {
  via: 'signal' | 'update' | 'deadline';
  name: string;
  reason: string;
  at: string;
}

/** The workflow's own view of its order, for operators and for debugging. */
export interface OrderWorkflowState {
  orderId: string;
  status: OrderStatus | 'PENDING';
  order: Order | null;
  /** Sequence of the order's latest committed transition (0: its creation). */
  sequence: number;
  /** The next deadline the workflow waits for, if any (amendment window, hold review, archival). */
  nextDeadline?: { kind: string; at: string } | null;
  /** Transitions accepted and waiting their turn (or being carried out), oldest first. */
  pendingTransitions: { command: string; actor: string }[];
  /** The latest refused requests (at most REFUSALS_KEPT), and how many there were in all. */
  refusedTransitions: RefusedRequest[];
  refusedCount: number;
  publishedEvents: string[];
}

export const REFUSALS_KEPT = 20;

/** Update sent with start: resolves once the order is committed in PostgreSQL. */
export const createOrderUpdate = defineUpdate<CreateOrderResult, [CreateOrder]>('createOrder');

/**
 * One Update per command of the transition table, named after it (`complete`, `cancel`): its
 * validator checks the payload and the table from the order's status; it returns once the
 * transition is committed.
 */
export const transitionUpdates = Object.fromEntries(
  PUBLIC_COMMAND_NAMES.map((name) => [name, defineUpdate<TransitionResult, [payload: unknown, meta: unknown]>(name)]),
) as Record<CommandName, UpdateDefinition<TransitionResult, [payload: unknown, meta: unknown]>>;

/** The signals of the first version, kept for operators and for runs started before the Updates. */
export const completeOrderSignal = defineSignal<unknown[]>('completeOrder');
export const cancelOrderSignal = defineSignal<unknown[]>('cancelOrder');
export const getOrderStateQuery = defineQuery<OrderWorkflowState>('getOrderState');

/** Application failure types the workflow answers with; the client turns each into an OrderError. */
export const OrderFailure = {
  /** A CreateOrder that conflicts with the cart's existing order. */
  ORDER_CONFLICT: 'ORDER_CONFLICT',
  /** A payload or meta that does not match the command's schema. */
  VALIDATION_FAILED: 'VALIDATION_FAILED',
  /** Not allowed from the order's status (after the transitions accepted before it). */
  TRANSITION_NOT_ALLOWED: 'TRANSITION_NOT_ALLOWED',
  /** Accepted, but it could not be committed (PostgreSQL refused it): a bug or data edited by hand. */
  TRANSITION_FAILED: 'TRANSITION_FAILED',
} as const;

export const OrderStatusAttribute = defineSearchAttributeKey('OrderStatus', 'KEYWORD');
export const CustomerIdAttribute = defineSearchAttributeKey('CustomerId', 'KEYWORD');
export const CartIdAttribute = defineSearchAttributeKey('CartId', 'KEYWORD');
export const OrderTotalAttribute = defineSearchAttributeKey('OrderTotal', 'INT');
/** True while the order's hold is past its reviewBy: `HoldOverdue = true` in the Temporal UI finds them. */
export const HoldOverdueAttribute = defineSearchAttributeKey('HoldOverdue', 'BOOL');
