// The edge: domain error codes and framework errors become HTTP statuses and JSON bodies here,
// and nowhere else. A 5xx body never carries internals; the log gets the error instead.

import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { ErrorObject } from 'ajv';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorBody } from '../contracts/schemas.js';
import { violationsOf } from '../contracts/validation.js';
import { type ErasureErrorCode, ErasureRefused } from '../domain/customer-erasure.js';
import { type ErrorCode, OrderError } from '../domain/order.js';
import { isUnavailable } from '../unavailable.js';

const STATUS_OF_CODE: Record<ErrorCode, number> = {
  VALIDATION_FAILED: 400,
  ORDER_NOT_FOUND: 404,
  ORDER_CONFLICT: 409,
  TRANSITION_NOT_ALLOWED: 409,
  ORDER_NOT_ACTIVE: 409,
  ORDER_WORKFLOW_RUNNING: 409,
  ORDER_BUSY: 429,
};

const STATUS_OF_ERASURE_CODE: Record<ErasureErrorCode, number> = {
  CUSTOMER_HAS_OPEN_ORDERS: 409,
};

/** Fastify's own client errors, by their code, as our stable codes. */
const FRAMEWORK_ERRORS: Record<string, { status: number; code: string }> = {
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'INVALID_CONTENT_LENGTH' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'BODY_TOO_LARGE' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'EMPTY_BODY' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'MALFORMED_JSON' },
  FST_ERR_BAD_URL: { status: 400, code: 'BAD_URL' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: 'URI_TOO_LONG' },
};

function body(code: string, message: string, details: ErrorBody['details'] = []): ErrorBody {
  return { code, message, details };
}

/**
 * A request no route serves: 405 with `Allow` when routes answer the path with other methods
 * (`allowedMethods`), 404 when none has the path.
 */
export function sendRouteMiss(request: FastifyRequest, reply: FastifyReply, allowedMethods: readonly string[]) {
  if (allowedMethods.length === 0 || allowedMethods.includes(request.method)) {
    return reply.status(404).send(body('ROUTE_NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`));
  }
  const allow = allowedMethods.join(', ');
  return reply
    .status(405)
    .header('allow', allow)
    .send(body('METHOD_NOT_ALLOWED', `${request.method} is not allowed here; this route allows ${allow}`));
}

/**
 * What Node's HTTP parser refuses before any route sees the request, in our error body instead
 * of Fastify's: a request line and headers over Node's limit (16 KB) is 431, a request that is
 * not HTTP 400, a client too slow to send it 408. A reset connection gets nothing.
 */
export function sendClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, answer] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, body('HEADERS_TOO_LARGE', 'the request line and headers are over the 16 KB limit')]
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, body('REQUEST_TIMEOUT', 'the request did not arrive in time')]
        : [400, body('BAD_REQUEST', 'the request is not valid HTTP')];
  const json = JSON.stringify(answer);
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(json)}\r\n` +
        `Content-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${json}`,
    );
  }
  socket.destroy(error);
}

export function sendError(error: unknown, request: FastifyRequest, reply: FastifyReply) {
  if (error instanceof OrderError) {
    // A busy order is free again within a second or two (its transitions take milliseconds each).
    if (error.code === 'ORDER_BUSY') reply.header('retry-after', '1');
    return reply.status(STATUS_OF_CODE[error.code]).send(body(error.code, error.message, error.details));
  }
  if (error instanceof ErasureRefused) {
    const details = error.openOrders.map((order) => ({
      field: `/orders/${order.orderId}`,
      code: 'ORDER_OPEN',
      message: `order ${order.orderId} is ${order.status}`,
    }));
    return reply.status(STATUS_OF_ERASURE_CODE[error.code]).send(body(error.code, error.message, details));
  }
  if (!(error instanceof Error)) {
    request.log.error({ thrown: error }, 'request failed with a non-error');
    return reply.status(500).send(body('INTERNAL_ERROR', 'the order service failed to handle the request'));
  }
  const fastifyError = error as FastifyError;
  if (fastifyError.validation !== undefined) {
    const details = violationsOf(fastifyError.validation as ErrorObject[], fastifyError.validationContext ?? 'body');
    return reply.status(400).send(body('VALIDATION_FAILED', 'the request does not match its schema', details));
  }
  const known = fastifyError.code === undefined ? undefined : FRAMEWORK_ERRORS[fastifyError.code];
  if (known !== undefined) {
    // Fastify's messages may quote the request back (a whole URL); ours say what is wrong.
    const message = known.status === 414 ? 'a path parameter is too long' : fastifyError.message.slice(0, 200);
    return reply.status(known.status).send(body(known.code, message));
  }
  if (error instanceof SyntaxError) return reply.status(400).send(body('MALFORMED_JSON', 'the body is not valid JSON'));
  if (fastifyError.statusCode === 429) return reply.status(429).send(body('RATE_LIMITED', fastifyError.message));
  if (fastifyError.statusCode !== undefined && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return reply.status(fastifyError.statusCode).send(body('BAD_REQUEST', fastifyError.message));
  }
  if (isUnavailable(error)) {
    request.log.warn({ err: error }, 'dependency unavailable');
    return reply
      .status(503)
      .header('retry-after', '1')
      .send(body('SERVICE_UNAVAILABLE', 'a dependency of the order service is unavailable; retry shortly'));
  }
  request.log.error({ err: error }, 'request failed');
  return reply.status(500).send(body('INTERNAL_ERROR', 'the order service failed to handle the request'));
}
