// The only module that imports the Temporal client: starts order workflows and signals them.
import {
  Client,
  Connection,
  WithStartWorkflowOperation,
  WorkflowNotFoundError,
  WorkflowUpdateFailedError,
} from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { Config } from '../config.js';
import type { CreateOrder } from '../contracts/schemas.js';
import { ErrorCode, itemsTotal, OrderError, type TransitionRequest } from '../domain/order.js';
import { workflowIdForOrder } from '../ids.js';
import { DependencyUnavailableError } from '../unavailable.js';
import {
  CartIdAttribute,
  type CreateOrderResult,
  CustomerIdAttribute,
  cancelOrderSignal,
  completeOrderSignal,
  createOrderUpdate,
  ORDER_CONFLICT_FAILURE,
  ORDER_WORKFLOW_TYPE,
  OrderStatusAttribute,
  OrderTotalAttribute,
} from '../workflows/definitions.js';
import type { orderWorkflow } from '../workflows/order-workflow.js';

export interface OrderWorkflows {
  /**
   * Starts the order's workflow (or joins it, for a repeated command) and waits until the
   * order is committed. Undefined when that took longer than `timeoutMs`.
   */
  createOrder(orderId: string, command: CreateOrder, timeoutMs: number): Promise<CreateOrderResult | undefined>;
  /** Delivers a transition as a signal. False when the order's workflow is no longer running. */
  requestTransition(orderId: string, request: TransitionRequest): Promise<boolean>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * How an order's workflow is started: with its search attributes and memo, joining the one
 * already running for a repeated command. Shared with the benchmark's bare-Temporal baseline.
 */
export function startOrderOperation(
  orderId: string,
  command: CreateOrder,
  taskQueue: string,
  workflowId: string = workflowIdForOrder(orderId),
) {
  return new WithStartWorkflowOperation<typeof orderWorkflow>(ORDER_WORKFLOW_TYPE, {
    workflowId,
    taskQueue,
    args: [{ orderId, command }],
    // Concurrent identical requests join the one running workflow.
    workflowIdConflictPolicy: 'USE_EXISTING',
    typedSearchAttributes: [
      { key: OrderStatusAttribute, value: 'CREATED' },
      { key: CustomerIdAttribute, value: command.customerId },
      { key: CartIdAttribute, value: command.cartId },
      { key: OrderTotalAttribute, value: Number(itemsTotal(command.items)) },
    ],
    memo: { currency: command.currency, itemCount: command.items.length },
  });
}

export async function connectOrderWorkflows(config: Config): Promise<OrderWorkflows> {
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const client = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });

  async function workflowExists(workflowId: string): Promise<boolean> {
    try {
      await connection.withDeadline(Date.now() + 2_000, () => client.workflow.getHandle(workflowId).describe());
      return true;
    } catch (error) {
      if (error instanceof WorkflowNotFoundError) return false;
      throw new DependencyUnavailableError('Temporal does not answer', { cause: error });
    }
  }

  return {
    async createOrder(orderId, command, timeoutMs) {
      const startWorkflowOperation = startOrderOperation(orderId, command, config.TEMPORAL_TASK_QUEUE);
      const abort = new AbortController();
      const timer = setTimeout(() => abort.abort(), timeoutMs);
      try {
        return await connection.withAbortSignal(abort.signal, () =>
          client.workflow.executeUpdateWithStart(createOrderUpdate, { args: [command], startWorkflowOperation }),
        );
      } catch (error) {
        // Out of time: the order is on its way only if its workflow exists. Otherwise the start
        // never reached Temporal, and the caller must hear "unavailable", not "accepted".
        if (abort.signal.aborted) {
          if (await workflowExists(workflowIdForOrder(orderId))) return undefined;
          throw new DependencyUnavailableError('Temporal did not take the order in time', { cause: error });
        }
        if (error instanceof WorkflowUpdateFailedError && isConflict(error.cause)) {
          throw new OrderError(ErrorCode.ORDER_CONFLICT, 'this cart already has an order with different contents');
        }
        throw error;
      } finally {
        clearTimeout(timer);
      }
    },

    async requestTransition(orderId, request) {
      const handle = client.workflow.getHandle(workflowIdForOrder(orderId));
      try {
        if (request.name === 'complete') await handle.signal(completeOrderSignal);
        else await handle.signal(cancelOrderSignal, { reason: request.reason });
        return true;
      } catch (error) {
        if (error instanceof WorkflowNotFoundError) return false;
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

function isConflict(cause: unknown): boolean {
  return cause instanceof ApplicationFailure && cause.type === ORDER_CONFLICT_FAILURE;
}
