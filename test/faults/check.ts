// After a scenario: what PostgreSQL and Kafka hold for the orders the load created, compared
// with what the API answered, and the answers themselves, as one row of the fault table.
// What statuses, commands and events there are comes from the transition table
// (src/domain/lifecycle.ts), so a new status or command needs no change here.
import { Kafka, logLevel } from 'kafkajs';
import type pg from 'pg';
import type { OrderEventType } from '../../src/contracts/schemas.js';
import {
  COMMAND_NAMES,
  decideTransition,
  eventsOfCommand as eventsOfCommandInTable,
  isCommandName,
  isTerminal,
  LIFECYCLE,
  type OrderStatus,
  TERMINAL_EVENT_TYPES,
  targetOf,
} from '../../src/domain/lifecycle.js';
import { eventIdFor, orderIdForCart } from '../../src/ids.js';
import type { collectOrderEvents, SeenEvent } from '../support/events.js';
import type { OrderRun, RequestRecord } from './load.js';

type Collector = Awaited<ReturnType<typeof collectOrderEvents>>;

/** A stretch of time in which the fault may make the API answer something other than 2xx. */
export interface FaultWindow {
  from: number;
  to: number;
  /** What is expected in the window: 503 answers (PostgreSQL down), network errors (API down). */
  allow: ('503' | 'network')[];
}

export interface FaultRow {
  fault: string;
  orders: number;
  /** Must be 0. */
  lost: number;
  invented: number;
  halfCreated: number;
  duplicatedCeId: number;
  outOfOrder: number;
  wrongStatus: number;
  badHistory: number;
  dbKafkaDisagree: number;
  unexpected5xx: number;
  unexpectedOther: number;
  badErrorBody: number;
  hung: number;
  /** Informational. */
  expected503: number;
  expectedNetwork: number;
  redelivered: number;
  requests: number;
  seconds: number;
  /** Scenario checks that failed (must be empty), and remarks. */
  violations: string[];
  notes: string[];
}

export const ZERO_COLUMNS = [
  'lost',
  'invented',
  'halfCreated',
  'duplicatedCeId',
  'outOfOrder',
  'wrongStatus',
  'badHistory',
  'dbKafkaDisagree',
  'unexpected5xx',
  'unexpectedOther',
  'badErrorBody',
  'hung',
] as const satisfies readonly (keyof FaultRow)[];
type ZeroColumn = (typeof ZERO_COLUMNS)[number];

const COLUMNS: [keyof FaultRow, string][] = [
  ['orders', 'orders'],
  ['lost', 'lost'],
  ['invented', 'invented'],
  ['halfCreated', 'half-created'],
  ['duplicatedCeId', 'duplicated ce_id'],
  ['outOfOrder', 'out of order'],
  ['wrongStatus', 'wrong status'],
  ['badHistory', 'bad history'],
  ['dbKafkaDisagree', 'DB≠Kafka'],
  ['unexpected5xx', 'unexpected 5xx'],
  ['unexpectedOther', 'other unexpected'],
  ['badErrorBody', 'bad error body'],
  ['hung', 'hung'],
  ['expected503', '503 during outage'],
  ['expectedNetwork', 'conn. errors, API down'],
  ['redelivered', 'redelivered'],
  ['requests', 'requests'],
  ['seconds', 's'],
];
const TITLES = new Map(COLUMNS);

// ---- What the transition table says about events ------------------------------------------

/** The event of every order's creation: row 0 of its status history, command 'create'. */
const CREATION_EVENT: OrderEventType = 'OrderCreated';
const CREATION_COMMAND = 'create';
const CREATION_SEQUENCE = 0;
const TERMINAL_EVENTS = new Set<string>(TERMINAL_EVENT_TYPES);
const isTerminalEvent = (type: string | undefined) => type !== undefined && TERMINAL_EVENTS.has(type);

/** The event types a history row's command emits (none for a command the table does not know). */
function eventsOfCommand(command: string): readonly string[] {
  if (command === CREATION_COMMAND) return [CREATION_EVENT];
  return isCommandName(command) ? eventsOfCommandInTable(command) : [];
}

