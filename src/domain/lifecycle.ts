// The order lifecycle: the one table of statuses and the commands that move an order between
// them. The workflow, the API, the Kafka command handler, the repository, the AsyncAPI
// generator, the fault checker and the benchmark all derive from it; a new status or command
// is a row here (and a migration for its column and CHECK), not a change in ten places.
// Pure: no I/O, no Node modules, no TypeBox or Ajv, so the workflow sandbox runs it as is.
import type { Order, OrderEventType } from '../contracts/schemas.js';
import { checkPayload, type PayloadSchema, type PayloadViolation } from './payload-check.js';

export const ORDER_STATUSES = ['CREATED', 'COMPLETED', 'CANCELLED'] as const;
export type OrderStatus = (typeof ORDER_STATUSES)[number];

export const CANCELLATION_REASONS = ['CUSTOMER_REQUESTED', 'PAYMENT_FAILED', 'OUT_OF_STOCK', 'FRAUD'] as const;
export type CancellationReason = (typeof CANCELLATION_REASONS)[number];

/** The payload each command takes (its JSON Schema is the row's `payloadSchema`). */
export interface CommandPayloads {
  complete: Record<string, never>;
  cancel: { reason: CancellationReason };
}
export type CommandName = keyof CommandPayloads;

export interface CommandDefinition<Name extends CommandName = CommandName> {
  name: Name;
  /** One line for the OpenAPI and AsyncAPI documents and the README. */
  summary: string;
  /** Its `ce_type` on ordering.commands, where its payload comes with an `orderId`. */
  commandType: string;
  /** Description of the Kafka command (the catalog's, for CancelOrder). */
  commandDescription: string;
  payloadSchema: PayloadSchema;
  /** The statuses it may be applied in. */
  from: readonly OrderStatus[];
  to: OrderStatus;
  /** The events its transition emits, in this order, each with the transition's sequence. */
  events: readonly OrderEventType[];
  /** The order's fields (besides status and updatedAt) that the transition sets. */
  stamp(order: Order, payload: CommandPayloads[Name], at: string): Partial<Order>;
  /** The reason kept in the order's status history. */
  reasonOf(payload: CommandPayloads[Name]): string | null;
}

type Lifecycle = { readonly [Name in CommandName]: CommandDefinition<Name> };

export const LIFECYCLE: Lifecycle = {
  complete: {
    name: 'complete',
    summary: 'Complete an order once it has been fulfilled',
    commandType: 'CompleteOrder',
    commandDescription: 'Command to complete an existing order once it has been fulfilled',
    payloadSchema: { type: 'object', properties: {}, additionalProperties: false },
    from: ['CREATED'],
    to: 'COMPLETED',
    events: ['OrderCompleted'],
    stamp: (_order, _payload, at) => ({ completedAt: at }),
    reasonOf: () => null,
  },
  cancel: {
    name: 'cancel',
    summary: 'Cancel an existing order',
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
    from: ['CREATED'],
    to: 'CANCELLED',
    events: ['OrderCancelled'],
    stamp: (_order, payload, at) => ({ cancelledAt: at, cancellationReason: payload.reason }),
    reasonOf: (payload) => payload.reason,
  },
};

export const COMMAND_NAMES = Object.keys(LIFECYCLE) as CommandName[];

export function isCommandName(name: unknown): name is CommandName {
  return typeof name === 'string' && Object.hasOwn(LIFECYCLE, name);
}

/** The commands allowed in a status. */
export function commandsFrom(status: OrderStatus): CommandName[] {
  return COMMAND_NAMES.filter((name) => LIFECYCLE[name].from.includes(status));
}

/** A status no command leaves: the order's workflow ends there. */
export function isTerminal(status: OrderStatus): boolean {
  return commandsFrom(status).length === 0;
}

export const TERMINAL_STATUSES = ORDER_STATUSES.filter(isTerminal);

/** The events any transition into a terminal status emits. */
export const TERMINAL_EVENT_TYPES = COMMAND_NAMES.filter((name) => isTerminal(LIFECYCLE[name].to)).flatMap(
  (name) => LIFECYCLE[name].events,
);

export type TransitionDecision =
  | { kind: 'apply'; to: OrderStatus }
  /** The order is already where the command leads and may not take it again: repeating it is a no-op. */
  | { kind: 'already' }
  | { kind: 'forbidden'; from: OrderStatus };

export function decideTransition(from: OrderStatus, command: CommandName): TransitionDecision {
  const definition = LIFECYCLE[command];
  if (definition.from.includes(from)) return { kind: 'apply', to: definition.to };
  if (from === definition.to) return { kind: 'already' };
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

/** The order after the transition, at `at` (ISO time). The caller has decided it applies. */
export function applyTransition(order: Order, request: TransitionRequest, at: string): Order {
  const definition = LIFECYCLE[request.command] as CommandDefinition;
  return {
    ...order,
    ...definition.stamp(order, request.payload as never, at),
    status: definition.to,
    updatedAt: at,
  };
}

/** The reason a transition records in the status history. */
export function reasonOf(request: TransitionRequest): string | null {
  return (LIFECYCLE[request.command] as CommandDefinition).reasonOf(request.payload as never);
}
