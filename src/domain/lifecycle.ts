// The order lifecycle: the one table of statuses and the commands that move an order between
// them (the catalog's head AsyncAPI). The workflow, the API, the Kafka command handler, the
// repository, the AsyncAPI generator, the fault checker and the benchmark all derive from it;
// a new status or command is a row here (and a migration for its column and CHECK), not a
// change in ten places.
// Pure: no I/O, no Node modules, no TypeBox or Ajv, so the workflow sandbox runs it as is. The
// wire schemas (src/contracts/schemas.ts) take its enums and payload schemas; the domain imports
// nothing from them.
import { duplicateProducts, itemsTotal, MAX_DB_INTEGER, MAX_ITEMS_PER_ORDER } from './order.js';
import { checkPayload, type PayloadSchema, type PayloadViolation } from './payload-check.js';
import type { DeliveryAddress, Order, OrderEventType, OrderItem } from './types.js';

export const ORDER_STATUSES = [
  'CREATED',
  'CONFIRMED',
  'ON_HOLD',
  'AWAITING_FULFILMENT',
  'FULFILLING',
  'COMPLETED',
  'CANCELLED',
  'ARCHIVED',
] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

/** Where an order's lifecycle ends before its archival; the archive records which. */
export const ENDED_STATUSES = ['COMPLETED', 'CANCELLED'] as const;
export type EndedStatus = (typeof ENDED_STATUSES)[number];

export const CANCELLATION_REASONS = ['CUSTOMER_REQUESTED', 'PAYMENT_FAILED', 'OUT_OF_STOCK', 'FRAUD'] as const;
export type CancellationReason = (typeof CANCELLATION_REASONS)[number];
export const HOLD_REASONS = ['PAYMENT_REVIEW', 'FRAUD_REVIEW', 'ADDRESS_VERIFICATION', 'INVENTORY_RECHECK'] as const;
export type HoldReason = (typeof HOLD_REASONS)[number];
export const RELEASE_TARGETS = ['CONFIRMED', 'AWAITING_FULFILMENT'] as const;
export type ReleaseTarget = (typeof RELEASE_TARGETS)[number];
export const FULFILMENT_PRIORITIES = ['STANDARD', 'EXPEDITED', 'SAME_DAY'] as const;
export type FulfilmentPriority = (typeof FULFILMENT_PRIORITIES)[number];
export const DELIVERY_METHODS = ['HOME_DELIVERY', 'CLICK_AND_COLLECT'] as const;
export type DeliveryMethod = (typeof DELIVERY_METHODS)[number];
export const RETENTION_CATEGORIES = ['STANDARD', 'FINANCIAL_RECORD', 'LEGAL_HOLD'] as const;
export type RetentionCategory = (typeof RETENTION_CATEGORIES)[number];

/** ISO 3166-1 alpha-2, as the catalog's delivery address has it. */
export const COUNTRY_CODE_PATTERN = '^[A-Z]{2}$';
const NO_CONTROL = '^[^\\u0000-\\u001F\\u007F-\\u009F]*$';

const text = (maxLength: number, description: string): PayloadSchema => ({
  type: 'string',
  minLength: 1,
  maxLength,
  pattern: NO_CONTROL,
  description,
});

/** An order line, as CreateOrder has it. */
export const ORDER_ITEM_SCHEMA: PayloadSchema = {
  type: 'object',
  properties: {
    productId: { type: 'string', format: 'uuid' },
    quantity: { type: 'integer', minimum: 1, maximum: MAX_DB_INTEGER },
    unitPrice: {
      type: 'integer',
      minimum: 0,
      maximum: MAX_DB_INTEGER,
      description: 'Price per unit in minor units (e.g. cents)',
    },
  },
  required: ['productId', 'quantity', 'unitPrice'],
  additionalProperties: false,
};

/** The catalog's delivery address (OrderDeliveryAddressChanged). */
export const DELIVERY_ADDRESS_SCHEMA: PayloadSchema = {
  type: 'object',
  properties: {
    recipientName: text(200, 'Who receives the parcel'),
    line1: text(200, 'First address line'),
    line2: text(200, 'Second address line'),
    city: text(100, 'City'),
    postalCode: text(20, 'Postal code'),
    countryCode: { type: 'string', pattern: COUNTRY_CODE_PATTERN, description: 'ISO 3166-1 alpha-2 country code' },
  },
  required: ['recipientName', 'line1', 'city', 'postalCode', 'countryCode'],
  additionalProperties: false,
};

