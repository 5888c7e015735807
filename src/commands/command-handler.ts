// Commands over Kafka: each message of ordering.commands names its command in the `ce_type`
// header (CloudEvents binary mode) and carries it as JSON. It is checked against the schema of
// the HTTP route and handed to the same order-service call, so validation, idempotency and
// outcomes are the HTTP ones. A message that cannot be served is dead-lettered, as received,
// with headers saying why; an unavailable dependency is retried, the message left uncommitted.
// No kafkajs here: src/kafka/index.ts reads the messages and commits their offsets.
import { setTimeout as sleep } from 'node:timers/promises';
import type { TSchema } from '@sinclair/typebox';
import type { ValidateFunction } from 'ajv';
import { backoffDelays } from '../backoff.js';
import { COMMAND_MESSAGES, CreateOrder } from '../contracts/schemas.js';
import { createExactAjv, violationsOf } from '../contracts/validation.js';
import { type CommandName, LIFECYCLE, PUBLIC_COMMAND_NAMES, type TransitionRequest } from '../domain/lifecycle.js';
import { ErrorCode, OrderError, type Violation } from '../domain/order.js';
import { workflowIdForOrder } from '../ids.js';
import type { IncomingMessage, MessageContext, MessageHeaders, OutgoingMessage } from '../kafka/index.js';
import type { LogSink } from '../logger.js';
import type { OrderService } from '../orders/order-service.js';
import { isUnavailable } from '../unavailable.js';

/** The commands, by their `ce_type`, each with the schema its JSON payload must match: CreateOrder and the table's. */
const COMMAND_SCHEMAS: Record<string, TSchema> = { CreateOrder, ...COMMAND_MESSAGES };
export const COMMAND_TYPES = Object.keys(COMMAND_SCHEMAS);

/** The transition table's command of each `ce_type`. */
const TRANSITION_OF_TYPE = new Map<string, CommandName>(
  PUBLIC_COMMAND_NAMES.map((name) => [LIFECYCLE[name].commandType as string, name]),
);

export type Command = (
  | { type: 'CreateOrder'; payload: CreateOrder }
  | { type: string; orderId: string; request: TransitionRequest }
) & {
  /** Who asked, from the CloudEvents extension attribute `ce_actor`; the consumer group when absent. */
  actor?: string;
};

/** The `ce_actor` header: who asked, as the status history and the events (amendedBy, …) name them. */
export const ACTOR_HEADER = 'ce_actor';
const ACTOR = /^[\x21-\x7e][\x20-\x7e]{0,199}$/;

/** Stable codes of `dlq_reason`: the order service's error codes, plus what is wrong with the message itself. */
export const DeadLetterReason = {
  /** The value is not UTF-8 JSON (or there is no value). */
  MALFORMED_JSON: 'MALFORMED_JSON',
  /** The `ce_type` header is missing or names no command this service knows. */
  UNKNOWN_COMMAND: 'UNKNOWN_COMMAND',
  /** The service kept failing on it for an unexpected reason (not an unavailable dependency). */
  PROCESSING_FAILED: 'PROCESSING_FAILED',
} as const;
export type DeadLetterReason = (typeof DeadLetterReason)[keyof typeof DeadLetterReason] | ErrorCode;

/** The headers a dead letter gets on top of the original message's own headers. */
export const DeadLetterHeader = {
  reason: 'dlq_reason',
  message: 'dlq_message',
  /** JSON array of {field, code, message}, when the command broke field rules (as in the HTTP error body). */
  details: 'dlq_details',
  originalTopic: 'dlq_original_topic',
  originalPartition: 'dlq_original_partition',
  originalOffset: 'dlq_original_offset',
  failedAt: 'dlq_failed_at',
  consumerGroup: 'dlq_consumer_group',
} as const;

export interface Rejection {
  reason: DeadLetterReason;
  message: string;
  details: Violation[];
}

export interface CommandHandlerOptions {
  orders: Pick<OrderService, 'createOrder' | 'transitionOrder'>;
  /** Who asks, for the orders' status history: `kafka:<consumer group>`. */
  /** Publishes dead letters (the event publisher: acks=all, idempotent). */
  deadLetters: { publish(topic: string, message: OutgoingMessage): Promise<void> };
  deadLetterTopic: string;
  /** Consumer group of the consumer, named in each dead letter. */
  consumerGroup: string;
  logger: LogSink;
  retry?: {
    /** First pause after a failure; doubled after each one up to maxDelayMs. */
    initialDelayMs?: number;
    maxDelayMs?: number;
    /** Attempts after which an error that is neither an order error nor an unavailable dependency dead-letters the command. */
    maxUnexpectedAttempts?: number;
  };
}

