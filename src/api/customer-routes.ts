// Routes of the customer resource: the erasure of a customer's personal data (issue 24). Request
// and response schemas on the route, per status, as on the order routes.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ErrorBody } from '../contracts/schemas.js';
import type { CustomerErasure } from '../orders/customer-erasure.js';

const CustomerParams = Type.Object(
  { customerId: Type.String({ format: 'uuid', description: 'Identifier of the customer' }) },
  { additionalProperties: false },
);

const ErasureResult = Type.Object(
  {
    erasureId: Type.String({
      format: 'uuid',
      description: 'The erasure that erased the orders (a repeat names the first)',
    }),
    customerId: Type.String({ format: 'uuid' }),
    erasedAt: Type.String({ format: 'date-time' }),
    orderIds: Type.Array(Type.String({ format: 'uuid' }), {
      description: 'The orders it erased, oldest first; empty when the customer had none',
    }),
  },
  { additionalProperties: false },
);

const errors = {
  400: ErrorBody,
  401: ErrorBody,
  403: ErrorBody,
  409: ErrorBody,
  413: ErrorBody,
  414: ErrorBody,
  415: ErrorBody,
  429: ErrorBody,
  500: ErrorBody,
  503: ErrorBody,
};

export const customerRoutes: FastifyPluginAsyncTypebox<{ erasure: CustomerErasure }> = async (app, { erasure }) => {
  app.post(
    '/customers/:customerId/erasure',
    {
      schema: {
        summary: "Erase a customer's personal data from their ended orders",
        description:
          'Replaces the recipient name, address lines, messages and free-text reasons of every COMPLETED, ' +
          'CANCELLED or ARCHIVED order of the customer (the order, its history, its events in the outbox) with ' +
          '"[erased]", keeps amounts, items, dates and statuses, audits the request and publishes ' +
          'CustomerDataErased per order. Idempotent: a repeat answers the same result (200). 409 ' +
          'CUSTOMER_HAS_OPEN_ORDERS, naming them, while the customer has an order that has not ended.',
        params: CustomerParams,
        response: { 200: ErasureResult, ...errors },
        security: [{ bearer: [] }],
      },
      config: { scope: 'orders:manage' },
      // Ids are compared and stored in lowercase, whatever case the caller used.
      preValidation: async (request) => {
        const params = request.params as { customerId?: unknown };
        if (typeof params.customerId === 'string') params.customerId = params.customerId.toLowerCase();
      },
    },
    async (request) => {
      const { customerId } = request.params;
      const result = await erasure.eraseCustomerData(customerId, request.caller ?? 'anonymous');
      request.log.info(
        { customerId, erasureId: result.erasureId, orders: result.orderIds.length },
        'customer data erased',
      );
      return result;
    },
  );
};
