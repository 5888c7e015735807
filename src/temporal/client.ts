// The only module that imports the Temporal client: starts order workflows, sends them their
// transition Updates, resumes them, and turns the workflow's failures into OrderErrors.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Client,
  Connection,
  isGrpcServiceError,
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type WorkflowStartOptions,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { backoffDelays } from '../backoff.js';
import { type Config, temporalConnectionOf, tracingEnabled } from '../config.js';
import type { CreateOrder } from '../contracts/schemas.js';
import type { OrderStatus, TransitionRequest } from '../domain/lifecycle.js';
import { ErrorCode, itemsTotal, OrderError, type Violation } from '../domain/order.js';
import { workflowIdForOrder } from '../ids.js';
import { DependencyUnavailableError } from '../unavailable.js';
import {
  CartIdAttribute,
  type CreateOrderResult,
  CustomerIdAttribute,
  createOrderUpdate,
  ORDER_WORKFLOW_TYPE,
  type OrderDeadlines,
  OrderFailure,
  OrderStatusAttribute,
  OrderTotalAttribute,
  type TransitionResult,
  transitionUpdates,
} from '../workflows/definitions.js';
import type { orderWorkflow } from '../workflows/order-workflow.js';

export type TransitionOutcome =
  /** The transition is committed (or the order already was where it leads). */
  | { kind: 'done'; result: TransitionResult }
  /** Temporal did not answer within the wait; the Update may still be carried out. */
  | { kind: 'pending' }
  /** The order has no open workflow run to change it. */
  | { kind: 'not-running' };