/** The terminal event types of the commands that lead to `status`: the events that announce it. */
function terminalEventsInto(status: OrderStatus): Set<string> {
  const into = COMMAND_NAMES.filter((name) => targetOf(name) === status);
  return new Set(into.flatMap((name) => LIFECYCLE[name].events).filter(isTerminalEvent));
}

// ---- Reading PostgreSQL and Kafka -------------------------------------------------------

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface OrderRow {
  order_id: string;
  cart_id: string;
  status: OrderStatus;
  items: number;
}
interface HistoryRow {
  order_id: string;
  sequence: number;
  command: string;
  from_status: OrderStatus | null;
  to_status: OrderStatus;
}
interface EventRow {
  event_id: string;
  order_id: string;
  sequence: number;
  event_type: string;
  published: boolean;
}
interface DatabaseView {
  orders: OrderRow[];
  history: HistoryRow[];
  events: EventRow[];
}

/**
 * Runs `read` in one read-only snapshot, so that orders, history and events agree even while
 * transitions commit; retried until it succeeds (the pool may hold connections from before a
 * PostgreSQL restart).
 */
async function inSnapshot<T>(db: pg.Pool, read: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    let client: pg.PoolClient | undefined;
    try {
      client = await db.connect();
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      const result = await read(client);
      await client.query('COMMIT');
      client.release();
      return result;
    } catch (error) {
      // A connection that failed mid-transaction must not go back to the pool.
      client?.release(true);
      if (Date.now() > deadline) throw error;
      await pause(250);
    }
  }
}

/**
 * The orders of the scenario's carts, with their history and events, and any other order of
 * its (fresh, random) customers.
 */
function readDatabase(db: pg.Pool, carts: string[], customers: string[]): Promise<DatabaseView> {
  return inSnapshot(db, async (client) => {
    const orders = await client.query<OrderRow>(
      `SELECT o.order_id, o.cart_id, o.status,
              (SELECT count(*)::int FROM order_items i WHERE i.order_id = o.order_id) AS items
         FROM orders o WHERE o.cart_id = ANY($1::uuid[]) OR o.customer_id = ANY($2::uuid[])`,
      [carts, customers],
    );
    const history = await client.query<HistoryRow>(
      `SELECT h.order_id, h.sequence, h.command, h.from_status, h.to_status
         FROM order_status_history h JOIN orders o USING (order_id) WHERE o.cart_id = ANY($1::uuid[])
        ORDER BY h.order_id, h.sequence`,
      [carts],
    );
    const events = await client.query<EventRow>(
      `SELECT e.event_id, e.order_id, e.sequence, e.event_type, e.published_at IS NOT NULL AS published
         FROM order_events e JOIN orders o USING (order_id) WHERE o.cart_id = ANY($1::uuid[])`,
      [carts],
    );
    return { orders: orders.rows, history: history.rows, events: events.rows };
  });
}

/** Every order there, in a final status, and every event published: nothing will change any more. */
function databaseSettled(database: DatabaseView, orders: number): boolean {
  return (
    database.orders.length === orders &&
    database.orders.every((order) => isTerminal(order.status)) &&
    database.events.every((event) => event.published)
  );
}

/** Waits (bounded) for the database to settle; the last view, and a note if it did not. */
async function settleDatabase(
  db: pg.Pool,
  runs: OrderRun[],
  deadline: number,
): Promise<{ database: DatabaseView; note?: string }> {
  const carts = runs.map((run) => run.command.cartId);
  const customers = [...new Set(runs.map((run) => run.command.customerId))];
  let database = await readDatabase(db, carts, customers);
  while (!databaseSettled(database, runs.length) && Date.now() < deadline) {
    await pause(500);
    database = await readDatabase(db, carts, customers);
  }
  if (databaseSettled(database, runs.length)) return { database };
  const unpublished = database.events.filter((event) => !event.published).length;
  const open = database.orders.filter((order) => !isTerminal(order.status)).length;
  const orders = `${database.orders.length}/${runs.length} orders`;
  return {
    database,
    note: `database not settled in time: ${orders}, ${open} not final, ${unpublished} unpublished events`,
  };
}

