// The only module that imports the Temporal client: starts order workflows, sends them their
// transition Updates, resumes them, and turns the workflow's failures into OrderErrors.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  Client,
  Connection,
  isGrpcServiceError,
  ScheduleAlreadyRunning,
  type ScheduleOptions,
  WithStartWorkflowOperation,
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type WorkflowStartOptions,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure, type PayloadCodec } from '@temporalio/common';
import { backoffDelays } from '../backoff.js';
import { type Config, payloadKeysOf, temporalConnectionOf, tracingEnabled } from '../config.js';
import type { CreateOrder } from '../contracts/schemas.js';
import type { OrderStatus, TransitionRequest } from '../domain/lifecycle.js';
import { ErrorCode, itemsTotal, OrderError, type Violation } from '../domain/order.js';
import { workflowIdForOrder } from '../ids.js';
import { DependencyUnavailableError } from '../unavailable.js';
import {
  ARCHIVE_SWEEP_WORKFLOW_TYPE,
  type ArchiveSweepInput,
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
import { createPayloadCodec } from './payload-codec.js';

/** Encrypts payloads with TEMPORAL_PAYLOAD_KEYS, when set: the client's, the worker's and the tools' data converter. */
export function dataConverterOf(config: Config): { payloadCodecs?: PayloadCodec[] } {
  const keys = payloadKeysOf(config);
  return keys === undefined ? {} : { payloadCodecs: [createPayloadCodec(keys)] };
}

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
  {
    workflowId = workflowIdForOrder(orderId),
    status = 'CREATED',
    actor,
    deadlines,
    continueAsNewAfter,
  }: WorkflowStartChoices = {},
) {
  const total = itemsTotal(command.items);
  return {
    workflowId,
    taskQueue,
    args: [
      {
        orderId,
        command,
        ...(actor !== undefined && { actor }),
        ...(deadlines !== undefined && { deadlines }),
        ...(continueAsNewAfter !== undefined && { continueAsNewAfter }),
      },
    ] as Parameters<typeof orderWorkflow>,
    typedSearchAttributes: [
      { key: OrderStatusAttribute, value: status },
      { key: CustomerIdAttribute, value: command.customerId },
      { key: CartIdAttribute, value: command.cartId },
      { key: OrderTotalAttribute, value: Number(total) },
    ],
    memo: { currency: command.currency, itemCount: command.items.length },
    // What operators see in the Temporal UI's list and header instead of an id alone.
    staticSummary: orderSummary(orderId, command.currency, total, command.items.length),
    staticDetails: [
      `**Order** ${orderId}`,
      `**Customer** ${command.customerId} · **cart** ${command.cartId}`,
      `**Total** ${formatMinorUnits(total)} ${command.currency} · **items** ${command.items.length}`,
    ].join('\n\n'),
  } satisfies Partial<WorkflowStartOptions<typeof orderWorkflow>>;
}

/** One line naming the order for operators: `Order 1f0c…: 129.90 EUR, 3 items`. */
export function orderSummary(orderId: string, currency: string, total: bigint, itemCount: number): string {
  return `Order ${orderId}: ${formatMinorUnits(total)} ${currency}, ${itemCount} item${itemCount === 1 ? '' : 's'}`;
}

/** Minor units as a decimal with two places (the catalog's currencies all have two). */
function formatMinorUnits(amount: bigint): string {
  const whole = amount / 100n;
  const cents = (amount % 100n).toString().padStart(2, '0');
  return `${whole}.${cents}`;
}

interface WorkflowStartChoices {
  workflowId?: string;
  status?: OrderStatus;
  actor?: string;
  deadlines?: OrderDeadlines;
  continueAsNewAfter?: number;
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
/**
 * gRPC FAILED_PRECONDITION: with "Workflow Task in failed state", the server refused the Update
 * because the run's last workflow task failed or timed out (e.g. a worker evicted the run from its
 * cache mid-task) and its retry has not completed yet; the Update never reached the order.
 */
const FAILED_PRECONDITION = 9;

export async function connectOrderWorkflowClient(config: Config): Promise<OrderWorkflowClient> {
  const connection = await Connection.connect(temporalConnectionOf(config));
  const client = new Client({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    dataConverter: dataConverterOf(config),
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
  const runChoices = { deadlines, continueAsNewAfter: config.ORDER_CONTINUE_AS_NEW_AFTER };
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
        ...runChoices,
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
          // Update the server aborted, or refused while the run's workflow task is being retried,
          // never reached the order (a repeat of one that did answers as a repeat), and one a run
          // handing over refused is for its next run: ask again.
          if (exhausted(error) || updateAborted(error) || workflowTaskFailing(error) || handingOver(error)) {
            if (Date.now() + pause < deadline) {
              await sleep(pause);
              continue;
            }
            throw new OrderError(
              ErrorCode.ORDER_BUSY,
              `order ${orderId} did not take the ${request.command} in time (other transitions, or its run handing over); nothing changed, ask again`,
            );
          }
          throw error;
        }
      }
      throw new Error('unreachable: backoffDelays never ends');
    },

