// What the order service does with each command, whichever door it came in by (HTTP or Kafka):
// check it against the order rules and the database, hand it to the order's workflow, and wait
// (bounded) for the workflow to answer with the committed order.
import type { CreateOrder, Order } from '../contracts/schemas.js';
import type { Database } from '../db/index.js';
import {
  findEventsOfOrder,
  findOrder,
  findOrderByCart,
  findStatusHistory,
  listOrders,
} from '../db/orders-repository.js';
import { decideTransition, forbiddenMessage, type TransitionRequest } from '../domain/lifecycle.js';
import { ErrorCode, OrderError, sameOrderRequest, validateCreateOrder } from '../domain/order.js';
import { orderIdForCart } from '../ids.js';
import type { OrderWorkflowClient } from '../temporal/client.js';

export type CreateOrderOutcome =
  /** The order is committed: `created` is false when the command had been seen before. */
  | { kind: 'committed'; order: Order; created: boolean }
  /** The workflow has the command but the order was not committed within the wait. */
  | { kind: 'accepted'; orderId: string };

export type TransitionOutcome =
  /** The order is where the transition leads; `changed` is false when it already was. */
  | { kind: 'done'; order: Order; changed: boolean }
  /** The workflow did not answer within the wait; the transition may still be carried out. */
  | { kind: 'accepted'; order: Order };

export interface OrderServiceOptions {
  db: Database;
  workflows: OrderWorkflowClient;
  createTimeoutMs: number;
  transitionWaitMs: number;
}

