// Routes of the order resource. Request and response schemas on every route, per status.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { CreateOrder, ErrorBody, Order, OrderStatus } from '../contracts/schemas.js';
import {
  type CommandDefinition,
  LIFECYCLE,
  PUBLIC_COMMAND_NAMES,
  type TransitionRequest,
} from '../domain/lifecycle.js';
import { workflowIdForOrder } from '../ids.js';
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

/** A valid CreateOrder, the example of POST /orders in the OpenAPI document (and Swagger UI's "Try it out"). */
const CREATE_ORDER_EXAMPLE: CreateOrder = {
  cartId: '6f1c2a3b-0000-4000-8000-00000000a001',
  customerId: '5d1f8f2e-7a8b-4c9d-8e0f-112233445566',
  items: [{ productId: 'a1a1a1a1-0000-4000-8000-000000000001', quantity: 2, unitPrice: 1250 }],
  total: 2500,
  currency: 'EUR',
  paymentAuthorizationId: 'pa_123',
};

/** Orders per page of GET /orders when the caller names no `limit`. */
const DEFAULT_PAGE_SIZE = 20;

const DATE_TIME_BOUND =
  'RFC 3339, any offset; years 1970 to 9999. A leap second (23:59:60) is read as the second after 23:59:59.';

const ListOrdersQuery = Type.Object(
  {
    customerId: Type.Optional(Type.String({ format: 'uuid' })),
    status: Type.Optional(OrderStatus),
    createdFrom: Type.Optional(
      Type.String({ format: 'date-time', description: `Inclusive lower bound of createdAt. ${DATE_TIME_BOUND}` }),
    ),
    createdTo: Type.Optional(
      Type.String({ format: 'date-time', description: `Exclusive upper bound of createdAt. ${DATE_TIME_BOUND}` }),
    ),
    holdOverdue: Type.Optional(
      Type.Boolean({ description: 'true: only orders on hold past their reviewBy; false: only the others' }),
    ),
    archived: Type.Optional(
      Type.Boolean({
        description:
          'true: archived orders only (status ARCHIVED, kept in the archive tables), with the same filters and ' +
          'cursor; false or absent: the orders not archived (active, and ended within their retention). A status ' +
          'other than ARCHIVED with archived=true matches nothing.',
      }),
    ),
    // Optional with a default: Ajv fills it in, and the OpenAPI parameter says `required: false`.
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, default: DEFAULT_PAGE_SIZE })),
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

const StatusChange = Type.Object({
  sequence: Type.Integer({ minimum: 0, description: 'Per order, 0 for its creation, up by one per transition' }),
  command: Type.String({ description: '`create`, or the command that moved the order' }),
  from: Type.Union([OrderStatus, Type.Null()]),
  to: OrderStatus,
  reason: Type.Union([Type.String(), Type.Null()]),
  actor: Type.String({
    description: 'Who asked: api-key:<token id>, a token subject, kafka:<consumer group>, temporal:signal, …',
  }),
  occurredAt: Type.String({ format: 'date-time' }),
});

/** Who is calling, for the order's status history: a static key's digest id (never the key), or a token's subject. */
const actorOf = (request: FastifyRequest) => request.caller ?? 'anonymous';

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
/** Besides `errors`, on a route with an order id in its path: an id over the router's limit is 414. */
const orderErrors = { ...errors, 414: ErrorBody };
/** Besides `orderErrors`, on a POST: a body over BODY_LIMIT_BYTES is 413, one that is not JSON 415. */
const postErrors = { ...orderErrors, 413: ErrorBody, 415: ErrorBody };
const security = [{ bearer: [] }];