/** The payload each command takes (its JSON Schema is the row's `payloadSchema`). */
export interface CommandPayloads {
  confirm: { inventoryReservationId?: string };
  releaseToFulfilment: Record<string, never>;
  hold: { reason: HoldReason; ownerTeam: string; customerMessage?: string; reviewBy: string };
  release: { resolution: string; nextStatus: ReleaseTarget };
  startFulfilment: {
    warehouseId: string;
    priority: FulfilmentPriority;
    deliveryMethod: DeliveryMethod;
    estimatedDispatchAt?: string;
  };
  complete: Record<string, never>;
  cancel: { reason: CancellationReason };
  amend: { items?: OrderItem[]; deliveryMethod?: DeliveryMethod; promotionCode?: string; reason?: string };
  changeDeliveryAddress: { deliveryAddress: DeliveryAddress };
  archive: Record<string, never>;
}
export type CommandName = keyof CommandPayloads;

/** What the activity supplies to a transition besides the order and the payload. */
export interface TransitionContext {
  /** ISO time of the transition. */
  at: string;
  /** The transition's sequence in the order's history (0 is its creation). */
  sequence: number;
  /** Who asked, as the status history records it. */
  actor: string;
  /** A new id, the same on every retry of the transition (derived from order, sequence and kind). */
  idFor(kind: 'hold' | 'fulfilment' | 'archive'): string;
  /** `ORD-` + 8 digits, from the database, when the row `needs` one. */
  confirmationNumber: string | null;
  /** SHA-256 of the order's canonical record with items and history, when the row `needs` one. */
  recordChecksum: string | null;
}

export type ContextNeed = 'confirmationNumber' | 'recordChecksum';

export interface HttpRoute {
  method: 'POST' | 'PATCH' | 'PUT';
  /** After /orders/{orderId}; empty for the order itself. */
  path: string;
}

export interface CommandDefinition<Name extends CommandName = CommandName> {
  name: Name;
  /** One line for the OpenAPI and AsyncAPI documents and the README. */
  summary: string;
  /** How callers reach it: an HTTP route and a `ce_type` on ordering.commands; none for the service's own (deadlines, the archive sweep). */
  http: HttpRoute | null;
  /** Its `ce_type` on ordering.commands, where its payload comes with an `orderId`. */
  commandType: string | null;
  /** Description of the Kafka command (the catalog's, for CancelOrder). */
  commandDescription: string;
  payloadSchema: PayloadSchema;
  /** The statuses it may be applied in. */
  from: readonly OrderStatus[];
  /** Where it leads; `from` itself for a change that keeps the status (amend, address). */
  to(payload: CommandPayloads[Name], from: OrderStatus): OrderStatus;
  /** Every status `to` can answer, for documents and checks. */
  targets: readonly OrderStatus[] | 'unchanged';
  /** A repeat when the order is already where it leads is a no-op (200), not a 409. */
  repeatable: boolean;
  /** The events its transition emits, in this order (OrderStatusChanged is added after them when the status changes). */
  events: readonly OrderEventType[];
  /** Those of `events` a transition from `before` does not emit. */
  omits?(before: Order, payload: CommandPayloads[Name]): OrderEventType[];
  /** Rules its JSON Schema cannot say, against the order as it is. */
  check?(order: Order, payload: CommandPayloads[Name]): PayloadViolation[];
  /** What the activity must fetch before applying it. */
  needs?(order: Order, payload: CommandPayloads[Name]): ContextNeed[];
  /** The order's fields (besides status and updatedAt) that the transition sets. */
  stamp(order: Order, payload: CommandPayloads[Name], context: TransitionContext): Partial<Order>;
  /** The reason kept in the order's status history (and OrderStatusChanged's changeReason). */
  reasonOf(payload: CommandPayloads[Name]): string | null;
}

type Lifecycle = { readonly [Name in CommandName]: CommandDefinition<Name> };

