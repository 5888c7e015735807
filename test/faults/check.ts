// After a scenario: what PostgreSQL and Kafka hold for the orders the load created, compared
// with what the API answered, and the answers themselves, as one row of the fault table.
import { Kafka, logLevel } from 'kafkajs';
import type pg from 'pg';
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
  'dbKafkaDisagree',
  'unexpected5xx',
  'unexpectedOther',
  'badErrorBody',
  'hung',
] as const satisfies readonly (keyof FaultRow)[];

const TERMINAL = new Set(['OrderCompleted', 'OrderCancelled']);
const EVENT_OF_STATUS: Record<string, string> = { COMPLETED: 'OrderCompleted', CANCELLED: 'OrderCancelled' };

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `query` until it succeeds (the pool may hold connections from before a PostgreSQL restart). */
async function query<Row extends object>(db: pg.Pool, text: string, values: unknown[]): Promise<Row[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    try {
      return (await db.query<Row>(text, values)).rows;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await pause(250);
    }
  }
}

interface OrderRow {
  order_id: string;
  cart_id: string;
  status: string;
  items: number;
}
interface EventRow {
  event_id: string;
  order_id: string;
  event_type: string;
  published: boolean;
}

/** The orders of the scenario's carts, and any other order of its (fresh, random) customers. */
async function readDatabase(db: pg.Pool, carts: string[], customers: string[]) {
  const orders = await query<OrderRow>(
    db,
    `SELECT o.order_id, o.cart_id, o.status,
            (SELECT count(*)::int FROM order_items i WHERE i.order_id = o.order_id) AS items
       FROM orders o WHERE o.cart_id = ANY($1::uuid[]) OR o.customer_id = ANY($2::uuid[])`,
    [carts, customers],
  );
  const events = await query<EventRow>(
    db,
    `SELECT e.event_id, e.order_id, e.event_type, e.published_at IS NOT NULL AS published
       FROM order_events e JOIN orders o USING (order_id) WHERE o.cart_id = ANY($1::uuid[])`,
    [carts],
  );
  return { orders, events };
}

/**
 * Waits (bounded) until the fresh consumer has read every message the topic held when the
 * wait began: then anything published for the scenario's orders so far has been seen.
 */