/**
 * Waits (bounded) until the fresh consumer has read every message the topic held when the
 * wait began: then anything published for the scenario's orders so far has been seen.
 */
async function waitForTopicEnd(
  brokers: string[],
  topic: string,
  events: Collector,
  timeoutMs: number,
): Promise<boolean> {
  const kafka = new Kafka({ clientId: 'order-faults-admin', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(topic);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const seen = new Map<number, number>();
      for (const event of events.events) seen.set(event.partition, (seen.get(event.partition) ?? 0) + 1);
      if (offsets.every(({ partition, high, low }) => (seen.get(partition) ?? 0) >= Number(high) - Number(low))) {
        return true;
      }
      if (Date.now() > deadline) return false;
      await pause(200);
    }
  } finally {
    await admin.disconnect();
  }
}

/**
 * Reads the topic afresh from its beginning until every expected order shows its OrderCreated
 * and a terminal event (or the deadline), then to its end: the events of the scenario's orders
 * and of its customers, by order.
 */
async function readKafka(
  brokers: string[],
  topic: string,
  openEvents: () => Promise<Collector>,
  expectedIds: Set<string>,
  customers: Set<string>,
  deadline: number,
): Promise<{ byOrder: Map<string, SeenEvent[]>; note?: string }> {
  const events = await openEvents();
  const ours = () =>
    groupBy(
      events.events.filter((event) => {
        const customer = event.payload.customerId;
        return expectedIds.has(event.key) || (typeof customer === 'string' && customers.has(customer));
      }),
      (event) => event.key,
    );
  const complete = (byOrder: Map<string, SeenEvent[]>) =>
    [...expectedIds].every((orderId) => {
      const types = (byOrder.get(orderId) ?? []).map((event) => event.headers.ce_type);
      return types.includes(CREATION_EVENT) && types.some(isTerminalEvent);
    });
  try {
    const kafkaDeadline = Math.max(deadline, Date.now() + 30_000);
    while (!complete(ours()) && Date.now() < kafkaDeadline) await pause(250);
    const reachedEnd = await waitForTopicEnd(brokers, topic, events, 30_000);
    return { byOrder: ours(), ...(!reachedEnd && { note: 'the consumer did not reach the end of the topic' }) };
  } finally {
    await events.close();
  }
}

function groupBy<T>(items: T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const group = groups.get(keyOf(item));
    if (group === undefined) groups.set(keyOf(item), [item]);
    else group.push(item);
  }
  return groups;
}

// ---- The checks of one order ------------------------------------------------------------

/** Counts of the must-be-0 columns, with the first example of each for the notes. */
class Findings {
  readonly counts = Object.fromEntries(ZERO_COLUMNS.map((column) => [column, 0])) as Record<ZeroColumn, number>;
  readonly examples = new Map<ZeroColumn, string>();

  add(column: ZeroColumn, example: string): void {
    this.counts[column]++;
    if (!this.examples.has(column)) this.examples.set(column, example);
  }
}

/** What PostgreSQL and Kafka hold for one order of the scenario. */
interface OrderEvidence {
  orderId: string;
  row: OrderRow | undefined;
  /** Its status history, by sequence. */
  history: HistoryRow[];
  /** Its events in the outbox. */
  outbox: EventRow[];
  /** Its events on Kafka, as delivered. */
  seen: SeenEvent[];
}

const describeHistory = (history: HistoryRow[]) =>
  history.map((row) => `${row.sequence}:${row.command}→${row.to_status}`).join(' ');

/** Row 0 the creation; each next row a transition the table allows from where the previous one left the order. */
function historyIsChained(history: HistoryRow[]): boolean {
  return history.every((row, index) => {
    if (row.sequence !== CREATION_SEQUENCE + index) return false;
    const previous = history[index - 1];
    if (previous === undefined) return row.command === CREATION_COMMAND && row.from_status === null;
    if (!isCommandName(row.command) || row.from_status !== previous.to_status) return false;
    // A command may lead to one of several statuses (a release, by its payload): any of them.
    const decision = decideTransition(previous.to_status, row.command);
    const targets = LIFECYCLE[row.command].targets;
    return (
      decision.kind === 'apply' && (targets === 'unchanged' ? previous.to_status : targets).includes(row.to_status)
    );
  });
}