export const orderRoutes: FastifyPluginAsyncTypebox<{ orders: OrderService; metrics?: ApiMetrics }> = async (
  app,
  { orders, metrics },
) => {
  // Ids are compared and stored in lowercase: decoded once here, whatever case the caller used.
  app.addHook('preValidation', async (request) => {
    const params = request.params as { orderId?: unknown };
    if (typeof params.orderId === 'string') params.orderId = params.orderId.toLowerCase();
    const query = request.query as { customerId?: unknown } | undefined;
    if (typeof query?.customerId === 'string') query.customerId = query.customerId.toLowerCase();
  });

  app.post(
    '/orders',
    {
      schema: {
        summary: 'Create an order from a checked-out cart (CreateOrder)',
        body: { ...CreateOrder, examples: [CREATE_ORDER_EXAMPLE] },
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
      const outcome = await orders.createOrder(request.body, actorOf(request));
      const orderId = outcome.kind === 'accepted' ? outcome.orderId : outcome.order.orderId;
      request.log = request.log.child({ orderId, workflowId: workflowIdForOrder(orderId) });
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
    async (request) => orders.listOrders({ ...request.query, limit: request.query.limit ?? DEFAULT_PAGE_SIZE }),
  );

  app.get(
    '/orders/:orderId',
    {
      schema: {
        summary: 'Get an order (GetOrder)',
        params: OrderParams,
        response: { 200: Order, ...orderErrors },
        security,
      },
      config: { scope: 'orders:read' },
    },
    async (request) => orders.getOrder(request.params.orderId),
  );

  app.get(
    '/orders/:orderId/events',
    {
      schema: {
        summary: 'The events of an order, with their publish state',
        params: OrderParams,
        response: { 200: Type.Object({ orderId: Type.String(), events: Type.Array(OrderEvent) }), ...orderErrors },
        security,
      },
      config: { scope: 'orders:read' },
    },
    async (request) => {
      const { orderId } = request.params;
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

  app.get(
    '/orders/:orderId/history',
    {
      schema: {
        summary: 'The status history of an order: every transition, who asked and why',
        params: OrderParams,
        response: { 200: Type.Object({ orderId: Type.String(), history: Type.Array(StatusChange) }), ...orderErrors },
        security,
      },
      config: { scope: 'orders:read' },
    },
    async (request) => {
      const { orderId } = request.params;
      const history = await orders.getOrderHistory(orderId);
      return { orderId, history: history.map(({ orderId: _orderId, ...change }) => change) };
    },
  );

  // One route per command of the transition table that callers may send (its `http`).
  for (const name of PUBLIC_COMMAND_NAMES) {
    const definition = LIFECYCLE[name] as CommandDefinition;
    const http = definition.http as NonNullable<CommandDefinition['http']>;
    const takesBody = Object.keys(definition.payloadSchema.properties ?? {}).length > 0;
    // A payload whose fields are all optional (confirm) may be left out, as on bodiless routes.
    const bodyOptional = takesBody && (definition.payloadSchema.required ?? []).length === 0;
    const targets =
      definition.targets === 'unchanged' ? 'keeps the status' : `leads to ${definition.targets.join(' or ')}`;
    app.route({
      method: http.method,
      url: `/orders/:orderId${http.path}`,
      schema: {
        summary: definition.summary,
        description:
          `Allowed from ${definition.from.join(', ')}; ${targets}. Carried out by the order's ` +
          'workflow (an Update): 200 once committed, 202 if it did not answer within TRANSITION_WAIT_MS; ' +
          '409 TRANSITION_NOT_ALLOWED from any other status.',
        params: OrderParams,
        ...(takesBody && { body: Type.Unsafe<Record<string, unknown>>(definition.payloadSchema) }),
        response: { 200: Order, 202: Order, ...postErrors },
        security,
      },
      config: { scope: 'orders:manage' },
      ...(bodyOptional && {
        preValidation: async (request: FastifyRequest) => {
          request.body ??= {};
        },
      }),
      handler: async (request, reply) => {
        const { orderId } = request.params as { orderId: string };
        const transition = { command: definition.name, payload: takesBody ? request.body : {} } as TransitionRequest;
        const outcome = await orders.transitionOrder(orderId, transition, actorOf(request));
        if (outcome.kind === 'done' && outcome.changed) metrics?.orderTransitions.inc({ status: outcome.order.status });
        return reply.status(outcome.kind === 'done' ? 200 : 202).send(outcome.order);
      },
    });
  }

  app.post(
    '/orders/:orderId/resume',
    {
      schema: {
        summary: 'Bring back an order whose workflow was terminated, reset badly or failed',
        description:
          "Starts a new run of the order's workflow from PostgreSQL (status, history, unpublished events). " +
          '409 if a run is open.',
        params: OrderParams,
        response: { 200: Order, ...postErrors },
        security,
      },
      config: { scope: 'orders:manage' },
    },
    async (request) => orders.resumeOrder(request.params.orderId, actorOf(request)),
  );
};
