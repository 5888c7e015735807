// The order-summary example against the real service: an environment of its own (database,
// task queue, topics), the worker, the API and the summary consumer as child processes, a load
// of orders through every kind of path, faults in the middle, and the projection compared with
// the service's database. Used by the example's test (worker and consumer SIGKILLed) and by the
// fault suite's scenario (Kafka restarted as well).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { migrateDatabase } from '../../../src/db/migrate.js';
import { newCreateOrder } from '../../../test/support/orders.js';
import { type AppProcess, freePort, startApiProcess, startWorkerProcess } from '../../../test/support/processes.js';
import { TOKENS, testEnvironment } from '../../../test/support/stack.js';
import { eventually } from '../../../test/support/wait.js';
import { readSummary, type Summary } from '../src/projection.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const SCHEMA = 'order_summary';
/** Customers, and orders per customer: one of each path per customer, twice. */
const CUSTOMERS = 4;
const PATHS = ['cancel', 'complete', 'amend-confirm-complete', 'confirm-hold-release'] as const;
const ROUNDS = 2;
export const ORDER_COUNT = CUSTOMERS * PATHS.length * ROUNDS;

export interface SummaryProcess {
  child: ChildProcess;
  output: string[];
  exited: Promise<unknown>;
}

const kafkaOf = (env: Record<string, string>) =>
  new Kafka({ clientId: 'order-summary-test', brokers: env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING });

/** The summary consumer (examples/order-summary/src/main.ts), ready once it says it consumes. */
async function startSummaryConsumer(env: Record<string, string>): Promise<SummaryProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'examples/order-summary/src/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    stream.on('data', (chunk: Buffer) => output.push(...chunk.toString('utf8').split('\n').filter(Boolean)));
  }
  const exited = new Promise((resolve) => child.on('exit', resolve));
  await eventually(
    'the summary consumer to consume',
    () => {
      if (child.exitCode !== null) throw new Error(`summary consumer exited:\n${output.slice(-20).join('\n')}`);
      return output.some((line) => line.includes('order-summary: consuming')) ? true : undefined;
      // After a SIGKILL the group waits out the dead member's session before the new one joins.
    },
    90_000,
  );
  return { child, output, exited };
}

interface Order {
  orderId: string;
  status: string;
  total: number;
}

/**
 * Sends a request until its effect shows: 200/201 end it; 202, 503 and network errors are asked
 * again once a GET shows the order is not yet where `done` wants it (a worker may be dead).
 */