/**
 * What is wrong with the order's status history and the stored events it accounts for, or
 * undefined: contiguous from 0, ending in the order's status, exactly one row into a final
 * status if the order is final; each event at a row whose command emits it; exactly one
 * terminal event for a final order, at the terminal row's sequence.
 */
function historyProblem({ row, history, outbox }: OrderEvidence): string | undefined {
  if (row === undefined) return undefined;
  if (!historyIsChained(history)) return 'not a chain of allowed transitions from 0';
  const last = history.at(-1);
  if (last?.to_status !== row.status) {
    return `history ends in ${last?.to_status ?? 'nothing'}, the order is ${row.status}`;
  }
  const terminalRows = history.filter((change) => isTerminal(change.to_status));
  const terminalRowsExpected = isTerminal(row.status) ? 1 : 0;
  if (terminalRows.length !== terminalRowsExpected) {
    return `${terminalRows.length} history rows into a final status, expected ${terminalRowsExpected}`;
  }
  const bySequence = new Map(history.map((change) => [change.sequence, change]));
  const unaccounted = outbox.find(
    (event) => !eventsOfCommand(bySequence.get(event.sequence)?.command ?? '').includes(event.event_type),
  );
  if (unaccounted !== undefined) {
    return `event ${unaccounted.event_type} at sequence ${unaccounted.sequence} has no history row that emits it`;
  }
  const terminalEvents = outbox.filter((event) => isTerminalEvent(event.event_type));
  const terminalSequence = terminalRows[0]?.sequence;
  if (terminalEvents.length !== terminalRowsExpected || terminalEvents.some((e) => e.sequence !== terminalSequence)) {
    const found = terminalEvents.map((event) => `${event.event_type}@${event.sequence}`).join(', ') || 'none';
    return `terminal events ${found}, terminal row at ${terminalSequence ?? 'none'}`;
  }
  return undefined;
}

/** Whether the order's events first appear on Kafka in the order of their transitions, all on one partition. */
function deliveredInOrder(seen: SeenEvent[], sequenceOf: Map<string, number>): boolean {
  // One partition per order (its key), or consumers could see its events in any order.
  if (new Set(seen.map((event) => event.partition)).size > 1) return false;
  const firstSightings = new Set(seen.map((event) => event.headers.ce_id as string));
  let latest = -1;
  for (const eventId of firstSightings) {
    const sequence = sequenceOf.get(eventId);
    if (sequence === undefined) continue; // not in the outbox: DB≠Kafka's business
    if (sequence < latest) return false;
    latest = sequence;
  }
  return true;
}

/**
 * Kafka carries what the outbox holds: every ce_id is a stored event's, of its type, derived
 * from its stored sequence (OrderCreated's from the creation's); and the terminal event is one
 * that announces the stored status.
 */
function kafkaMatchesDatabase({ orderId, row, outbox, seen }: OrderEvidence): boolean {
  if (row === undefined) return true;
  const stored = new Map(outbox.map((event) => [event.event_id, event]));
  const isStored = ({ headers }: SeenEvent) => {
    const event = stored.get(headers.ce_id as string);
    if (event === undefined || event.event_type !== headers.ce_type) return false;
    return headers.ce_id === eventIdFor(orderId, event.sequence, event.event_type);
  };
  const createdIds = seen.filter((event) => event.headers.ce_type === CREATION_EVENT).map((e) => e.headers.ce_id);
  const terminalTypes = new Set(seen.map((e) => e.headers.ce_type).filter(isTerminalEvent));
  const announcing = terminalEventsInto(row.status);
  return (
    seen.every(isStored) &&
    createdIds.every((id) => id === eventIdFor(orderId, CREATION_SEQUENCE, CREATION_EVENT)) &&
    terminalTypes.size <= 1 &&
    [...terminalTypes].every((type) => announcing.has(type as string))
  );
}