const NO_PAYLOAD: PayloadSchema = { type: 'object', properties: {}, additionalProperties: false };
const BEFORE_FULFILMENT: readonly OrderStatus[] = ['CREATED', 'CONFIRMED', 'ON_HOLD', 'AWAITING_FULFILMENT'];
const stay = (_payload: unknown, from: OrderStatus) => from;

/** An order confirmed now gets its confirmation number and time. */
const confirmation = (order: Order, context: TransitionContext, inventoryReservationId?: string): Partial<Order> =>
  order.confirmationNumber !== null
    ? {}
    : {
        confirmationNumber: context.confirmationNumber,
        confirmedAt: context.at,
        inventoryReservationId: inventoryReservationId ?? order.inventoryReservationId,
      };

export const LIFECYCLE: Lifecycle = {
  confirm: {
    name: 'confirm',
    summary: 'Confirm an order: it gets its confirmation number and can be fulfilled',
    http: { method: 'POST', path: '/confirm' },
    commandType: 'ConfirmOrder',
    commandDescription: 'Command to confirm an order once its payment and stock are secured',
    payloadSchema: {
      type: 'object',
      properties: { inventoryReservationId: text(200, 'The inventory reservation made for the order') },
      additionalProperties: false,
    },
    from: ['CREATED'],
    to: () => 'CONFIRMED',
    targets: ['CONFIRMED'],
    repeatable: true,
    events: ['OrderConfirmed'],
    needs: () => ['confirmationNumber'],
    stamp: (order, payload, context) => confirmation(order, context, payload.inventoryReservationId),
    reasonOf: () => null,
  },
  releaseToFulfilment: {
    name: 'releaseToFulfilment',
    summary: 'Close the amendment window early: the order awaits fulfilment',
    http: { method: 'POST', path: '/release-to-fulfilment' },
    commandType: 'ReleaseOrderToFulfilment',
    commandDescription: 'Command to close the amendment window of a confirmed order early',
    payloadSchema: NO_PAYLOAD,
    from: ['CONFIRMED'],
    to: () => 'AWAITING_FULFILMENT',
    targets: ['AWAITING_FULFILMENT'],
    repeatable: true,
    events: [],
    stamp: () => ({}),
    reasonOf: () => null,
  },
  hold: {
    name: 'hold',
    summary: 'Put an order on hold for review by a team, until a deadline',
    http: { method: 'POST', path: '/hold' },
    commandType: 'PlaceOrderOnHold',
    commandDescription: 'Command to pause an order for operational review',
    payloadSchema: {
      type: 'object',
      properties: {
        reason: { type: 'string', enum: HOLD_REASONS, description: 'Why the order is held' },
        ownerTeam: text(100, 'The team that reviews the hold'),
        customerMessage: text(280, 'What the customer is told'),
        reviewBy: { type: 'string', format: 'date-time', description: 'When the hold must have been reviewed' },
      },
      required: ['reason', 'ownerTeam', 'reviewBy'],
      additionalProperties: false,
    },
    from: ['CREATED', 'CONFIRMED', 'AWAITING_FULFILMENT'],
    to: () => 'ON_HOLD',
    targets: ['ON_HOLD'],
    repeatable: false,
    events: ['OrderPlacedOnHold'],
    stamp: (_order, payload, context) => ({
      hold: {
        holdId: context.idFor('hold'),
        reason: payload.reason,
        ownerTeam: payload.ownerTeam,
        customerMessage: payload.customerMessage ?? null,
        reviewBy: new Date(payload.reviewBy).toISOString(),
        placedAt: context.at,
        overdue: false,
      },
    }),
    reasonOf: (payload) => payload.reason,
  },
  release: {
    name: 'release',
    summary: 'Release a held order to CONFIRMED or AWAITING_FULFILMENT',
    http: { method: 'POST', path: '/release' },
    commandType: 'ReleaseOrderHold',
    commandDescription: 'Command to resolve the operational hold of an order',
    payloadSchema: {
      type: 'object',
      properties: {
        resolution: text(250, 'How the hold was resolved'),
        nextStatus: { type: 'string', enum: RELEASE_TARGETS, description: 'Where the order goes next' },
      },
      required: ['resolution', 'nextStatus'],
      additionalProperties: false,
    },
    from: ['ON_HOLD'],
    to: (payload) => payload.nextStatus,
    targets: RELEASE_TARGETS,
    repeatable: false,
    // An order held before it was confirmed is confirmed by its release.
    events: ['OrderHoldReleased', 'OrderConfirmed'],
    omits: (before) => (before.confirmationNumber === null ? [] : ['OrderConfirmed']),
    needs: (order) => (order.confirmationNumber === null ? ['confirmationNumber'] : []),
    stamp: (order, _payload, context) => ({ ...confirmation(order, context), hold: null }),
    reasonOf: (payload) => payload.resolution,
  },
  startFulfilment: {
    name: 'startFulfilment',
    summary: 'Hand the order to a warehouse for picking and packing',
    http: { method: 'POST', path: '/fulfilment' },
    commandType: 'StartFulfilment',
    commandDescription: 'Command to release an order to a warehouse for picking and packing',
    payloadSchema: {
      type: 'object',
      properties: {
        warehouseId: text(100, 'The warehouse that fulfils the order'),
        priority: { type: 'string', enum: FULFILMENT_PRIORITIES },
        deliveryMethod: { type: 'string', enum: DELIVERY_METHODS },
        estimatedDispatchAt: { type: 'string', format: 'date-time' },
      },
      required: ['warehouseId', 'priority', 'deliveryMethod'],
      additionalProperties: false,
    },
    from: ['AWAITING_FULFILMENT'],
    to: () => 'FULFILLING',
    targets: ['FULFILLING'],
    repeatable: true,
    events: ['OrderFulfilmentStarted'],
    stamp: (order, payload, context) => ({
      fulfilment: {
        fulfilmentId: context.idFor('fulfilment'),
        warehouseId: payload.warehouseId,
        priority: payload.priority,
        deliveryMethod: payload.deliveryMethod,
        estimatedDispatchAt:
          payload.estimatedDispatchAt === undefined ? null : new Date(payload.estimatedDispatchAt).toISOString(),
        itemCount: order.items.reduce((count, item) => count + item.quantity, 0),
        startedAt: context.at,
      },
      deliveryMethod: payload.deliveryMethod,
    }),
    reasonOf: () => null,
  },
  complete: {
    name: 'complete',
    summary: 'Complete an order once it has been fulfilled',
    http: { method: 'POST', path: '/complete' },
    commandType: 'CompleteOrder',
    commandDescription: 'Command to complete an existing order once it has been fulfilled',
    payloadSchema: NO_PAYLOAD,
    from: ['CREATED', 'CONFIRMED', 'AWAITING_FULFILMENT', 'FULFILLING'],
    to: () => 'COMPLETED',
    targets: ['COMPLETED'],
    repeatable: true,
    events: ['OrderCompleted'],
    stamp: (_order, _payload, context) => ({ completedAt: context.at }),
    reasonOf: () => null,
  },
  cancel: {
    name: 'cancel',
    summary: 'Cancel an existing order',
    http: { method: 'POST', path: '/cancel' },
    commandType: 'CancelOrder',
    commandDescription: 'Command to cancel an existing order',
    payloadSchema: {
      type: 'object',
      properties: {
        reason: { type: 'string', enum: CANCELLATION_REASONS, description: 'Why the order is being cancelled' },
      },
      required: ['reason'],
      additionalProperties: false,
    },
    from: BEFORE_FULFILMENT,
    to: () => 'CANCELLED',
    targets: ['CANCELLED'],
    repeatable: true,
    events: ['OrderCancelled'],
    stamp: (_order, payload, context) => ({ cancelledAt: context.at, cancellationReason: payload.reason, hold: null }),
    reasonOf: (payload) => payload.reason,
  },
  amend: {
    name: 'amend',
    summary: 'Amend an order before its amendment window closes: items, delivery method, promotion code',
    http: { method: 'PATCH', path: '' },
    commandType: 'AmendOrder',
    commandDescription: 'Command to change an accepted order before fulfilment',
    payloadSchema: {
      type: 'object',
      properties: {
        items: { type: 'array', items: ORDER_ITEM_SCHEMA, minItems: 1, maxItems: MAX_ITEMS_PER_ORDER },
        deliveryMethod: { type: 'string', enum: DELIVERY_METHODS },
        promotionCode: text(50, 'Promotion code applied to the order'),
        reason: text(250, 'Why the order is amended'),
      },
      additionalProperties: false,
    },
    from: ['CREATED', 'CONFIRMED'],
    to: stay,
    targets: 'unchanged',
    repeatable: false,
    events: ['OrderAmended'],
    check: (_order, payload) => amendmentViolations(payload),
    stamp: (order, payload) => ({
      revision: order.revision + 1,
      ...(payload.items !== undefined && {
        items: payload.items.map(({ productId, quantity, unitPrice }) => ({
          productId: productId.toLowerCase(),
          quantity,
          unitPrice,
        })),
        total: payload.items.reduce((sum, item) => sum + item.quantity * item.unitPrice, 0),
      }),
      ...(payload.deliveryMethod !== undefined && { deliveryMethod: payload.deliveryMethod }),
      ...(payload.promotionCode !== undefined && { promotionCode: payload.promotionCode }),
    }),
    reasonOf: (payload) => payload.reason ?? null,
  },
  changeDeliveryAddress: {
    name: 'changeDeliveryAddress',
    summary: 'Change the delivery address of an order before fulfilment starts',
    http: { method: 'PUT', path: '/delivery-address' },
    commandType: 'ChangeDeliveryAddress',
    commandDescription: 'Command to change the delivery address of an order before dispatch',
    payloadSchema: {
      type: 'object',
      properties: { deliveryAddress: DELIVERY_ADDRESS_SCHEMA },
      required: ['deliveryAddress'],
      additionalProperties: false,
    },
    from: BEFORE_FULFILMENT,
    to: stay,
    targets: 'unchanged',
    repeatable: false,
    events: ['OrderDeliveryAddressChanged'],
    stamp: (order, payload) => ({
      deliveryAddress: payload.deliveryAddress,
      addressRevision: order.addressRevision + 1,
    }),
    reasonOf: () => null,
  },
  archive: {
    name: 'archive',
    summary: 'Move a terminal order to long-term storage (the archive sweep does, ARCHIVE_AFTER_MS after it ended)',
    http: null,
    commandType: null,
    commandDescription: 'Archival of a terminal order',
    payloadSchema: NO_PAYLOAD,
    from: ENDED_STATUSES,
    to: () => 'ARCHIVED',
    targets: ['ARCHIVED'],
    repeatable: true,
    events: ['OrderArchived'],
    needs: () => ['recordChecksum'],
    stamp: (order, _payload, context) => {
      const terminalStatus = order.status === 'COMPLETED' ? 'COMPLETED' : 'CANCELLED';
      return {
        archive: {
          terminalStatus,
          terminalAt: (terminalStatus === 'COMPLETED' ? order.completedAt : order.cancelledAt) ?? order.updatedAt,
          retentionCategory: order.legalHold
            ? 'LEGAL_HOLD'
            : terminalStatus === 'COMPLETED'
              ? 'FINANCIAL_RECORD'
              : 'STANDARD',
          archiveReference: `archive/${order.createdAt.slice(0, 7)}/${context.idFor('archive')}`,
          recordChecksum: context.recordChecksum ?? '',
          archivedAt: context.at,
        },
      };
    },
    reasonOf: () => null,
  },
};