export function createOrderService({ db, workflows, createTimeoutMs, transitionWaitMs }: OrderServiceOptions) {
  // Identical creates arriving together share one trip to Temporal: a workflow takes only a
  // few updates in flight at once, and one is all the order needs.
  const creating = new Map<string, { command: CreateOrder; outcome: Promise<CreateOrderOutcome> }>();

  async function requireOrder(orderId: string): Promise<Order> {
    const order = await findOrder(db, orderId);
    if (order === null) throw new OrderError(ErrorCode.ORDER_NOT_FOUND, `order ${orderId} does not exist`);
    return order;
  }

  /** The answer the database gives for a transition: done already, or refused. */
  function decideFromDatabase(order: Order, request: TransitionRequest): TransitionOutcome | undefined {
    const decision = decideTransition(order.status, request.command);
    if (decision.kind === 'already') return { kind: 'done', order, changed: false };
    if (decision.kind === 'forbidden') {
      throw new OrderError(
        ErrorCode.TRANSITION_NOT_ALLOWED,
        forbiddenMessage(order.orderId, order.status, request.command),
      );
    }
    return undefined;
  }

  return {
    /** `actor` says who asked, for the order's status history. */
    async createOrder(input: CreateOrder, actor: string): Promise<CreateOrderOutcome> {
      const command = normalizeCreateOrder(input);
      const violations = validateCreateOrder(command);
      if (violations.length > 0) {
        throw new OrderError(ErrorCode.VALIDATION_FAILED, 'the order breaks the order rules', violations);
      }
      // A cart that already has an order answers from the database, without Temporal.
      const existing = await findOrderByCart(db, command.cartId);
      if (existing !== null) {
        if (!repeatsCreation(existing, command)) {
          throw new OrderError(
            ErrorCode.ORDER_CONFLICT,
            `cart ${command.cartId} already has order ${existing.orderId} with different contents`,
          );
        }
        return { kind: 'committed', order: existing, created: false };
      }
      const inFlight = creating.get(command.cartId);
      if (inFlight !== undefined && sameOrderRequest(inFlight.command, command)) {
        const outcome = await inFlight.outcome;
        return outcome.kind === 'committed' ? { ...outcome, created: false } : outcome;
      }
      const orderId = orderIdForCart(command.cartId);
      const outcome = workflows
        .startOrder(orderId, command, actor, createTimeoutMs)
        .then(
          (result): CreateOrderOutcome =>
            result === undefined
              ? { kind: 'accepted', orderId }
              : { kind: 'committed', order: result.order, created: result.created },
        );
      if (inFlight === undefined) {
        creating.set(command.cartId, { command, outcome });
        void outcome.finally(() => creating.delete(command.cartId)).catch(() => undefined);
      }
      return outcome;
    },

    getOrder: requireOrder,

    /** One page of orders, newest first, and the cursor of the next page (null on the last one). */
    async listOrders(query: OrderListQuery): Promise<{ orders: Order[]; nextCursor: string | null }> {
      const { cursor, limit, ...filter } = query;
      // PostgreSQL gets UTC only: it refuses offsets of ±16:00 and beyond, which RFC 3339 allows.
      for (const field of ['createdFrom', 'createdTo'] as const) {
        const value = filter[field];
        if (value === undefined) continue;
        const instant = utcInstant(value);
        if (instant === undefined) {
          throw new OrderError(ErrorCode.VALIDATION_FAILED, `${field} is out of range`, [
            { field: `querystring/${field}`, code: 'OUT_OF_RANGE', message: 'must be between years 1970 and 9999' },
          ]);
        }
        filter[field] = instant;
      }
      const after = cursor === undefined ? undefined : decodeCursor(cursor);
      // Every archived order is ARCHIVED: no other status is worth a walk through the archive.
      if (filter.archived === true && filter.status !== undefined && filter.status !== 'ARCHIVED') {
        return { orders: [], nextCursor: null };
      }
      // One more than asked tells whether another page follows.
      const orders = await listOrders(db, { ...filter, ...(after && { after }), limit: limit + 1 });
      const page = orders.slice(0, limit);
      const last = page.at(-1);
      const nextCursor = orders.length > limit && last !== undefined ? encodeCursor(last) : null;
      return { orders: page, nextCursor };
    },

    async getOrderEvents(orderId: string) {
      await requireOrder(orderId);
      return findEventsOfOrder(db, orderId);
    },

    async getOrderHistory(orderId: string) {
      await requireOrder(orderId);
      return findStatusHistory(db, orderId);
    },

    /**
     * Hands the transition to the order's workflow as an Update and waits for its answer: the
     * committed order, or the reason it is refused. The database answers first what it can
     * (no such order, already there, not allowed), without a trip to Temporal.
     */
    async transitionOrder(orderId: string, request: TransitionRequest, actor: string): Promise<TransitionOutcome> {
      const order = await requireOrder(orderId);
      const known = decideFromDatabase(order, request);
      if (known !== undefined) return known;

      const outcome = await workflows.transition(orderId, request, actor, transitionWaitMs);
      if (outcome.kind === 'done')
        return { kind: 'done', order: outcome.result.order, changed: outcome.result.changed };
      const now = await requireOrder(orderId);
      if (outcome.kind === 'pending') return { kind: 'accepted', order: now };
      // The run ended meanwhile (the order reached a final status), or an operator ended it.
      const settled = decideFromDatabase(now, request);
      if (settled !== undefined) return settled;
      throw new OrderError(
        ErrorCode.ORDER_NOT_ACTIVE,
        `order ${orderId} has no running workflow to change it; POST /orders/${orderId}/resume brings one back`,
      );
    },

    /**
     * Starts a new run of the order's workflow from what PostgreSQL holds (status, history,
     * unpublished events), for an order whose run was terminated, reset badly or failed.
     */
    async resumeOrder(orderId: string, actor: string): Promise<Order> {
      const order = await requireOrder(orderId);
      if (!(await workflows.resume(orderId, toCommand(order), order.status, actor))) {
        throw new OrderError(ErrorCode.ORDER_WORKFLOW_RUNNING, `order ${orderId} already has a running workflow`);
      }
      return order;
    },
  };
}

export type OrderService = ReturnType<typeof createOrderService>;

export interface OrderListQuery {
  customerId?: string;
  status?: Order['status'];
  createdFrom?: string;
  createdTo?: string;
  holdOverdue?: boolean;
  /** Archived orders only (the archive tables); otherwise the hot table's orders. */
  archived?: boolean;
  cursor?: string;
  limit: number;
}

/** An RFC 3339 date-time as the OpenAPI `date-time` format admits it: `T` or a space, any fraction, `Z` or an offset. */
const RFC_3339_DATE_TIME =
  /^(\d{4}-\d{2}-\d{2})[Tt\s](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2})(?::?(\d{2}))?)$/;

