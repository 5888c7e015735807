// The order workflow's messages and search attributes, shared by the workflow, the
// client and the tests. Imports nothing that cannot run in the workflow sandbox.
import { defineSearchAttributeKey } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { CancellationReason, CreateOrder, Order, OrderStatus } from '../contracts/schemas.js';
import type { TransitionRequest } from '../domain/order.js';

export const ORDER_WORKFLOW_TYPE = 'orderWorkflow';

export interface OrderWorkflowInput {
  orderId: string;
  command: CreateOrder;
}

export interface CreateOrderResult {
  order: Order;
  /** True for the request that started the workflow; repeats of the same command get false. */
  created: boolean;
}

/** The workflow's own view of its order, for operators and for debugging. */
export interface OrderWorkflowState {
  orderId: string;
  status: OrderStatus | 'PENDING';
  order: Order | null;
  /** The transition accepted and being carried out, if any. */
  acceptedTransition: TransitionRequest | null;
  /** Transitions refused because another one won, or the order had already ended. */
  refusedTransitions: TransitionRequest[];
  publishedEvents: string[];
}

/** Update sent with start: resolves once the order is committed in PostgreSQL. */
export const createOrderUpdate = defineUpdate<CreateOrderResult, [CreateOrder]>('createOrder');
export const completeOrderSignal = defineSignal<[]>('completeOrder');
export const cancelOrderSignal = defineSignal<[{ reason: CancellationReason }]>('cancelOrder');
export const getOrderStateQuery = defineQuery<OrderWorkflowState>('getOrderState');

/** Application failure type of a CreateOrder that conflicts with the cart's existing order. */
export const ORDER_CONFLICT_FAILURE = 'ORDER_CONFLICT';

export const OrderStatusAttribute = defineSearchAttributeKey('OrderStatus', 'KEYWORD');
export const CustomerIdAttribute = defineSearchAttributeKey('CustomerId', 'KEYWORD');
export const CartIdAttribute = defineSearchAttributeKey('CartId', 'KEYWORD');
export const OrderTotalAttribute = defineSearchAttributeKey('OrderTotal', 'INT');