/** An amendment changes something, and its items follow the rules of CreateOrder. */
function amendmentViolations(payload: CommandPayloads['amend']): PayloadViolation[] {
  const violations: PayloadViolation[] = [];
  if (Object.keys(payload).filter((key) => key !== 'reason').length === 0) {
    violations.push({
      field: '/',
      code: 'NOTHING_TO_AMEND',
      message: 'an amendment changes at least one of items, deliveryMethod, promotionCode',
    });
  }
  const items = payload.items ?? [];
  violations.push(...duplicateProducts(items));
  const total = itemsTotal(items);
  if (total > BigInt(MAX_DB_INTEGER)) {
    violations.push({
      field: '/items',
      code: 'AMOUNT_TOO_LARGE',
      message: `the items add up to ${total}, more than the largest storable total ${MAX_DB_INTEGER}`,
    });
  }
  return violations;
}

export const COMMAND_NAMES = Object.keys(LIFECYCLE) as CommandName[];
/** The commands callers may send (HTTP, Kafka, Updates); the others are the workflow's own. */
export const PUBLIC_COMMAND_NAMES = COMMAND_NAMES.filter((name) => LIFECYCLE[name].http !== null);

export function isCommandName(name: unknown): name is CommandName {
  return typeof name === 'string' && Object.hasOwn(LIFECYCLE, name);
}

