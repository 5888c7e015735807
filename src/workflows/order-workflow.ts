// One workflow per order: persist, announce, wait for complete or cancel, persist, announce.
import {
  ApplicationFailure,
  allHandlersFinished,
  condition,
  log,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { createActivities } from '../activities/index.js';
import type { Order } from '../contracts/schemas.js';
import { decideTransition, sameOrderRequest, type TransitionRequest } from '../domain/order.js';
import {
  cancelOrderSignal,
  completeOrderSignal,
  createOrderUpdate,
  getOrderStateQuery,
  ORDER_CONFLICT_FAILURE,
  OrderStatusAttribute,
  type OrderWorkflowInput,
  type OrderWorkflowState,
} from './definitions.js';

type Activities = ReturnType<typeof createActivities>;

// Activities are idempotent, so they retry without limit: an outage delays an order, never loses it.
const { persistOrder, persistTransition, publishOrderEvent } = proxyActivities<Activities>({
  startToCloseTimeout: '15 seconds',
  retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds' },
});

export async function orderWorkflow(input: OrderWorkflowInput): Promise<Order> {
  const state: OrderWorkflowState = {
    orderId: input.orderId,
    status: 'PENDING',
    order: null,
    acceptedTransition: null,
    refusedTransitions: [],
    publishedEvents: [],
  };
  let createRequests = 0;

  setHandler(getOrderStateQuery, () => state);

  setHandler(
    createOrderUpdate,
    async () => {
      // The update that came with the start is the first one; later ones are repeats.
      const created = createRequests++ === 0;
      await condition(() => state.order !== null);
      return { order: state.order as Order, created };
    },
    {
      validator: (command) => {
        if (!sameOrderRequest(command, input.command)) {
          throw ApplicationFailure.create({
            type: ORDER_CONFLICT_FAILURE,
            message: `cart ${input.command.cartId} already has order ${input.orderId} with different contents`,
            nonRetryable: true,
          });
        }
      },
    },
  );

  const requestTransition = (request: TransitionRequest) => {
    // First allowed transition wins; the transition table decides, from the status the order will leave.
    if (state.acceptedTransition === null && decideTransition('CREATED', request.name).kind === 'apply') {
      state.acceptedTransition = request;
    } else {
      state.refusedTransitions.push(request);
      log.info('transition refused', { orderId: input.orderId, request, accepted: state.acceptedTransition });
    }
  };
  setHandler(completeOrderSignal, () => requestTransition({ name: 'complete' }));
  setHandler(cancelOrderSignal, ({ reason }) => requestTransition({ name: 'cancel', reason }));

  const created = await persistOrder(input);
  state.order = created.order;
  state.status = created.order.status;

  // Publishing does not hold the order back: a Kafka outage must not block complete or cancel.
  const createdPublished = publishOrderEvent(created.eventId).then(() => {
    state.publishedEvents.push('OrderCreated');
  });

  await condition(() => state.acceptedTransition !== null);
  const transition = state.acceptedTransition;
  if (transition === null) throw new Error('unreachable: the condition waited for a transition');
  const ended = await persistTransition({ orderId: input.orderId, request: transition });
  state.order = ended.order;
  state.status = ended.order.status;
  upsertSearchAttributes([{ key: OrderStatusAttribute, value: ended.order.status }]);

  // The terminal event goes out after OrderCreated, so consumers see them in order.
  await createdPublished;
  await publishOrderEvent(ended.eventId);
  state.publishedEvents.push(ended.order.status === 'COMPLETED' ? 'OrderCompleted' : 'OrderCancelled');
  // Let repeated createOrder updates still in flight answer before the run closes.
  await condition(allHandlersFinished);
  return ended.order;
}