const ajv = createExactAjv();
const validators = new Map<string, ValidateFunction>(
  Object.entries(COMMAND_SCHEMAS).map(([type, schema]) => [type, ajv.compile(schema)]),
);
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The text of a header (the first one, when a name repeats); undefined when absent. */
export function headerText(headers: MessageHeaders, name: string): string | undefined {
  const value = headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : typeof first === 'string' ? first : first.toString('utf8');
}

function isCommandType(type: string | undefined): boolean {
  return type !== undefined && Object.hasOwn(COMMAND_SCHEMAS, type);
}

/** What the message asks for, or why it cannot be served whatever the state of the orders. */
export function decodeCommand(
  message: Pick<IncomingMessage, 'value' | 'headers'>,
): { ok: true; command: Command } | { ok: false; rejection: Rejection } {
  const type = headerText(message.headers, 'ce_type');
  if (type === undefined || !isCommandType(type)) {
    const known = COMMAND_TYPES.join(', ');
    return reject(
      DeadLetterReason.UNKNOWN_COMMAND,
      type === undefined
        ? `the message has no ce_type header (one of ${known})`
        : `ce_type ${JSON.stringify(type.slice(0, 100))} is not a command of this service (one of ${known})`,
    );
  }
  if (message.value === null || message.value.length === 0) {
    return reject(DeadLetterReason.MALFORMED_JSON, 'the message has no value');
  }
  let payload: unknown;
  try {
    payload = JSON.parse(utf8.decode(message.value));
  } catch {
    return reject(DeadLetterReason.MALFORMED_JSON, 'the value is not valid UTF-8 JSON');
  }
  const actor = headerText(message.headers, ACTOR_HEADER);
  if (actor !== undefined && !ACTOR.test(actor)) {
    return reject('VALIDATION_FAILED', `the ${ACTOR_HEADER} header must be 1 to 200 printable ASCII characters`, [
      { field: `headers/${ACTOR_HEADER}`, code: 'pattern', message: 'must be 1 to 200 printable ASCII characters' },
    ]);
  }
  const who = actor === undefined ? {} : { actor };
  const validate = validators.get(type) as ValidateFunction;
  if (!validate(payload)) {
    return reject('VALIDATION_FAILED', `the ${type} command does not match its schema`, violationsOf(validate.errors));
  }
  const transition = TRANSITION_OF_TYPE.get(type);
  if (transition === undefined) {
    return { ok: true, command: { type: 'CreateOrder', payload: payload as CreateOrder, ...who } };
  }
  // Ids are compared and stored in lowercase: decoded once here.
  const { orderId, ...rest } = payload as { orderId: string };
  const request = { command: transition, payload: rest } as TransitionRequest;
  return { ok: true, command: { type, orderId: orderId.toLowerCase(), request, ...who } };
}

function reject(reason: DeadLetterReason, message: string, details: Violation[] = []) {
  return { ok: false as const, rejection: { reason, message, details } };
}

/** The id of the order a command concerns, for logs. */
function orderIdOf(command: Command): string | undefined {
  return 'orderId' in command ? command.orderId : undefined;
}

const MAX_HEADER_TEXT = 2_000;
const clip = (text: string) => (text.length > MAX_HEADER_TEXT ? `${text.slice(0, MAX_HEADER_TEXT - 1)}…` : text);

/** The original message, key, value and headers untouched, with headers saying why it was dead-lettered. */
export function deadLetterOf(
  message: IncomingMessage,
  rejection: Rejection,
  consumerGroup: string,
  failedAt: Date = new Date(),
): OutgoingMessage {
  return {
    key: message.key,
    value: message.value,
    headers: {
      ...message.headers,
      [DeadLetterHeader.reason]: rejection.reason,
      [DeadLetterHeader.message]: clip(rejection.message),
      ...(rejection.details.length > 0 && { [DeadLetterHeader.details]: JSON.stringify(rejection.details) }),
      [DeadLetterHeader.originalTopic]: message.topic,
      [DeadLetterHeader.originalPartition]: String(message.partition),
      [DeadLetterHeader.originalOffset]: message.offset,
      [DeadLetterHeader.failedAt]: failedAt.toISOString(),
      [DeadLetterHeader.consumerGroup]: consumerGroup,
    },
  };
}

