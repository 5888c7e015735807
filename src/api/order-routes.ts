// Routes of the order resource. Request and response schemas on every route, per status.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { CancelOrderBody, CreateOrder, ErrorBody, ORDER_STATUSES, Order } from '../contracts/schemas.js';
import type { OrderService } from '../orders/order-service.js';
import type { ApiMetrics } from './metrics.js';

const OrderParams = Type.Object(
  { orderId: Type.String({ format: 'uuid', description: 'Unique identifier of the order' }) },
  { additionalProperties: false },
);

const PendingOrder = Type.Object(
  {
    orderId: Type.String({ format: 'uuid' }),
    status: Type.Literal('PENDING'),
    message: Type.String(),
  },
  { description: 'The order service has the command; the order is not committed yet. GET it later.' },
);

const ListOrdersQuery = Type.Object(
  {
    customerId: Type.Optional(Type.String({ format: 'uuid' })),
    status: Type.Optional(Type.Unsafe<Order['status']>({ type: 'string', enum: [...ORDER_STATUSES] })),
    createdFrom: Type.Optional(Type.String({ format: 'date-time', description: 'Inclusive lower bound of createdAt' })),
    createdTo: Type.Optional(Type.String({ format: 'date-time', description: 'Exclusive upper bound of createdAt' })),
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    cursor: Type.Optional(Type.String({ maxLength: 200, description: 'nextCursor of the previous page' })),
  },
  { additionalProperties: false },
);

const OrderPage = Type.Object({
  orders: Type.Array(Order),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as cursor for the next page' }),
});

const OrderEvent = Type.Object({
  eventId: Type.String({ format: 'uuid', description: 'The CloudEvents ce_id' }),
  type: Type.String(),
  occurredAt: Type.String({ format: 'date-time' }),
  publishedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  payload: Type.Unknown(),
});

const errors = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  404: ErrorBody,
  409: ErrorBody,
  429: ErrorBody,
  500: ErrorBody,
  503: ErrorBody,
};
const security = [{ bearer: [] }];

export const orderRoutes: FastifyPluginAsyncTypebox<{ orders: OrderService; metrics?: ApiMetrics }> = async (
  app,
  { orders, metrics },
) => {
  app.post(
    '/orders',
    {
      schema: {
        summary: 'Create an order from a checked-out cart (CreateOrder)',
        body: CreateOrder,
        response: {
          201: Order,
          200: Order,
          202: PendingOrder,
          ...errors,
          413: ErrorBody,
          415: ErrorBody,
        },
        security,
      },
      config: { scope: 'orders:create' },
    },
    async (request, reply) => {
      const outcome = await orders.createOrder(request.body);
      const orderId = outcome.kind === 'accepted' ? outcome.orderId : outcome.order.orderId;
      request.log = request.log.child({ orderId, workflowId: `order-${orderId}` });
      if (outcome.kind === 'committed' && outcome.created) metrics?.ordersCreated.inc();
      if (outcome.kind === 'accepted') {
        return reply
          .status(202)
          .header('location', `/orders/${outcome.orderId}`)
          .send({ orderId: outcome.orderId, status: 'PENDING', message: 'the order is being created' });
      }
      return reply
        .status(outcome.created ? 201 : 200)
        .header('location', `/orders/${outcome.order.orderId}`)
        .send(outcome.order);
    },
  );

  app.get(
    '/orders',
    {
      schema: {
        summary: 'List orders, newest first, with filters and keyset pagination',
        querystring: ListOrdersQuery,
        response: { 200: OrderPage, ...errors },
        security,
      },
      config: { scope: 'orders:read' },
    },
    async (request) =>
      orders.listOrders({
        ...request.query,
        ...(request.query.customerId && { customerId: request.query.customerId.toLowerCase() }),
      }),
  );

  app.get(
    '/orders/:orderId',
    {
      schema: {
        summary: 'Get an order (GetOrder)',
        params: OrderParams,
        response: { 200: Order, ...errors },
        security,
      },
      config: { scope: 'orders:read' },
    },
    async (request) => orders.getOrder(request.params.orderId.toLowerCase()),
  );

  app.get(
    '/orders/:orderId/events',
    {
      schema: {
        summary: 'The events of an order, with their publish state',
        params: OrderParams,
        response: { 200: Type.Object({ orderId: Type.String(), events: Type.Array(OrderEvent) }), ...errors },
        security,
      },
      config: { scope: 'orders:read' },
    },
    async (request) => {
      const orderId = request.params.orderId.toLowerCase();
      const events = await orders.getOrderEvents(orderId);
      return {
        orderId,
        events: events.map((event) => ({
          eventId: event.eventId,
          type: event.type,
          occurredAt: event.occurredAt,
          publishedAt: event.publishedAt,
          payload: JSON.parse(event.payload) as unknown,
        })),
      };
    },
  );

  app.post(
    '/orders/:orderId/cancel',
    {
      schema: {
        summary: 'Cancel an order (CancelOrder), delivered to its workflow as a signal',
        params: OrderParams,
        body: CancelOrderBody,
        response: { 200: Order, 202: Order, ...errors },
        security,
      },
      config: { scope: 'orders:manage' },
    },
    async (request, reply) => {
      const outcome = await orders.transitionOrder(request.params.orderId.toLowerCase(), {
        name: 'cancel',
        reason: request.body.reason,
      });
      if (outcome.kind === 'done' && outcome.changed) metrics?.orderTransitions.inc({ status: 'CANCELLED' });
      return reply.status(outcome.kind === 'done' ? 200 : 202).send(outcome.order);
    },
  );

  app.post(
    '/orders/:orderId/complete',
    {
      schema: {
        summary: 'Complete an order, delivered to its workflow as a signal',
        params: OrderParams,
        response: { 200: Order, 202: Order, ...errors },
        security,
      },
      config: { scope: 'orders:manage' },
    },
    async (request, reply) => {
      const outcome = await orders.transitionOrder(request.params.orderId.toLowerCase(), { name: 'complete' });
      if (outcome.kind === 'done' && outcome.changed) metrics?.orderTransitions.inc({ status: 'COMPLETED' });
      return reply.status(outcome.kind === 'done' ? 200 : 202).send(outcome.order);
    },
  );
};