/** The commands allowed in a status (the workflow's own included when `all`). */
export function commandsFrom(status: OrderStatus, all = false): CommandName[] {
  return (all ? COMMAND_NAMES : PUBLIC_COMMAND_NAMES).filter((name) => LIFECYCLE[name].from.includes(status));
}

/** A status no caller's command leaves: COMPLETED, CANCELLED (the catalog's terminal statuses) and ARCHIVED. */
export function isTerminal(status: OrderStatus): boolean {
  return commandsFrom(status).length === 0;
}

/** A status nothing leaves, not even the workflow's archival: the order's workflow ends there. */
export function isFinal(status: OrderStatus): boolean {
  return commandsFrom(status, true).length === 0;
}

export const TERMINAL_STATUSES = ORDER_STATUSES.filter(isTerminal);

/** The statuses a command can lead to. */
export function targetsOf(name: CommandName): readonly OrderStatus[] {
  const { targets, from } = LIFECYCLE[name] as CommandDefinition;
  return targets === 'unchanged' ? from : targets;
}

/** Where a command with one target leads (complete: COMPLETED); the first of its targets otherwise. */
export function targetOf(name: CommandName): OrderStatus {
  return targetsOf(name)[0] as OrderStatus;
}

/** The events a public transition into a terminal status emits (OrderCompleted, OrderCancelled). */
export const TERMINAL_EVENT_TYPES: OrderEventType[] = ['OrderCompleted', 'OrderCancelled'];