/** Checks one order of the scenario; true when an event of it was delivered more than once. */
function checkOrder(run: OrderRun, evidence: OrderEvidence, findings: Findings): boolean {
  const { orderId, row, history, outbox, seen } = evidence;
  const created = seen.filter((event) => event.headers.ce_type === CREATION_EVENT);
  const terminal = seen.filter((event) => isTerminalEvent(event.headers.ce_type));
  if (row === undefined || created.length === 0 || terminal.length === 0 || run.orderId === undefined) {
    const found = `row=${row?.status ?? 'none'} created=${created.length} terminal=${terminal.length}`;
    findings.add('lost', `order ${run.index} ${orderId}: ${found} api=${run.orderId ?? 'none'} ${run.failure ?? ''}`);
  }
  if (run.orderId !== undefined && run.orderId !== orderId) {
    findings.add('invented', `order ${run.index}: API answered ${run.orderId}, expected ${orderId}`);
  }
  if (row !== undefined && row.items !== run.command.items.length) {
    findings.add('halfCreated', `order ${orderId} has ${row.items} of ${run.command.items.length} items`);
  }
  const createdIds = new Set(created.map((event) => event.headers.ce_id));
  const terminalIds = new Set(terminal.map((event) => event.headers.ce_id));
  if (createdIds.size > 1 || terminalIds.size > 1) {
    findings.add('duplicatedCeId', `order ${orderId}: ${JSON.stringify(seen.map((event) => event.headers))}`);
  }
  const sequenceOf = new Map(outbox.map((event) => [event.event_id, event.sequence]));
  if (!deliveredInOrder(seen, sequenceOf)) {
    findings.add(
      'outOfOrder',
      `order ${orderId}: ${seen.map((event) => `${event.headers.ce_type}@${event.partition}`).join(', ')}`,
    );
  }
  const expected = targetOf(run.action);
  if (row !== undefined && row.status !== expected) {
    findings.add('wrongStatus', `order ${orderId}: ${row.status}, expected ${expected} (${run.action})`);
  }
  const problem = historyProblem(evidence);
  if (problem !== undefined) {
    findings.add('badHistory', `order ${orderId}: ${problem}; history [${describeHistory(history)}]`);
  }
  if (!kafkaMatchesDatabase(evidence)) {
    findings.add(
      'dbKafkaDisagree',
      `order ${orderId}: status ${row?.status}, outbox ${JSON.stringify(
        outbox.map((event) => [event.event_type, event.sequence, event.event_id]),
      )}, kafka ${JSON.stringify(seen.map((event) => [event.headers.ce_type, event.headers.ce_id]))}`,
    );
  }
  return seen.length > new Set(seen.map((event) => event.headers.ce_id)).size;
}

// ---- The answers ------------------------------------------------------------------------

/** Counts the answers no fault explains; the expected ones apart; a note on the 202s. */
/** Whether a request overlapped a window in which the fault explains an answer of this kind. */
export const explainedBy = (windows: FaultWindow[], record: RequestRecord, kind: '503' | 'network') =>
  windows.some(
    (window) => window.allow.includes(kind) && record.startedAt <= window.to && record.endedAt >= window.from,
  );

function checkAnswers(records: RequestRecord[], windows: FaultWindow[], findings: Findings) {
  const inWindow = (record: RequestRecord, kind: '503' | 'network') => explainedBy(windows, record, kind);
  let expected503 = 0;
  let expectedNetwork = 0;
  const answered202 = new Map<string, number>();
  for (const record of records) {
    const { outcome } = record;
    const what = `${record.op} of order ${record.order}`;
    if (outcome === 'timeout') {
      findings.add('hung', `${what}: no answer within the timeout`);
    } else if (outcome === 'network') {
      if (inWindow(record, 'network')) expectedNetwork++;
      else findings.add('unexpectedOther', `${what}: ${record.detail}`);
    } else if (outcome >= 500) {
      if (outcome === 503 && inWindow(record, '503')) expected503++;
      else findings.add('unexpected5xx', `${what}: ${outcome} ${record.code ?? ''}`);
    } else if (outcome >= 400 && !record.expected) {
      findings.add('unexpectedOther', `${what}: ${outcome} ${record.code ?? ''}`);
    } else if (outcome === 202) {
      answered202.set(record.op, (answered202.get(record.op) ?? 0) + 1);
    }
    if (typeof outcome === 'number' && outcome >= 400 && record.errorBodyOk !== true) {
      findings.add('badErrorBody', `${what}: ${outcome} ${record.detail}`);
    }
  }
  // Allowed, and repeated by the driver, but rare: Temporal did not answer within the API's wait.
  const counts = [...answered202].map(([op, count]) => `${count}× ${op}`).join(', ');
  const note =
    answered202.size === 0 ? undefined : `202 (not committed within the API's wait, then repeated): ${counts}`;
  return { expected503, expectedNetwork, note };
}