async function until200(
  api: () => string,
  method: string,
  path: string,
  body: unknown,
  done: (order: Order) => boolean,
  orderId?: string,
): Promise<Order> {
  const deadline = Date.now() + 150_000;
  for (;;) {
    try {
      const response = await fetch(`${api()}${path}`, {
        method,
        headers: { authorization: `Bearer ${TOKENS.all}`, 'content-type': 'application/json' },
        body: JSON.stringify(body ?? {}),
        signal: AbortSignal.timeout(30_000),
      });
      const answer = (await response.json()) as Order;
      if (response.status === 200 || response.status === 201) return answer;
      if (response.status === 409 || response.status === 400) {
        // A repeat of a transition that did happen (hold, release) is refused: the order tells.
        const current = orderId === undefined ? undefined : await read(api(), orderId);
        if (current !== undefined && done(current)) return current;
        if (response.status === 400) throw new Error(`${method} ${path}: 400 ${JSON.stringify(answer)}`);
      }
      if (orderId !== undefined) {
        const current = await read(api(), orderId).catch(() => undefined);
        if (current !== undefined && done(current)) return current;
      }
    } catch (error) {
      if ((error as Error).message.includes(': 400 ')) throw error;
    }
    if (Date.now() > deadline) throw new Error(`${method} ${path}: no final answer in 150 s`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function read(url: string, orderId: string): Promise<Order> {
  const response = await fetch(`${url}/orders/${orderId}`, {
    headers: { authorization: `Bearer ${TOKENS.all}` },
    signal: AbortSignal.timeout(10_000),
  });
  if (response.status !== 200) throw new Error(`GET ${orderId}: ${response.status}`);
  return (await response.json()) as Order;
}

/** One order through its path; resolves when the API answered every step. */
async function runPath(api: () => string, customerId: string, path: (typeof PATHS)[number]): Promise<void> {
  const command = newCreateOrder({ customerId });
  const created = await until200(api, 'POST', '/orders', command, () => true);
  const { orderId } = created;
  const at = (target: string) => (order: Order) => order.status === target;
  const step = (method: string, to: string, body: unknown, done: (order: Order) => boolean) =>
    until200(api, method, `/orders/${orderId}${to}`, body, done, orderId);
  switch (path) {
    case 'cancel':
      await step('POST', '/cancel', { reason: 'CUSTOMER_REQUESTED' }, at('CANCELLED'));
      return;
    case 'complete':
      await step('POST', '/complete', {}, at('COMPLETED'));
      return;
    case 'amend-confirm-complete': {
      const items = [{ productId: randomUUID(), quantity: 3, unitPrice: 1250 }];
      await step('PATCH', '', { items, reason: 'one more' }, (order) => order.total === 3750);
      await step('POST', '/confirm', {}, at('CONFIRMED'));
      await step('POST', '/complete', {}, at('COMPLETED'));
      return;
    }
    case 'confirm-hold-release':
      await step('POST', '/confirm', {}, at('CONFIRMED'));
      await step(
        'POST',
        '/hold',
        {
          reason: 'PAYMENT_REVIEW',
          ownerTeam: 'payments-ops',
          reviewBy: new Date(Date.now() + 86_400_000).toISOString(),
        },
        at('ON_HOLD'),
      );
      await step('POST', '/release', { resolution: 'payment checked', nextStatus: 'CONFIRMED' }, at('CONFIRMED'));
      return;
  }
}

/** The summary the service's database implies: what the projection must equal. */
async function expectedSummary(db: pg.Pool): Promise<Summary> {
  const byCustomerStatus = await db.query(
    `SELECT customer_id AS "customerId", status, count(*)::int AS orders FROM orders GROUP BY 1, 2 ORDER BY 1, 2`,
  );
  const revenueByDay = await db.query(
    `SELECT to_char((completed_at AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD') AS day, currency,
            sum(total_cents)::int AS "revenueCents", count(*)::int AS orders
     FROM orders WHERE completed_at IS NOT NULL GROUP BY 1, 2 ORDER BY 1, 2`,
  );
  return { byCustomerStatus: byCustomerStatus.rows, revenueByDay: revenueByDay.rows };
}

export interface Fault {
  /** When it strikes: after this many orders have gone through their whole path. */
  afterOrders: number;
  /** What it does; the scenario goes on with the processes it returns. */
  strike(running: Running): Promise<void>;
}

export interface Running {
  env: Record<string, string>;
  worker: AppProcess;
  api: AppProcess & { url: string };
  consumer: SummaryProcess;
  restartWorker(): Promise<void>;
  restartConsumer(): Promise<void>;
  /** Stops the consumer, moves its group back to the topic's beginning, starts it again: every event comes again. */
  replayFromBeginning(): Promise<void>;
}

export interface ScenarioResult {
  projection: Summary;
  expected: Summary;
  /** ce_ids the service stored (its outbox) and the consumer recorded as applied, and how many of those it applied. */
  storedEventIds: string[];
  appliedEventIds: string[];
  /** Orders per status in the service's database. */
  ordersByStatus: Record<string, number>;
  /** Log lines of the consumer processes saying a sequence anomaly or a dead letter. */
  consumerTrouble: string[];
  /** How many redelivered events the consumers found already applied (and skipped). */
  redeliveriesSkipped: number;
  faults: string[];
}

/**
 * Runs the scenario in an environment called `name` (its own database orders_summary_<name>,
 * task queue and topics), with `faults` striking as the load goes.
 */
export async function runSummaryScenario(name: string, faults: Fault[]): Promise<ScenarioResult> {
  const base = testEnvironment();
  const run = randomUUID().slice(0, 8);
  const database = `orders_summary_${name}`;
  const serverUrl = new URL(base.DATABASE_URL!);
  const databaseUrl = Object.assign(new URL(serverUrl), { pathname: `/${database}` }).toString();
  const admin = new pg.Client({
    connectionString: Object.assign(new URL(serverUrl), { pathname: '/postgres' }).toString(),
  });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${database}`);
  await admin.query(`CREATE DATABASE ${database}`);
  await admin.end();
  await migrateDatabase(databaseUrl);

  const env: Record<string, string> = {
    ...base,
    DATABASE_URL: databaseUrl,
    TEMPORAL_TASK_QUEUE: `orders-summary-${name}`,
    KAFKA_TOPIC_PREFIX: `summary-${name}-${run}.`,
    // A consumer group gets every command: this environment's worker serves none.
    COMMANDS_ENABLED: 'false',
    ORDER_SUMMARY_DATABASE_URL: databaseUrl,
    ORDER_SUMMARY_GROUP: `order-summary-${run}`,
    ORDER_SUMMARY_SCHEMA: SCHEMA,
  };
  const processes: { stop(signal?: NodeJS.Signals): unknown }[] = [];
  const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const struck: string[] = [];
  const topic = `${env.KAFKA_TOPIC_PREFIX}ordering.orders`;
  try {
    const port = await freePort();
    // Whichever process of each kind runs at the end is stopped (faults replace them).
    let running: Running | undefined;
    const worker = await startWorkerProcess(env);
    processes.push({ stop: () => (running?.worker ?? worker).stop('SIGKILL') });
    const api = await startApiProcess(env, port);
    processes.push({ stop: () => api.stop('SIGKILL') });
    // The worker made the topics; the consumer subscribes to them.
    const consumer = await startSummaryConsumer(env);
    const consumerLines: string[] = [];
    processes.push({
      stop: () => {
        const current = running?.consumer ?? consumer;
        consumerLines.push(...current.output);
        current.child.kill('SIGKILL');
      },
    });
    running = {
      env,
      worker,
      api,
      consumer,
      async restartWorker() {
        this.worker = await startWorkerProcess(env);
      },
      async restartConsumer() {
        consumerLines.push(...this.consumer.output);
        this.consumer = await startSummaryConsumer(env);
      },
      async replayFromBeginning() {
        await eventually('events applied before the replay', async () => {
          const { rows } = await db.query(`SELECT count(*)::int AS applied FROM ${SCHEMA}_consumer.processed_events`);
          return rows[0].applied > 0 ? true : undefined;
        });
        this.consumer.child.kill('SIGTERM');
        await this.consumer.exited;
        const kafkaAdmin = kafkaOf(env).admin();
        await kafkaAdmin.connect();
        try {
          // Offsets of an empty group: kafkajs refuses while the SIGTERMed member's session lasts.
          await eventually('the group to be empty', async () =>
            (await kafkaAdmin.describeGroups([env.ORDER_SUMMARY_GROUP!])).groups[0]?.state === 'Empty'
              ? true
              : undefined,
          );
          await kafkaAdmin.resetOffsets({ groupId: env.ORDER_SUMMARY_GROUP!, topic, earliest: true });
        } finally {
          await kafkaAdmin.disconnect();
        }
        await this.restartConsumer();
      },
    };
    const scenario = running;

    let finished = 0;
    const pending = [...faults].sort((a, b) => a.afterOrders - b.afterOrders);
    let striking = Promise.resolve();
    const jobs = Array.from({ length: ROUNDS }, () =>
      Array.from({ length: CUSTOMERS }, () => randomUUID()).flatMap((customerId) =>
        PATHS.map((path) => ({ customerId, path })),
      ),
    ).flat();
    let next = 0;
    const lanes = Array.from({ length: 6 }, async () => {
      while (next < jobs.length) {
        const job = jobs[next++]!;
        await runPath(() => scenario.api.url, job.customerId, job.path);
        finished++;
        while (pending[0] !== undefined && finished >= pending[0].afterOrders) {
          const fault = pending.shift()!;
          striking = striking.then(() => fault.strike(scenario));
          struck.push(`after ${finished} orders`);
        }
      }
    });
    await Promise.all(lanes);
    await striking;

    const expected = await expectedSummary(db);
    const readStoredAndApplied = async () => {
      const stored = await db.query<{ event_id: string }>('SELECT event_id::text FROM order_events ORDER BY 1');
      const applied = await db.query<{ event_id: string }>(
        `SELECT event_id FROM ${SCHEMA}_consumer.processed_events ORDER BY 1`,
      );
      return { stored: stored.rows.map((row) => row.event_id), applied: applied.rows.map((row) => row.event_id) };
    };
    // Settled once the projection equals the database and every stored event is applied: events
    // that move no counter (and those the outbox sweeper publishes after the outage) come later.
    const settled = async () => {
      const [summary, events] = await Promise.all([readSummary(db, SCHEMA), readStoredAndApplied()]);
      return { summary, ...events };
    };
    const final = await eventually(
      'a projection equal to the database, every stored event applied',
      async () => {
        const state = await settled();
        return JSON.stringify(state.summary) === JSON.stringify(expected) &&
          JSON.stringify(state.applied) === JSON.stringify(state.stored)
          ? state
          : undefined;
      },
      90_000,
    ).catch(settled);
    const statuses = await db.query<{ status: string; orders: number }>(
      'SELECT status, count(*)::int AS orders FROM orders GROUP BY 1',
    );
    return {
      projection: final.summary,
      expected,
      storedEventIds: final.stored,
      appliedEventIds: final.applied,
      ordersByStatus: Object.fromEntries(statuses.rows.map((row) => [row.status, row.orders])),
      redeliveriesSkipped: [...consumerLines, ...scenario.consumer.output].filter((line) =>
        line.includes('redelivered event already applied'),
      ).length,
      consumerTrouble: [...consumerLines, ...scenario.consumer.output].filter((line) =>
        /sequence anomaly|dead-lettered/.test(line),
      ),
      faults: struck,
    };
  } finally {
    await Promise.all(processes.map((process) => process.stop('SIGKILL')));
    await db.end();
    const kafka = new Kafka({
      clientId: 'order-summary-test',
      brokers: env.KAFKA_BROKERS!.split(','),
      logLevel: logLevel.NOTHING,
    });
    const kafkaAdmin = kafka.admin();
    await kafkaAdmin.connect();
    const topics = (await kafkaAdmin.listTopics()).filter((candidate) => candidate.startsWith(env.KAFKA_TOPIC_PREFIX!));
    await kafkaAdmin.deleteTopics({ topics }).catch(() => undefined);
    await kafkaAdmin.disconnect();
  }
}