export type TransitionDecision =
  | { kind: 'apply'; to: OrderStatus }
  /** The order is already where the command leads and may not take it again: repeating it is a no-op. */
  | { kind: 'already' }
  | { kind: 'forbidden'; from: OrderStatus };

/**
 * Whether `request` applies to an order in `from`. Its payload decides where a release leads;
 * given a command's name only, the decision names the command's first target.
 */
export function decideTransition(from: OrderStatus, request: TransitionRequest | CommandName): TransitionDecision {
  const name = typeof request === 'string' ? request : request.command;
  const definition = LIFECYCLE[name] as CommandDefinition;
  if (definition.from.includes(from)) {
    if (typeof request !== 'string') return { kind: 'apply', to: definition.to(request.payload as never, from) };
    return { kind: 'apply', to: definition.targets === 'unchanged' ? from : (definition.targets[0] as OrderStatus) };
  }
  if (definition.repeatable && definition.targets !== 'unchanged' && definition.targets.includes(from)) {
    return { kind: 'already' };
  }
  return { kind: 'forbidden', from };
}

/** Why a command is refused in a status, in words for the caller. */
export function forbiddenMessage(orderId: string, from: OrderStatus, command: CommandName): string {
  const allowed = commandsFrom(from);
  return `order ${orderId} is ${from}; it cannot ${command}${
    allowed.length === 0 ? ' (it is final)' : ` (allowed: ${allowed.join(', ')})`
  }`;
}

/** A transition asked of an order, whichever door it came in by. */
export type TransitionRequest = {
  [Name in CommandName]: { command: Name; payload: CommandPayloads[Name] };
}[CommandName];

/** Checks an untrusted command name and payload; the request, or every violation. */
export function decodeTransitionRequest(
  command: unknown,
  payload: unknown,
): { ok: true; request: TransitionRequest } | { ok: false; violations: PayloadViolation[] } {
  if (!isCommandName(command)) {
    return {
      ok: false,
      violations: [{ field: '/', code: 'UNKNOWN_COMMAND', message: `commands are ${COMMAND_NAMES.join(', ')}` }],
    };
  }
  const violations = checkPayload(LIFECYCLE[command].payloadSchema, payload);
  if (violations.length > 0) return { ok: false, violations };
  return { ok: true, request: { command, payload } as TransitionRequest };
}

/** The rules of the request against the order as it is (items of an amendment, …); empty when it may go on. */
export function transitionViolations(order: Order, request: TransitionRequest): PayloadViolation[] {
  const definition = LIFECYCLE[request.command] as CommandDefinition;
  return definition.check?.(order, request.payload as never) ?? [];
}