// ---- The scenario's row -----------------------------------------------------------------

export interface CheckInput {
  fault: string;
  db: pg.Pool;
  brokers: string[];
  /** The environment's ordering.orders. */
  topic: string;
  /** Opens a fresh consumer of the topic (from its beginning). */
  openEvents: () => Promise<Collector>;
  runs: OrderRun[];
  records: RequestRecord[];
  windows: FaultWindow[];
  startedAt: number;
  /** How long to wait for the database and Kafka to show every order's final state. */
  settleTimeoutMs?: number;
}

/** Waits for the orders to settle, then counts what is wrong. */
export async function checkScenario({
  fault,
  db,
  brokers,
  topic,
  openEvents,
  runs,
  records,
  windows,
  startedAt,
  settleTimeoutMs = 120_000,
}: CheckInput): Promise<FaultRow> {
  const violations: string[] = [];
  const notes: string[] = [];
  const apiOrderIds = new Set(runs.flatMap((run) => (run.orderId === undefined ? [] : [run.orderId])));
  const expectedIds = new Set(runs.map((run) => orderIdForCart(run.command.cartId)));
  const customers = new Set(runs.map((run) => run.command.customerId));

  // 1. The database: every order final and every outbox event published (or the deadline).
  const checkStartedAt = Date.now();
  const deadline = checkStartedAt + settleTimeoutMs;
  const { database, note: databaseNote } = await settleDatabase(db, runs, deadline);
  // 2. Kafka, read afresh from the beginning: OrderCreated and a terminal event of every order (or the deadline).
  const { byOrder, note: kafkaNote } = await readKafka(brokers, topic, openEvents, expectedIds, customers, deadline);
  for (const note of [databaseNote, kafkaNote]) if (note !== undefined) notes.push(note);

  // 3. Compare: what the test created, what the database holds, what Kafka carries.
  const findings = new Findings();
  const rowsById = new Map(database.orders.map((order) => [order.order_id, order]));
  const historyById = groupBy(database.history, (change) => change.order_id);
  const outboxById = groupBy(database.events, (event) => event.order_id);
  let redelivered = 0;
  for (const run of runs) {
    const orderId = orderIdForCart(run.command.cartId);
    const evidence: OrderEvidence = {
      orderId,
      row: rowsById.get(orderId),
      history: historyById.get(orderId) ?? [],
      outbox: outboxById.get(orderId) ?? [],
      seen: byOrder.get(orderId) ?? [],
    };
    if (checkOrder(run, evidence, findings)) redelivered++;
  }
  // Orders nobody asked for: rows or events for the scenario's carts/customers under other ids.
  for (const orderId of new Set([...rowsById.keys(), ...byOrder.keys(), ...apiOrderIds])) {
    if (!expectedIds.has(orderId)) {
      findings.add('invented', `order ${orderId} is not the order of any of the scenario's carts`);
    }
  }

  // 4. The answers.
  const answers = checkAnswers(records, windows, findings);
  if (answers.note !== undefined) notes.push(answers.note);

  const seconds = (from: number, to: number) => Math.round((to - from) / 1000);
  const checking = seconds(checkStartedAt, Date.now());
  notes.push(`load ${seconds(startedAt, checkStartedAt)} s, database and Kafka settled and checked in ${checking} s`);
  const failed = runs.filter((run) => run.failure !== undefined);
  if (failed.length > 0) {
    violations.push(
      `${failed.length} orders failed in the load driver, e.g. order ${failed[0]!.index}: ${failed[0]!.failure}`,
    );
  }
  for (const [column, text] of findings.examples) notes.push(`${TITLES.get(column)}, e.g. ${text}`);
  return {
    fault,
    orders: runs.length,
    ...findings.counts,
    expected503: answers.expected503,
    expectedNetwork: answers.expectedNetwork,
    redelivered,
    requests: records.length,
    seconds: Math.round((Date.now() - startedAt) / 1000),
    violations,
    notes,
  };
}

