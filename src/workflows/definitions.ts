// The order workflow's messages and search attributes, shared by the workflow, the client and
// the tests. Imports nothing that cannot run in the workflow sandbox.
import { defineSearchAttributeKey, type UpdateDefinition } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CreateOrder, Order } from '../contracts/schemas.js';
import {
  type CommandName,
  type DeadlineDurations,
  type OrderStatus,
  PUBLIC_COMMAND_NAMES,
  type TransitionRequest,
} from '../domain/lifecycle.js';

export const ORDER_WORKFLOW_TYPE = 'orderWorkflow';

export interface OrderWorkflowInput {
  orderId: string;
  /** The CreateOrder the order was made from; a resumed run gets it rebuilt from the database. */
  command: CreateOrder;
  /** Who created the order, for its status history (absent in runs started before it existed). */
  actor?: string;
  /** The durations of the order's deadlines, from the config of whoever started it (defaults when absent). */
  deadlines?: OrderDeadlines;
  /** Transitions one run carries out before it continues as new (ORDER_CONTINUE_AS_NEW_AFTER; 500 when absent). */
  continueAsNewAfter?: number;
  /** What the run before this one handed over when it continued as new. */
  carried?: CarriedOver;
}

/** What a run hands to the next when it continues as new; the order itself is read again from PostgreSQL. */
export interface CarriedOver {
  /** Transitions asked by signal and not yet carried out, oldest first (Updates are finished before). */
  transitions: { request: TransitionRequest; actor: string }[];
  /** When the order got its current status: its amendment window still runs from then. */
  statusSince: string;
  /**
   * The transition Updates the previous run answered, newest last (at most ANSWERS_CARRIED). The
   * client SDK sends an Update again, with its id, while the server has not confirmed it accepted;
   * such a repeat sent after the run continued as new reaches the next run, which must answer it
   * as the run that carried it out did instead of deciding it afresh. Absent in runs before it.
   */
  answered?: AnsweredUpdate[];
}

/** An Update a run answered: its id, and the failure it answered with (none: it was carried out). */
export interface AnsweredUpdate {
  id: string;
  /** It found the order already where it leads (answered `changed: false`). */
  unchanged?: true;
  failure?: { type: string; message: string };
}

/** How many answered Updates a run hands to the next: repeats come within seconds of the answer. */
export const ANSWERS_CARRIED = 200;

export const DEFAULT_CONTINUE_AS_NEW_AFTER = 500;

/**
 * The order workflow's versions, oldest first: what an open run of each does, and whether this
 * release's code still runs it. `OrderWorkflowVersion` (a search attribute) names it on every
 * run since v5; older runs are told apart by their patch markers (`npm run ops -- versions`).
 */
export const ORDER_WORKFLOW_VERSIONS = {
  v1: { supported: false, markers: [], about: 'one transition after CREATED, by signal' },
  v2: {
    supported: false,
    markers: ['lifecycle-engine'],
    about: 'the lifecycle loop, ending at COMPLETED or CANCELLED',
  },
  v3: {
    supported: false,
    markers: ['lifecycle-engine', 'durable-deadlines'],
    about: 'deadlines; waits for its archival timer; an activity per event',
  },
  v4: {
    supported: true,
    markers: ['lifecycle-engine', 'durable-deadlines', 'fewer-workflow-tasks'],
    about: 'persists locally, publishes per commit; waits for its archival timer',
  },
  v5: {
    supported: true,
    markers: ['lifecycle-engine', 'durable-deadlines', 'fewer-workflow-tasks', 'archival-by-sweep'],
    about:
      'ends at COMPLETED or CANCELLED (the archive sweep archives); continues as new after ORDER_CONTINUE_AS_NEW_AFTER',
  },
} as const satisfies Record<string, { supported: boolean; markers: readonly string[]; about: string }>;
export type OrderWorkflowVersion = keyof typeof ORDER_WORKFLOW_VERSIONS;
export const CURRENT_ORDER_WORKFLOW_VERSION: OrderWorkflowVersion = 'v5';

/** The durations of an order's deadlines (the lifecycle table's STATUS_DEADLINES). */
export type OrderDeadlines = DeadlineDurations;

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
  /** The version of the workflow this run runs (ORDER_WORKFLOW_VERSIONS); absent before v5. */
  version?: string;
  /** The next deadline the workflow waits for, if any (amendment window, hold review; archival in v4). */
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
  /** The run is handing over to its next (continue-as-new, a migration): ask again, the next run answers. */
  RUN_HANDING_OVER: 'RUN_HANDING_OVER',
} as const;

/**
 * Asks the run to hand over to one on today's code (`npm run ops -- migrate`): it finishes what
 * it accepted, refuses new transitions with RUN_HANDING_OVER (callers ask again), and continues
 * as new, carrying pending signals and its deadlines over. Answers the version it hands over from.
 */
export const handOverUpdate = defineUpdate<{ from: string }, []>('handOver');

/** The archive sweep a Temporal Schedule starts every ARCHIVE_SWEEP_INTERVAL_MS. */
export const ARCHIVE_SWEEP_WORKFLOW_TYPE = 'orderArchiveSweep';

export interface ArchiveSweepInput {
  /** Orders ended at least this long ago are archived (ARCHIVE_AFTER_MS). */
  archiveAfterMs: number;
  /** Orders read per page (ARCHIVE_BATCH_SIZE). */
  batchSize: number;
}

export interface ArchiveSweepResult {
  archived: number;
  /** Due orders found already archived or no longer ended when locked (a run of v4 archived it, a race). */
  skipped: number;
  /** Events left to the outbox sweeper because Kafka did not take them. */
  unpublished: number;
}

export const OrderStatusAttribute = defineSearchAttributeKey('OrderStatus', 'KEYWORD');
export const CustomerIdAttribute = defineSearchAttributeKey('CustomerId', 'KEYWORD');
export const CartIdAttribute = defineSearchAttributeKey('CartId', 'KEYWORD');
export const OrderTotalAttribute = defineSearchAttributeKey('OrderTotal', 'INT');
/** True while the order's hold is past its reviewBy: `HoldOverdue = true` in the Temporal UI finds them. */
export const HoldOverdueAttribute = defineSearchAttributeKey('HoldOverdue', 'BOOL');
/** The version of the order workflow a run runs (ORDER_WORKFLOW_VERSIONS); absent on runs before v5. */
export const OrderWorkflowVersionAttribute = defineSearchAttributeKey('OrderWorkflowVersion', 'KEYWORD');