/** What the activity must fetch for the request. */
export function transitionNeeds(order: Order, request: TransitionRequest): ContextNeed[] {
  const definition = LIFECYCLE[request.command] as CommandDefinition;
  return definition.needs?.(order, request.payload as never) ?? [];
}

/** The order after the transition. The caller has decided it applies. */
export function applyTransition(order: Order, request: TransitionRequest, context: TransitionContext): Order {
  const definition = LIFECYCLE[request.command] as CommandDefinition;
  return {
    ...order,
    ...definition.stamp(order, request.payload as never, context),
    status: definition.to(request.payload as never, order.status),
    updatedAt: context.at,
  };
}

/** The events a transition from `before` to `after` emits: the row's, then OrderStatusChanged if the status changed. */
export function transitionEvents(before: Order, after: Order, request: TransitionRequest): OrderEventType[] {
  const definition = LIFECYCLE[request.command] as CommandDefinition;
  const omitted = definition.omits?.(before, request.payload as never) ?? [];
  const own = definition.events.filter((type) => !omitted.includes(type));
  return after.status === before.status ? own : [...own, 'OrderStatusChanged'];
}

/** Every event a command may emit: its own, and OrderStatusChanged when it changes the status. */
export function eventsOfCommand(name: CommandName): readonly OrderEventType[] {
  const definition = LIFECYCLE[name] as CommandDefinition;
  return definition.targets === 'unchanged' ? definition.events : [...definition.events, 'OrderStatusChanged'];
}

/** The reason a transition records in the status history. */
export function reasonOf(request: TransitionRequest): string | null {
  return (LIFECYCLE[request.command] as CommandDefinition).reasonOf(request.payload as never);
}

/** How long a status waits before its deadline (from the config of whoever started the order). */
export interface DeadlineDurations {
  /** How long a confirmed order may be amended before it awaits fulfilment (AMENDMENT_WINDOW_MS). */
  amendmentWindowMs: number;
  /** How long a completed or cancelled order waits before it is archived (ARCHIVE_AFTER_MS). */
  archiveAfterMs: number;
}

/** A deadline an order's workflow waits for; `summary` names its timer in the Temporal UI. */
export type Deadline =
  | { kind: 'amendment-window'; at: number; summary: 'amendment window closes' }
  | { kind: 'hold-review'; at: number; holdId: string; summary: 'hold review' }
  | { kind: 'archive'; at: number; summary: 'archival' };

/** When an ended order becomes due for archival: ARCHIVE_AFTER_MS after it completed or was cancelled. */
export function archiveDueAt(order: Order, archiveAfterMs: number): number {
  return Date.parse(order.completedAt ?? order.cancelledAt ?? order.updatedAt) + archiveAfterMs;
}

const endedDeadline = (order: Order, _since: string, durations: DeadlineDurations): Deadline => ({
  kind: 'archive',
  at: archiveDueAt(order, durations.archiveAfterMs),
  summary: 'archival',
});

/**
 * The deadline of each status that has one, a row per status like its transitions: the end of
 * the amendment window (from when the order became CONFIRMED; then it is released to
 * fulfilment), the review date of an open hold (then it is marked overdue), the archival of an
 * ended order. Times come from the order as committed, so a replay computes the same ones.
 */
export const STATUS_DEADLINES: Partial<
  Record<OrderStatus, (order: Order, statusSince: string, durations: DeadlineDurations) => Deadline | undefined>
> = {
  CONFIRMED: (_order, since, durations) => ({
    kind: 'amendment-window',
    at: Date.parse(since) + durations.amendmentWindowMs,
    summary: 'amendment window closes',
  }),
  ON_HOLD: (order) =>
    order.hold === null || order.hold.overdue
      ? undefined
      : { kind: 'hold-review', at: Date.parse(order.hold.reviewBy), holdId: order.hold.holdId, summary: 'hold review' },
  COMPLETED: endedDeadline,
  CANCELLED: endedDeadline,
};

/** The order's next deadline, if its status has one. */
export function deadlineOf(order: Order, statusSince: string, durations: DeadlineDurations): Deadline | undefined {
  return STATUS_DEADLINES[order.status]?.(order, statusSince, durations);
}