export interface OrderWorkflowClient {
  /**
   * Starts the order's workflow (or joins it, for a repeated command) and waits until the
   * order is committed. Undefined when that took longer than `timeoutMs`.
   */
  startOrder(
    orderId: string,
    command: CreateOrder,
    actor: string,
    timeoutMs: number,
  ): Promise<CreateOrderResult | undefined>;
  /** Sends the transition as an Update and waits (up to `timeoutMs`) until it is committed. */
  transition(orderId: string, request: TransitionRequest, actor: string, timeoutMs: number): Promise<TransitionOutcome>;
  /** Starts a new run for an order whose workflow is gone; false when a run is open. */
  resume(orderId: string, command: CreateOrder, status: OrderStatus, actor: string): Promise<boolean>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** How an order's workflow is started: its id, input, search attributes and memo. */
export function orderWorkflowOptions(
  orderId: string,
  command: CreateOrder,
  taskQueue: string,
  { workflowId = workflowIdForOrder(orderId), status = 'CREATED', actor, deadlines }: WorkflowStartChoices = {},
) {
  return {
    workflowId,
    taskQueue,
    args: [
      { orderId, command, ...(actor !== undefined && { actor }), ...(deadlines !== undefined && { deadlines }) },
    ] as Parameters<typeof orderWorkflow>,
    typedSearchAttributes: [
      { key: OrderStatusAttribute, value: status },
      { key: CustomerIdAttribute, value: command.customerId },
      { key: CartIdAttribute, value: command.cartId },
      { key: OrderTotalAttribute, value: Number(itemsTotal(command.items)) },
    ],
    memo: { currency: command.currency, itemCount: command.items.length },
  } satisfies Partial<WorkflowStartOptions<typeof orderWorkflow>>;
}

interface WorkflowStartChoices {
  workflowId?: string;
  status?: OrderStatus;
  actor?: string;
  deadlines?: OrderDeadlines;
}

/**
 * Update-with-start of an order's workflow, joining the one already running for a repeated
 * command. Shared with the benchmark's bare-Temporal baseline.
 */
export function startOrderOperation(
  orderId: string,
  command: CreateOrder,
  taskQueue: string,
  choices: WorkflowStartChoices = {},
) {
  return new WithStartWorkflowOperation<typeof orderWorkflow>(ORDER_WORKFLOW_TYPE, {
    ...orderWorkflowOptions(orderId, command, taskQueue, choices),
    // Concurrent identical requests join the one running workflow.
    workflowIdConflictPolicy: 'USE_EXISTING',
  });
}

/** gRPC RESOURCE_EXHAUSTED: e.g. more Updates in flight on one workflow than the server admits. */
const RESOURCE_EXHAUSTED = 8;
/** gRPC UNAVAILABLE: with "workflow update was aborted", the run lost its workflow task (evicted, timed out) before the Update was accepted. */
const UNAVAILABLE = 14;

export async function connectOrderWorkflowClient(config: Config): Promise<OrderWorkflowClient> {
  const connection = await Connection.connect(temporalConnectionOf(config));
  const client = new Client({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    // Starts, Updates and signals carry the caller's trace into the workflow (header _tracer-data).
    // Imported only when tracing is on: the package costs ~25 MB of memory once loaded.
    interceptors: tracingEnabled(config)
      ? {
          workflow: [
            new (await import('@temporalio/interceptors-opentelemetry')).OpenTelemetryWorkflowClientInterceptor(),
          ],
        }
      : {},
  });
  const deadlines: OrderDeadlines = {
    amendmentWindowMs: config.AMENDMENT_WINDOW_MS,
    archiveAfterMs: config.ARCHIVE_AFTER_MS,
  };
  // A namespace that does not exist (or that the credentials may not use) fails here, not at the first order.
  await connection.workflowService
    .describeNamespace({ namespace: config.TEMPORAL_NAMESPACE })
    .catch((error: unknown) => {
      void connection.close();
      throw new Error(`namespace ${config.TEMPORAL_NAMESPACE}: ${(error as Error).message}`, { cause: error });
    });

  async function workflowExists(workflowId: string): Promise<boolean> {
    try {
      await connection.withDeadline(Date.now() + 2_000, () => client.workflow.getHandle(workflowId).describe());
      return true;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return false;
      throw new DependencyUnavailableError('Temporal does not answer', { cause: error });
    }
  }

  /** Runs `call` with an abort after `timeoutMs`; `aborted` tells the caller it ran out of time. */
  async function withTimeout<T>(timeoutMs: number, call: () => Promise<T>) {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), timeoutMs);
    try {
      return { value: await connection.withAbortSignal(abort.signal, call), aborted: false as const };
    } catch (error) {
      if (abort.signal.aborted) return { error, aborted: true as const };
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  return {
    async startOrder(orderId, command, actor, timeoutMs) {
      const startWorkflowOperation = startOrderOperation(orderId, command, config.TEMPORAL_TASK_QUEUE, {
        actor,
        deadlines,
      });
      try {
        const outcome = await withTimeout(timeoutMs, () =>
          client.workflow.executeUpdateWithStart(createOrderUpdate, { args: [command], startWorkflowOperation }),
        );
        if (!outcome.aborted) return outcome.value;
        // Out of time: the order is on its way only if its workflow exists. Otherwise the start
        // never reached Temporal, and the caller must hear "unavailable", not "accepted".
        if (await workflowExists(workflowIdForOrder(orderId))) return undefined;
        throw new DependencyUnavailableError('Temporal did not take the order in time', { cause: outcome.error });
      } catch (error) {
        throw orderErrorOf(error) ?? error;
      }
    },

    async transition(orderId, request, actor, timeoutMs) {
      const handle = client.workflow.getHandle(workflowIdForOrder(orderId));
      const deadline = Date.now() + timeoutMs;
      for (const pause of backoffDelays(50, 500)) {
        try {
          const outcome = await withTimeout(Math.max(1, deadline - Date.now()), () =>
            handle.executeUpdate(transitionUpdates[request.command], { args: [request.payload, { actor }] }),
          );
          if (!outcome.aborted) return { kind: 'done', result: outcome.value };
          // Out of time: pending if the run is there to carry it out, unavailable if Temporal does not answer.
          return (await workflowExists(workflowIdForOrder(orderId))) ? { kind: 'pending' } : { kind: 'not-running' };
        } catch (error) {
          if (error instanceof WorkflowNotFoundError) return { kind: 'not-running' };
          const refusal = orderErrorOf(error);
          if (refusal !== undefined) throw refusal;
          // The server admits a few Updates per workflow at once; the rest wait their turn here. An
          // Update the server aborted never reached the order (a repeat of one that did answers as a repeat): ask again.
          if ((exhausted(error) || updateAborted(error)) && Date.now() + pause < deadline) {
            await sleep(pause);
            continue;
          }
          throw error;
        }
      }
      throw new Error('unreachable: backoffDelays never ends');
    },

    async resume(orderId, command, status, actor) {
      try {
        await client.workflow.start(ORDER_WORKFLOW_TYPE, {
          ...orderWorkflowOptions(orderId, command, config.TEMPORAL_TASK_QUEUE, { status, actor, deadlines }),
          workflowIdConflictPolicy: 'FAIL',
        });
        return true;
      } catch (error) {
        if (error instanceof WorkflowExecutionAlreadyStartedError) return false;
        throw error;
      }
    },

    async ping() {
      await connection.healthService.check({});
    },

    async close() {
      await connection.close();
    },
  };
}

function exhausted(error: unknown): boolean {
  const cause = (error as { cause?: unknown }).cause ?? error;
  return isGrpcServiceError(cause) && cause.code === RESOURCE_EXHAUSTED;
}

function updateAborted(error: unknown): boolean {
  const cause = (error as { cause?: unknown }).cause ?? error;
  return isGrpcServiceError(cause) && cause.code === UNAVAILABLE && /update was aborted/i.test(cause.details ?? '');
}

/** The OrderError a refused workflow Update stands for, if it is one. */
function orderErrorOf(error: unknown): OrderError | undefined {
  if (!(error instanceof WorkflowUpdateFailedError) || !(error.cause instanceof ApplicationFailure)) return undefined;
  const { type, message, details } = error.cause;
  switch (type) {
    case OrderFailure.ORDER_CONFLICT:
      return new OrderError(ErrorCode.ORDER_CONFLICT, 'this cart already has an order with different contents');
    case OrderFailure.TRANSITION_NOT_ALLOWED:
      return new OrderError(ErrorCode.TRANSITION_NOT_ALLOWED, message);
    case OrderFailure.VALIDATION_FAILED:
      return new OrderError(ErrorCode.VALIDATION_FAILED, message, (details?.[0] as Violation[] | undefined) ?? []);
    default:
      return undefined;
  }
}