    async resume(orderId, command, status, actor) {
      try {
        await client.workflow.start(ORDER_WORKFLOW_TYPE, {
          ...orderWorkflowOptions(orderId, command, config.TEMPORAL_TASK_QUEUE, { status, actor, ...runChoices }),
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

function workflowTaskFailing(error: unknown): boolean {
  const cause = (error as { cause?: unknown }).cause ?? error;
  return (
    isGrpcServiceError(cause) &&
    cause.code === FAILED_PRECONDITION &&
    /workflow task in failed state/i.test(cause.details ?? '')
  );
}

function handingOver(error: unknown): boolean {
  return (
    error instanceof WorkflowUpdateFailedError &&
    error.cause instanceof ApplicationFailure &&
    error.cause.type === OrderFailure.RUN_HANDING_OVER
  );
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

/** The archive sweep's Schedule: one per task queue, so environments sharing a namespace keep their own. */
export function archiveScheduleOptions(config: Config) {
  const input: ArchiveSweepInput = { archiveAfterMs: config.ARCHIVE_AFTER_MS, batchSize: config.ARCHIVE_BATCH_SIZE };
  return {
    scheduleId: `order-archive-sweep:${config.TEMPORAL_TASK_QUEUE}`,
    spec: { intervals: [{ every: config.ARCHIVE_SWEEP_INTERVAL_MS }] },
    action: {
      type: 'startWorkflow' as const,
      workflowType: ARCHIVE_SWEEP_WORKFLOW_TYPE,
      args: [input],
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      workflowId: `order-archive-sweep:${config.TEMPORAL_TASK_QUEUE}`,
      staticSummary: `Archive orders ended ${Math.round(config.ARCHIVE_AFTER_MS / 3_600_000)} h ago or more`,
    },
    policies: {
      // A sweep still running when the next is due is followed by one more, not by a pile.
      overlap: 'BUFFER_ONE' as const,
      // After an outage of Temporal, one sweep catches up on everything missed.
      catchupWindow: config.ARCHIVE_SWEEP_INTERVAL_MS,
    },
  } satisfies ScheduleOptions;
}

/**
 * Creates the archive sweep's Schedule, or brings it in line with this config (interval,
 * retention, batch size) when it exists: every worker does at start, so the latest deploy's
 * settings hold. A Temporal that refuses it stops the start.
 */
export async function ensureArchiveSchedule(client: Client, config: Config): Promise<'created' | 'updated'> {
  const { scheduleId, ...options } = archiveScheduleOptions(config);
  try {
    await client.schedule.create({ scheduleId, ...options });
    return 'created';
  } catch (error) {
    if (!(error instanceof ScheduleAlreadyRunning)) throw error;
    await client.schedule.getHandle(scheduleId).update((previous) => ({ ...previous, ...options }));
    return 'updated';
  }
}

/** A bare Temporal client for operator tools (`npm run ops`, the worker's start-up checks); orders go through connectOrderWorkflowClient. */
export async function connectTemporal(config: Config): Promise<{ client: Client; close(): Promise<void> }> {
  const connection = await Connection.connect(temporalConnectionOf(config));
  return {
    client: new Client({ connection, namespace: config.TEMPORAL_NAMESPACE, dataConverter: dataConverterOf(config) }),
    close: () => connection.close(),
  };
}

/**
 * Starts today's run for an order from what PostgreSQL holds, terminating the run it has in the
 * same request (no moment without one): `npm run ops -- migrate` for runs of retired versions.
 */
export async function replaceOrderRun(
  client: Client,
  config: Config,
  orderId: string,
  command: CreateOrder,
  status: OrderStatus,
  actor: string,
): Promise<void> {
  await client.workflow.start(ORDER_WORKFLOW_TYPE, {
    ...orderWorkflowOptions(orderId, command, config.TEMPORAL_TASK_QUEUE, {
      status,
      actor,
      deadlines: { amendmentWindowMs: config.AMENDMENT_WINDOW_MS, archiveAfterMs: config.ARCHIVE_AFTER_MS },
      continueAsNewAfter: config.ORDER_CONTINUE_AS_NEW_AFTER,
    }),
    workflowIdConflictPolicy: 'TERMINATE_EXISTING',
  });
}