/** The fault table, as printed and as written to test-results/faults.txt. */
export function formatTable(rows: (FaultRow | { fault: string; error: string })[]): string {
  const header = ['fault', ...COLUMNS.map(([, title]) => title)];
  const lines = rows.map((row) =>
    'error' in row
      ? [row.fault, `did not complete: ${row.error}`]
      : [row.fault, ...COLUMNS.map(([key]) => String(row[key]))],
  );
  const widths = header.map((title, index) =>
    Math.max(title.length, ...lines.filter((line) => line.length === header.length).map((line) => line[index]!.length)),
  );
  // The fault's name left-aligned, the numbers right-aligned; an error line as it is.
  const pad = (cell: string, index: number) =>
    index === 0 ? cell.padEnd(widths[index]!) : cell.padStart(widths[index]!);
  const format = (cells: string[]) =>
    cells.length === header.length ? `| ${cells.map(pad).join(' | ')} |` : `| ${cells.join(' | ')} |`;
  const out = [
    'Fault suite: every column from "lost" to "hung" must be 0.',
    '- lost: an order the test created that is missing from PostgreSQL, or without its OrderCreated or terminal event',
    "  on Kafka; invented: an order (row or event) of the test's carts/customers that the test did not create;",
    '  half-created: an order row without all its items; duplicated ce_id: an order with more than one distinct',
    '  ce_id for OrderCreated or for its terminal event (two terminal events); out of order: an event on Kafka',
    "  before one of an earlier transition (e.g. a terminal event before OrderCreated), or an order's events on more",
    '  than one partition; wrong status: the stored status is not where the transition the test made leads;',
    '  bad history: the status history is not a chain of allowed transitions from 0 ending in the stored status',
    '  (one row into a final status for a final order), or a stored event has no history row that emits it, or a',
    '  final order has not exactly one terminal event, at its terminal row;',
    '  DB≠Kafka: the terminal event on Kafka does not announce the stored status, or a ce_id is not that of a',
    '  stored event of its type, derived from its stored sequence (OrderCreated: 0).',
    '- unexpected 5xx: every 5xx answer except the 503s answered while PostgreSQL (or, in p, PgBouncer) was down (up',
    '  to 10 s after its restart), counted apart as "503 during outage" (expected, not a failure). other unexpected: 4xx answers and',
    '  connection errors that no fault explains (the 409s of the losers of a race are expected). bad error body: an',
    '  error that is not a JSON {code, message} or shows internals (stack, paths, SQL). hung: no answer within 30 s.',
    '  A 202 (not committed within the wait) is allowed, repeated by the driver, and noted under the table.',
    '- Information only: "503 during outage", "conn. errors, API down" (while the API process was dead and',
    '  restarting), "redelivered" (orders with an event delivered twice under the same ce_id: at-least-once).',
    '',
    format(header),
    `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`,
    ...lines.map(format),
  ];
  for (const row of rows) {
    if ('error' in row) continue;
    for (const violation of row.violations) out.push(`${row.fault}: FAILED CHECK: ${violation}`);
    for (const note of row.notes) out.push(`${row.fault}: ${note}`);
  }
  return `${out.join('\n')}\n`;
}

/** What makes a row fail: a non-zero column, or a failed scenario check. */
export function rowProblems(row: FaultRow): string[] {
  return [
    ...ZERO_COLUMNS.filter((column) => row[column] !== 0).map((column) => `${column} = ${row[column]}`),
    ...row.violations,
  ];
}