/**
 * The handler of ordering.commands: serves the message's command, or dead-letters it; resolves
 * once either is done, so its offset may be committed. Throws only when `signal` aborts.
 */
export function createCommandHandler({
  orders,
  deadLetters,
  deadLetterTopic,
  consumerGroup,
  logger,
  retry = {},
}: CommandHandlerOptions) {
  const { initialDelayMs = 200, maxDelayMs = 5_000, maxUnexpectedAttempts = 10 } = retry;

  const consumer = `kafka:${consumerGroup}`;

  /** Runs the command; an accepted-but-not-yet-persisted outcome (HTTP 202) counts as served. */
  async function execute(command: Command): Promise<{ orderId: string; outcome: string }> {
    const actor = command.actor ?? consumer;
    if ('request' in command) {
      const outcome = await orders.transitionOrder(command.orderId, command.request, actor);
      return { orderId: command.orderId, outcome: outcome.kind === 'done' ? outcome.order.status : 'accepted' };
    }
    const outcome = await orders.createOrder(command.payload as CreateOrder, actor);
    if (outcome.kind === 'accepted') return { orderId: outcome.orderId, outcome: 'accepted' };
    return { orderId: outcome.order.orderId, outcome: outcome.created ? 'created' : 'already created' };
  }

  /** Serves the command; the rejection when it cannot be served. Retries while a dependency is unavailable. */
  async function serve(command: Command, where: object, signal: AbortSignal): Promise<Rejection | undefined> {
    const delays = backoffDelays(initialDelayMs, maxDelayMs);
    let unexpected = 0;
    for (let attempt = 1; ; attempt++) {
      signal.throwIfAborted();
      try {
        const { orderId, outcome } = await execute(command);
        logger.info({ ...where, orderId, workflowId: workflowIdForOrder(orderId), outcome }, 'command served');
        return undefined;
      } catch (error) {
        // A busy order only asks for patience, like an unavailable dependency.
        const busy = error instanceof OrderError && error.code === ErrorCode.ORDER_BUSY;
        if (error instanceof OrderError && !busy) {
          return { reason: error.code, message: error.message, details: error.details };
        }
        const unavailable = busy || isUnavailable(error);
        if (!unavailable && ++unexpected >= maxUnexpectedAttempts) {
          logger.error({ ...where, err: error, attempt }, 'command keeps failing; dead-lettering it');
          const detail = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
          return {
            reason: DeadLetterReason.PROCESSING_FAILED,
            message: `failed ${attempt} times, last with ${detail}`,
            details: [],
          };
        }
        const delay = delays.next().value;
        logger.warn(
          { ...where, err: error, attempt, retryInMs: delay },
          unavailable ? 'a dependency is unavailable; retrying the command' : 'command failed; retrying it',
        );
        await sleep(delay, undefined, { signal });
      }
    }
  }

  /** Publishes the dead letter, retrying until Kafka takes it. */
  async function deadLetter(message: IncomingMessage, rejection: Rejection, where: object, signal: AbortSignal) {
    const letter = deadLetterOf(message, rejection, consumerGroup);
    const delays = backoffDelays(initialDelayMs, maxDelayMs);
    for (let attempt = 1; ; attempt++) {
      signal.throwIfAborted();
      try {
        await deadLetters.publish(deadLetterTopic, letter);
        logger.warn(
          { ...where, reason: rejection.reason, problem: rejection.message, details: rejection.details },
          `command dead-lettered to ${deadLetterTopic}`,
        );
        return;
      } catch (error) {
        const delay = delays.next().value;
        logger.warn({ ...where, err: error, attempt, retryInMs: delay }, 'dead-lettering failed; retrying');
        await sleep(delay, undefined, { signal });
      }
    }
  }

  return async function handleCommand(message: IncomingMessage, { signal }: MessageContext): Promise<void> {
    const decoded = decodeCommand(message);
    const orderId = decoded.ok ? orderIdOf(decoded.command) : undefined;
    const where = {
      topic: message.topic,
      partition: message.partition,
      offset: message.offset,
      commandType: headerText(message.headers, 'ce_type')?.slice(0, 100),
      ...(orderId !== undefined && { orderId, workflowId: workflowIdForOrder(orderId) }),
    };
    const rejection = decoded.ok ? await serve(decoded.command, where, signal) : decoded.rejection;
    if (rejection !== undefined) await deadLetter(message, rejection, where, signal);
  };
}