/**
 * The instant `value` names, in UTC to the millisecond (`2026-01-01T00:00:00.000Z`), or undefined
 * when it is no RFC 3339 date-time or falls outside years 1970 to 9999 (what PostgreSQL stores and
 * JavaScript dates round-trip). A leap second (23:59:60) is the second after 23:59:59, as
 * PostgreSQL reads it. A finer fraction rounds up to the next millisecond: createdAt is stored to
 * the millisecond, so the bound selects the same orders.
 */
function utcInstant(value: string): string | undefined {
  const match = RFC_3339_DATE_TIME.exec(value);
  if (match === null) return undefined;
  const [, date, hours, minutes, seconds, fraction = '', sign, offsetHours = '0', offsetMinutes = '0'] = match;
  const leapSecond = seconds === '60';
  const local = Date.parse(`${date}T${hours}:${minutes}:${leapSecond ? '59' : seconds}Z`);
  // Date.parse rolls 2026-02-30 over into March; the schema refuses it, and so does this.
  if (Number.isNaN(local) || new Date(local).toISOString().slice(0, 10) !== date) return undefined;
  const milliseconds = Number(fraction.slice(0, 3).padEnd(3, '0')) + (/[1-9]/.test(fraction.slice(3)) ? 1 : 0);
  const offset = (sign === '-' ? -1 : 1) * (Number(offsetHours) * 60 + Number(offsetMinutes)) * 60_000;
  const time = local + (leapSecond ? 1000 : 0) + milliseconds - offset;
  if (time < 0 || time >= Date.UTC(10_000, 0, 1)) return undefined;
  return new Date(time).toISOString();
}

/** Opaque to callers: the keyset position after which the next page starts. */
function encodeCursor(order: Order): string {
  return Buffer.from(JSON.stringify([order.createdAt, order.orderId])).toString('base64url');
}

function decodeCursor(cursor: string): { createdAt: string; orderId: string } {
  try {
    const [createdAt, orderId] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    // A forged cursor's time reaches PostgreSQL as UTC too, or not at all.
    const after = typeof createdAt === 'string' ? utcInstant(createdAt) : undefined;
    if (
      after !== undefined &&
      typeof orderId === 'string' &&
      /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(orderId)
    ) {
      return { createdAt: after, orderId };
    }
  } catch {
    // falls through to the error below
  }
  throw new OrderError(ErrorCode.VALIDATION_FAILED, 'the cursor is not one this service issued', [
    { field: 'querystring/cursor', code: 'INVALID_CURSOR', message: 'pass back nextCursor unchanged' },
  ]);
}

/** Ids are compared and stored in lowercase, whatever case the caller used. */
function normalizeCreateOrder(command: CreateOrder): CreateOrder {
  return {
    ...command,
    cartId: command.cartId.toLowerCase(),
    customerId: command.customerId.toLowerCase(),
    items: command.items.map((item) => ({ ...item, productId: item.productId.toLowerCase() })),
  };
}

/** The CreateOrder an order stands for now (a resumed run is started from it). */
export function toCommand(order: Order): CreateOrder {
  return {
    cartId: order.cartId,
    customerId: order.customerId,
    items: order.items,
    total: order.total,
    currency: order.currency,
    ...(order.paymentAuthorizationId === null ? {} : { paymentAuthorizationId: order.paymentAuthorizationId }),
    ...(order.deliveryAddress === null ? {} : { deliveryAddress: order.deliveryAddress }),
    ...(order.deliveryMethod === null ? {} : { deliveryMethod: order.deliveryMethod }),
  };
}

/**
 * Whether `command` repeats the CreateOrder the order was made from. Once amended (items,
 * method, address), the order no longer shows what its creation asked for: a repeat is then
 * recognised by its customer and currency only (the cart is the same by construction).
 */
function repeatsCreation(order: Order, command: CreateOrder): boolean {
  const changed = order.revision > 1 || order.addressRevision > 1;
  if (!changed) return sameOrderRequest(toCommand(order), command);
  return order.customerId === command.customerId.toLowerCase() && order.currency === command.currency;
}
