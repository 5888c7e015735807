// What the benchmark does to each order and what that must leave behind, all read from the
// transition table (src/domain/lifecycle.ts): the command that ends a lifecycle, its payload,
// the status it leads to and the events it emits. A change to the table changes the bench.
import type { OrderEventType } from '../../src/contracts/schemas.js';
import {
  CANCELLATION_REASONS,
  COMMAND_NAMES,
  type CommandName,
  type CommandPayloads,
  eventsOfCommand,
  isTerminal,
  LIFECYCLE,
  type OrderStatus,
  type TransitionRequest,
  targetOf,
} from '../../src/domain/lifecycle.js';
import { eventIdFor } from '../../src/ids.js';

/** The status a new order is in: a lifecycle is its creation, then one command from there to a final status. */
const CREATED_STATUS: OrderStatus = 'CREATED';
/** The event of an order's creation (its transition 0), which no command of the table emits. */
const CREATED_EVENT: OrderEventType = 'OrderCreated';
/** The sequence of the transition that ends a lifecycle: the first after the creation. */
export const ENDING_SEQUENCE = 1;

/** Out of every 10 lifecycles, how many each command ends: 30 % cancel, 70 % complete (the mix). */
const ENDING_MIX: Record<EndingCommand, number> = { cancel: 3, complete: 7 };
type EndingCommand = 'complete' | 'cancel';

for (const name of Object.keys(ENDING_MIX) as EndingCommand[]) {
  const { from } = LIFECYCLE[name];
  const to = targetOf(name);
  if (!(from.includes(CREATED_STATUS) && isTerminal(to))) {
    throw new Error(`bench: ${name} does not take a new order to a final status (${from.join(', ')} → ${to})`);
  }
}

/** Lifecycle i ends with ENDING_ROTATION[i % 10]: each command's share, spread evenly over the run. */
const ENDING_ROTATION = (Object.keys(ENDING_MIX) as EndingCommand[]).flatMap((name) =>
  Array.from({ length: ENDING_MIX[name] }, () => name),
);

/** The commands that end lifecycles, in the table's order, for labels ("complete/cancel"). */
export const ENDING_COMMANDS = COMMAND_NAMES.filter(
  (name): name is EndingCommand => (ENDING_MIX as Partial<Record<CommandName, number>>)[name] !== undefined,
);

/** Each command's share of the lifecycles (0..1), for the results file. */
export const endingShares = () =>
  Object.fromEntries(ENDING_COMMANDS.map((name) => [name, ENDING_MIX[name] / ENDING_ROTATION.length]));

// Typed by the table's payloads: a command added there does not compile here until it has one.
const PAYLOADS: { [Name in EndingCommand]: (index: number) => CommandPayloads[Name] } = {
  complete: () => ({}),
  cancel: (index) => ({ reason: CANCELLATION_REASONS[index % CANCELLATION_REASONS.length] ?? 'CUSTOMER_REQUESTED' }),
};

/** The transition that ends lifecycle number `index`, with its payload. */
export function endingRequest(index: number): TransitionRequest {
  const command = ENDING_ROTATION[index % ENDING_ROTATION.length] as EndingCommand;
  return { command, payload: PAYLOADS[command](index) } as TransitionRequest;
}

/** The ce_ids of the events `command` emits when it ends a new order's lifecycle, in the order emitted. */
export const endingEventIds = (orderId: string, command: CommandName): string[] =>
  eventsOfCommand(command).map((type) => eventIdFor(orderId, ENDING_SEQUENCE, type));

/** Every event an order ended by `command` must have on Kafka, by ce_id: its creation's, then its ending's. */
export const expectedEventIds = (orderId: string, command: CommandName): string[] => [
  eventIdFor(orderId, 0, CREATED_EVENT),
  ...endingEventIds(orderId, command),
];

/** The status an order ended by `command` must have in PostgreSQL. */
export const endStatus = (command: CommandName): OrderStatus => targetOf(command);