async function waitForTopicEnd(brokers: string[], events: Collector, timeoutMs: number): Promise<boolean> {
  const kafka = new Kafka({ clientId: 'order-faults-admin', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets('ordering.orders');
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

export interface CheckInput {
  fault: string;
  db: pg.Pool;
  brokers: string[];
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
  openEvents,
  runs,
  records,
  windows,
  startedAt,
  settleTimeoutMs = 120_000,
}: CheckInput): Promise<FaultRow> {
  const violations: string[] = [];
  const notes: string[] = [];
  const carts = runs.map((run) => run.command.cartId);
  const apiOrderIds = new Set(runs.flatMap((run) => (run.orderId === undefined ? [] : [run.orderId])));
  const expectedIds = new Set(runs.map((run) => orderIdForCart(run.command.cartId)));
  const customers = new Set(runs.map((run) => run.command.customerId));

  // 1. The database: every order terminal and every outbox event published (or the deadline).
  const checkStartedAt = Date.now();
  const deadline = checkStartedAt + settleTimeoutMs;
  let database = await readDatabase(db, carts, [...customers]);
  const settled = () =>
    database.orders.length === runs.length &&
    database.orders.every((order) => order.status !== 'CREATED') &&
    database.events.length === 2 * runs.length &&
    database.events.every((event) => event.published);
  while (!settled() && Date.now() < deadline) {
    await pause(500);
    database = await readDatabase(db, carts, [...customers]);
  }
  if (!settled()) {
    const unpublished = database.events.filter((event) => !event.published).length;
    const open = database.orders.filter((order) => order.status === 'CREATED').length;
    notes.push(
      `database not settled after ${settleTimeoutMs} ms: ${database.orders.length}/${runs.length} orders, ${open} still CREATED, ${unpublished} events unpublished`,
    );
  }

  // 2. Kafka, read afresh from the beginning: both events of every order (or the deadline).
  const events = await openEvents();
  let byOrder = new Map<string, SeenEvent[]>();
  try {
    const complete = () => {
      byOrder = new Map();
      for (const event of events.events) {
        const customer = event.payload.customerId;
        if (!expectedIds.has(event.key) && !(typeof customer === 'string' && customers.has(customer))) continue;
        const list = byOrder.get(event.key) ?? [];
        list.push(event);
        byOrder.set(event.key, list);
      }
      return [...expectedIds].every((orderId) => {
        const types = new Set((byOrder.get(orderId) ?? []).map((event) => event.headers.ce_type));
        return types.has('OrderCreated') && [...types].some((type) => TERMINAL.has(type as string));
      });
    };
    const kafkaDeadline = Math.max(deadline, Date.now() + 30_000);
    while (!complete() && Date.now() < kafkaDeadline) await pause(250);
    if (!(await waitForTopicEnd(brokers, events, 30_000)))
      notes.push('the consumer did not reach the end of the topic');
    complete();
  } finally {
    await events.close();
  }

  // 3. Compare: what the test created, what the database holds, what Kafka carries.
  const rowsById = new Map(database.orders.map((order) => [order.order_id, order]));
  const outboxById = new Map<string, EventRow[]>();
  for (const event of database.events) {
    const list = outboxById.get(event.order_id) ?? [];
    list.push(event);
    outboxById.set(event.order_id, list);
  }
  let lost = 0;
  let invented = 0;
  let halfCreated = 0;
  let duplicatedCeId = 0;
  let outOfOrder = 0;
  let wrongStatus = 0;
  let dbKafkaDisagree = 0;
  let redelivered = 0;
  const examples = new Map<string, string>();
  const example = (kind: string, text: string) => {
    if (!examples.has(kind)) examples.set(kind, text);
  };

  for (const run of runs) {
    const orderId = orderIdForCart(run.command.cartId);
    const row = rowsById.get(orderId);
    const seen = byOrder.get(orderId) ?? [];
    const created = seen.filter((event) => event.headers.ce_type === 'OrderCreated');
    const terminal = seen.filter((event) => TERMINAL.has(event.headers.ce_type as string));
    if (row === undefined || created.length === 0 || terminal.length === 0 || run.orderId === undefined) {
      lost++;
      example(
        'lost',
        `order ${run.index} ${orderId}: row=${row?.status ?? 'none'} created=${created.length} terminal=${terminal.length} api=${run.orderId ?? 'none'} ${run.failure ?? ''}`,
      );
    }
    if (run.orderId !== undefined && run.orderId !== orderId) {
      invented++;
      example('invented', `order ${run.index}: API answered ${run.orderId}, expected ${orderId}`);
    }
    if (row !== undefined && row.items !== run.command.items.length) {
      halfCreated++;
      example('half-created', `order ${orderId} has ${row.items} of ${run.command.items.length} items`);
    }
    const createdIds = new Set(created.map((event) => event.headers.ce_id));
    const terminalIds = new Set(terminal.map((event) => event.headers.ce_id));
    if (createdIds.size > 1 || terminalIds.size > 1) {
      duplicatedCeId++;
      example('duplicated ce_id', `order ${orderId}: ${JSON.stringify(seen.map((event) => event.headers))}`);
    }
    if (created.length + terminal.length > createdIds.size + terminalIds.size) redelivered++;
    const firstTerminal = seen.findIndex((event) => TERMINAL.has(event.headers.ce_type as string));
    const firstCreated = seen.findIndex((event) => event.headers.ce_type === 'OrderCreated');
    // One partition per order (its key), or consumers could see its events in any order.
    const partitions = new Set(seen.map((event) => event.partition)).size;
    if (partitions > 1 || (firstTerminal !== -1 && (firstCreated === -1 || firstCreated > firstTerminal))) {
      outOfOrder++;
      example(
        'out of order',
        `order ${orderId}: ${seen.map((event) => `${event.headers.ce_type}@${event.partition}`).join(', ')}`,
      );
    }
    if (row !== undefined && row.status !== run.expected) {
      wrongStatus++;
      example('wrong status', `order ${orderId}: ${row.status}, expected ${run.expected}`);
    }
    // Database and Kafka agree: the terminal event is the status's, and the ce_ids are the outbox's.
    const outbox = outboxById.get(orderId) ?? [];
    const outboxIds = new Set(outbox.map((event) => event.event_id));
    const terminalTypes = new Set(terminal.map((event) => event.headers.ce_type));
    if (
      row !== undefined &&
      (terminalTypes.size > 1 ||
        (terminal.length > 0 && !terminalTypes.has(EVENT_OF_STATUS[row.status])) ||
        [...createdIds, ...terminalIds].some((id) => !outboxIds.has(id as string)) ||
        (created.length > 0 && !createdIds.has(eventIdFor(orderId, 'OrderCreated'))))
    ) {
      dbKafkaDisagree++;
      example(
        'database and Kafka disagree',
        `order ${orderId}: status ${row.status}, outbox ${[...outboxIds].join(',')}, kafka ${JSON.stringify(
          seen.map((event) => [event.headers.ce_type, event.headers.ce_id]),
        )}`,
      );
    }
  }
  // Orders nobody asked for: rows or events for the scenario's carts/customers under other ids.
  for (const orderId of new Set([...rowsById.keys(), ...byOrder.keys(), ...apiOrderIds])) {
    if (!expectedIds.has(orderId)) {
      invented++;
      example('invented', `order ${orderId} is not the order of any of the scenario's carts`);
    }
  }

  // 4. The answers.
  const inWindow = (record: RequestRecord, kind: '503' | 'network') =>
    windows.some(
      (window) => window.allow.includes(kind) && record.startedAt <= window.to && record.endedAt >= window.from,
    );
  let unexpected5xx = 0;
  let unexpectedOther = 0;
  let badErrorBody = 0;
  let hung = 0;
  let expected503 = 0;
  let expectedNetwork = 0;
  for (const record of records) {
    const { outcome } = record;
    if (outcome === 'timeout') {
      hung++;
      example('hung', `${record.op} of order ${record.order}: no answer within the timeout`);
    } else if (outcome === 'network') {
      if (inWindow(record, 'network')) expectedNetwork++;
      else {
        unexpectedOther++;
        example('unexpected answer', `${record.op} of order ${record.order}: ${record.detail}`);
      }
    } else if (outcome >= 500) {
      if (outcome === 503 && inWindow(record, '503')) expected503++;
      else {
        unexpected5xx++;
        example('unexpected 5xx', `${record.op} of order ${record.order}: ${outcome} ${record.code ?? ''}`);
      }
    } else if (outcome >= 400 && !record.expected) {
      unexpectedOther++;
      example('unexpected answer', `${record.op} of order ${record.order}: ${outcome} ${record.code ?? ''}`);
    }
    if (typeof outcome === 'number' && outcome >= 400 && record.errorBodyOk !== true) {
      badErrorBody++;
      example('bad error body', `${record.op} of order ${record.order}: ${outcome} ${record.detail}`);
    }
  }

  notes.push(
    `load ${Math.round((checkStartedAt - startedAt) / 1000)} s, database and Kafka settled and checked in ${Math.round((Date.now() - checkStartedAt) / 1000)} s`,
  );
  const failed = runs.filter((run) => run.failure !== undefined);
  if (failed.length > 0) {
    violations.push(
      `${failed.length} orders failed in the load driver, e.g. order ${failed[0]!.index}: ${failed[0]!.failure}`,
    );
  }
  for (const [kind, text] of examples) notes.push(`${kind}, e.g. ${text}`);
  return {
    fault,
    orders: runs.length,
    lost,
    invented,
    halfCreated,
    duplicatedCeId,
    outOfOrder,
    wrongStatus,
    dbKafkaDisagree,
    unexpected5xx,
    unexpectedOther,
    badErrorBody,
    hung,
    expected503,
    expectedNetwork,
    redelivered,
    requests: records.length,
    seconds: Math.round((Date.now() - startedAt) / 1000),
    violations,
    notes,
  };
}

const COLUMNS: [keyof FaultRow, string][] = [
  ['orders', 'orders'],
  ['lost', 'lost'],
  ['invented', 'invented'],
  ['halfCreated', 'half-created'],
  ['duplicatedCeId', 'duplicated ce_id'],
  ['outOfOrder', 'out of order'],
  ['wrongStatus', 'wrong status'],
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
  const format = (cells: string[]) =>
    cells.length === header.length
      ? `| ${cells.map((cell, index) => (index === 0 ? cell.padEnd(widths[index]!) : cell.padStart(widths[index]!))).join(' | ')} |`
      : `| ${cells.join(' | ')} |`;
  const out = [
    'Fault suite: every column from "lost" to "hung" must be 0.',
    '- lost: an order the test created that is missing from PostgreSQL, or without its OrderCreated or terminal event',
    "  on Kafka; invented: an order (row or event) of the test's carts/customers that the test did not create;",
    '  half-created: an order row without all its items; duplicated ce_id: an order with more than one distinct',
    '  ce_id for OrderCreated or for its terminal event; out of order: a terminal event before OrderCreated, or an',
    "  order's events on more than one partition;",
    "  DB≠Kafka: the terminal event is not the stored status's, or a ce_id is not the one in the outbox.",
    '- unexpected 5xx: every 5xx answer except the 503s answered while PostgreSQL was down (up to 10 s after its',
    '  restart), counted apart as "503 during outage" (expected, not a failure). other unexpected: 4xx answers and',
    '  connection errors that no fault explains. bad error body: an error that is not a JSON {code, message} or',
    '  shows internals (stack, paths, SQL). hung: no answer within 30 s.',
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
