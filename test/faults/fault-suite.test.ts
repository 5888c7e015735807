// The fault suite (`npm run test:faults`): the API and the worker run as real child processes
// on the local stack while a load of orders goes through create → read → complete/cancel and
// a fault happens. Afterwards PostgreSQL and Kafka must show every order exactly once, in its
// expected final state, with a status history that accounts for it, announced by exactly one
// OrderCreated and one terminal event, in order. Scenario e races 20 transitions on each order.
// The scenarios stop and start Kafka and PostgreSQL: they always restore them, even on failure.
import { appendFileSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOrderWorkflowBundles } from '../../scripts/build-workflows.js';
import { loadConfig } from '../../src/config.js';
import { migrateDatabase } from '../../src/db/migrate.js';
import { type CommandName, commandsFrom, isTerminal, type OrderStatus, targetOf } from '../../src/domain/lifecycle.js';
import { connectTemporal } from '../../src/temporal/client.js';
import { tracedBundlePath } from '../../src/worker.js';
import { ARCHIVE_SWEEP_WORKFLOW_TYPE, type ArchiveSweepResult } from '../../src/workflows/definitions.js';
import { collectOrderEvents } from '../support/events.js';
import { connectPgBouncerAdmin, viaPgBouncer } from '../support/pgbouncer.js';
import { type AppProcess, startApiProcess, startWorkerProcess } from '../support/processes.js';
import { testEnvironment, topicsOf } from '../support/stack.js';
import { ARCHIVE_CUSTOMER, checkArchival, countArchived, loadDueOrders } from './archive-sweep.js';
import { checkScenario, explainedBy, type FaultRow, type FaultWindow, formatTable, rowProblems } from './check.js';
import { killPartitionLeader, restartTemporalService, stopTemporalServiceFor } from './cluster-faults.js';
import {
  CREATED_STATUS,
  createOrder,
  LOAD_ACTIONS,
  type Load,
  newOrderRun,
  type OrderRun,
  type RequestRecord,
  type Sent,
  send,
  sendTransition,
  startLoad,
} from './load.js';
import { serviceState, stackCommand, waitUntil } from './stack-control.js';

/** A task queue and a port of the suite's own: the in-process integration setup is not involved. */
const TASK_QUEUE = 'orders-faults';
const API_PORT = 3901;
/**
 * STACK_PROFILE=cluster (scripts/stack-cluster.sh): the scenarios of the cluster's own faults
 * (a Kafka partition leader, Temporal's services) instead of those of the default profile.
 */
const CLUSTER = process.env.STACK_PROFILE === 'cluster';
const ORDERS = 250;
const CONCURRENCY = 24;
/** When the fault strikes: after this many orders of the scenario have finished. */
const FAULT_AFTER = 50;
/** Scenario e: transitions racing on each order, and orders (rounds), one after the other. */
const RACE_SIZE = 20;
const RACE_ROUNDS = 10;
/** Scenario f: identical CreateOrders sent to both APIs at once. */
const DUPLICATE_PAIRS = 10;
/** Scenario g: confirmed orders with their amendment window open, a quarter of them held, amended while the worker dies. */
const DEADLINE_ORDERS = 40;
/** Scenario h: due orders the archive sweep archives while the worker and PostgreSQL fail. */
const ARCHIVE_ORDERS = 4000;
const AMENDMENTS_PER_ORDER = 3;
const AMENDMENT_WINDOW_MS = 10_000;

const env: Record<string, string> = {
  ...testEnvironment(),
  TEMPORAL_TASK_QUEUE: TASK_QUEUE,
  // An environment of its own on the shared stack (its namespace, topics and consumer groups).
  TEMPORAL_NAMESPACE: 'orders-faults',
  KAFKA_TOPIC_PREFIX: 'faults.',
  // A metrics port of its own, and no consumer of ordering.commands: each consumer group gets every
  // command, and the suite's worker must not serve (and be killed serving) those of other test runs.
  COMMANDS_ENABLED: 'false',
  WORKER_METRICS_ADDRESS: `127.0.0.1:${API_PORT + 1}`,
  // Scenario g watches amendment windows close; the other scenarios never confirm an order.
  AMENDMENT_WINDOW_MS: String(AMENDMENT_WINDOW_MS),
};
// A workflow bundle built once, so that a (re)started worker polls within seconds, as in production.
const WORKFLOW_BUNDLE = join(tmpdir(), `order-faults-workflow-bundle-${process.pid}.js`);
// startWorkerProcess waits until the worker's metrics endpoint (WORKER_METRICS_ADDRESS) shows
// workflow-task pollers, so no log level is needed for its readiness.
let workerEnv: Record<string, string> = { ...env, WORKFLOW_BUNDLE_PATH: WORKFLOW_BUNDLE };
const brokers = env.KAFKA_BROKERS!.split(',');
const RESULTS_FILE = fileURLToPath(new URL('../../test-results/faults.txt', import.meta.url));

let db: pg.Pool;
let worker: AppProcess;
let api: AppProcess & { url: string };
const rows: (FaultRow | { fault: string; error: string })[] = [];
const suiteStartedAt = Date.now();

const alive = (app: AppProcess | undefined) =>
  app !== undefined && app.child.exitCode === null && app.child.signalCode === null;
const baseUrl = () => api.url;

/** The last lines a process printed, for failure messages. */
const lastLines = (app: AppProcess, count = 20) =>
  app.output
    .slice(-count)
    .map((line) => line.slice(0, 600))
    .join('\n');

/** Processes the suite itself stopped or killed; any other exit is a failure of the scenario. */
const intentional = new WeakSet<AppProcess['child']>();
/** Unexpected exits since the last scenario's check, with the process's last words. */
const unexpectedExits: string[] = [];

function watch<T extends AppProcess>(app: T): T {
  void app.exited.then((code) => {
    if (!intentional.has(app.child)) unexpectedExits.push(`${app.name} exited by itself (${code}):\n${lastLines(app)}`);
    // Every line each process printed, killed or not, for reading after the suite (test-results/faults.api.log, …).
    mkdirSync(dirname(RESULTS_FILE), { recursive: true });
    appendFileSync(
      join(dirname(RESULTS_FILE), `faults.${app.name}.log`),
      `${app.output.join('\n')}\n--- exited (${code})\n`,
    );
  });
  return app;
}

/** Kills a process on purpose (the fault) and waits for its exit. */
async function kill(app: AppProcess, signal: NodeJS.Signals): Promise<number | string> {
  intentional.add(app.child);
  return app.stop(signal);
}

/** SIGTERM, and SIGKILL if the process has not exited after `timeoutMs` (says so on the console). */
async function stopProcess(app: AppProcess | undefined, timeoutMs = 60_000): Promise<void> {
  if (app === undefined || !alive(app)) return;
  intentional.add(app.child);
  const timer = setTimeout(() => {
    console.warn(`${app.name} did not exit within ${timeoutMs} ms of SIGTERM: SIGKILL`);
    app.child.kill('SIGKILL');
  }, timeoutMs);
  await app.stop('SIGTERM');
  clearTimeout(timer);
}

/** The API's environment: `env`, but for scenario p, which points both processes at PgBouncer. */
let apiEnv = env;

/** Both infrastructure services up and both processes running: the state every scenario starts from and ends in. */
async function restoreStack(): Promise<void> {
  await (CLUSTER ? stackCommand('start') : stackCommand('start', 'postgres', 'pgbouncer', 'kafka'));
  if (!alive(worker)) worker = watch(await startWorkerProcess(workerEnv));
  if (!alive(api)) api = watch(await startApiProcess(apiEnv, API_PORT));
}

beforeAll(async () => {
  for (const name of ['api', 'worker']) rmSync(join(dirname(RESULTS_FILE), `faults.${name}.log`), { force: true });
  await buildOrderWorkflowBundles(WORKFLOW_BUNDLE);
  await restoreStack();
  await migrateDatabase(env.DATABASE_URL!);
  db = new pg.Pool({ connectionString: env.DATABASE_URL, max: 4, idleTimeoutMillis: 1_000 });
  // Idle connections die when PostgreSQL restarts: that must not crash the test process.
  db.on('error', () => undefined);
}, 180_000);

afterAll(async () => {
  const table = formatTable(rows);
  console.log(`\n${table}\nfault suite: ${Math.round((Date.now() - suiteStartedAt) / 1000)} s`);
  mkdirSync(dirname(RESULTS_FILE), { recursive: true });
  writeFileSync(RESULTS_FILE, table);
  await Promise.all([stopProcess(api), stopProcess(worker)]);
  await db?.end();
  rmSync(WORKFLOW_BUNDLE, { force: true });
  rmSync(tracedBundlePath(WORKFLOW_BUNDLE), { force: true });
}, 120_000);

interface FaultContext {
  load: Load;
  notes: string[];
  violations: string[];
}

/**
 * Runs one scenario: `body` returns its row of the table (the scenario's own violations and
 * notes added); processes that exited unexpectedly meanwhile fail it. A scenario that throws
 * still gets its line in the table.
 */
async function scenario(fault: string, body: () => Promise<FaultRow>): Promise<void> {
  let row: FaultRow;
  try {
    row = await body();
  } catch (error) {
    rows.push({ fault, error: (error as Error).message.split('\n')[0]! });
    throw error;
  }
  row.violations.push(...unexpectedExits.splice(0));
  rows.push(row);
  expect(rowProblems(row), formatTable([row])).toEqual([]);
}

/** The fault table's row for the scenario's orders and answers, once PostgreSQL and Kafka have settled. */
function checkOrders(
  fault: string,
  runs: OrderRun[],
  records: RequestRecord[],
  windows: FaultWindow[],
  startedAt: number,
) {
  return checkScenario({
    fault,
    db,
    brokers,
    topic: topicsOf(env).events,
    openEvents: () => collectOrderEvents(brokers, topicsOf(env).events),
    runs,
    records,
    windows,
    startedAt,
  });
}

/**
 * Runs a load of orders, lets `inject` cause the fault (returning the windows in which non-2xx
 * answers are expected), restores the stack whatever happens, waits for the load, and checks.
 */
function runScenario(
  fault: string,
  inject: (context: FaultContext) => Promise<FaultWindow[]>,
  { noRedelivery = false } = {},
): Promise<void> {
  return scenario(fault, async () => {
    await restoreStack();
    const startedAt = Date.now();
    let faultOver = false;
    // The load goes on at least until the fault is over, so the fault never hits an idle system.
    const load = startLoad({ baseUrl, orders: ORDERS, concurrency: CONCURRENCY, keepGoing: () => !faultOver });
    const context: FaultContext = { load, notes: [], violations: [] };
    let windows: FaultWindow[] = [];
    let failure: unknown;
    try {
      await waitUntil(`${FAULT_AFTER} finished orders`, () => load.finished() >= FAULT_AFTER, 120_000);
      windows = await inject(context);
    } catch (error) {
      failure = error;
    } finally {
      faultOver = true;
      await restoreStack().catch((error: unknown) => {
        failure ??= error;
      });
    }
    await load.done;
    if (failure !== undefined) throw failure;
    const row = await checkOrders(fault, load.runs, load.records, windows, startedAt);
    row.violations.push(...context.violations);
    if (noRedelivery && row.redelivered > 0) {
      row.violations.push(
        `${row.redelivered} orders had an event on the topic twice (the idempotent producer must prevent it)`,
      );
    }
    row.notes.push(...context.notes);
    // What the worker said last tells why events stayed unpublished or orders open.
    if (row.lost > 0 || row.wrongStatus > 0) row.notes.push(`the worker's last lines:\n${lastLines(worker, 15)}`);
    return row;
  });
}

/** Orders whose every request (create, read, complete/cancel) ran inside [from, to]. */
const lifecyclesWithin = (runs: OrderRun[], records: RequestRecord[], from: number, to: number) =>
  runs.filter((run) => {
    const own = records.filter((record) => record.order === run.index);
    return (
      run.endedAt !== undefined &&
      run.failure === undefined &&
      own.length > 0 &&
      own.every((record) => record.startedAt >= from && record.endedAt <= to)
    );
  });

describe.skipIf(CLUSTER)('fault suite', () => {
  it('a. the worker killed with SIGKILL mid-load, then restarted', () => workerKill('a. worker SIGKILL'));

  it('b. the Kafka broker stopped for ~20 s mid-load: the API keeps serving, the events catch up', async () => {
    await runScenario('b. Kafka down 20 s', async ({ load, notes, violations }) => {
      await stackCommand('stop', 'kafka');
      const downAt = Date.now();
      let startedAt = downAt;
      try {
        // ~20 s of outage during which whole order lifecycles must go through the API.
        await waitUntil('20 s of Kafka outage', () => Date.now() - downAt >= 20_000, 30_000);
        const state = await serviceState('kafka');
        if (state !== 'stopped') notes.push(`kafka was ${state} at the end of the outage (someone started it)`);
      } finally {
        startedAt = Date.now();
        await stackCommand('start', 'kafka');
      }
      const upAt = Date.now();
      const during = lifecyclesWithin(load.runs, load.records, downAt, upAt);
      const ended = LOAD_ACTIONS.map((action) => ({
        action,
        count: during.filter((run) => run.action === action).length,
      }));
      const endings = ended.map(({ action, count }) => `${count}× ${action}`).join(', ');
      const seconds = (from: number) => Math.round((upAt - from) / 1000);
      notes.push(
        `Kafka down ${seconds(downAt)} s (${seconds(startedAt)} s of it starting up); ` +
          `during it ${during.length} orders went all through the API: created, read, then ${endings}`,
      );
      for (const { action } of ended.filter(({ count }) => count === 0)) {
        violations.push(`no order was created, read and ended by ${action} while Kafka was down`);
      }
      // Every answer during the outage had to be a 2xx: any other counts as unexpected (no window).
      return [];
    });
  });

  it('c. PostgreSQL restarted mid-load: 503 with a JSON error meanwhile, recovery by itself', () =>
    postgresRestart('c. PostgreSQL restart'));

  it('d. the API process killed mid-request: no half-created order, the retry completes the creation', async () => {
    await runScenario('d. API SIGKILL', async ({ load, notes, violations }) => {
      await waitUntil('creates in flight', () => load.inFlight('create') >= 4, 60_000);
      const creates = load.inFlight('create');
      const from = Date.now();
      expect(await kill(api, 'SIGKILL')).toBe('SIGKILL');
      api = watch(await startApiProcess(env, API_PORT));
      const to = Date.now();
      notes.push(`killed with ${creates} creates in flight; the new API answered after ${to - from} ms`);
      await waitUntil(
        'an order finished after the restart',
        () => load.runs.some((run) => (run.endedAt ?? 0) > to),
        120_000,
      );
      const interrupted = load.runs.filter((run) => run.createInterrupted);
      // That each of them was completed by the retry is the "lost" column's business.
      notes.push(`${interrupted.length} creates interrupted by the kill, then retried`);
      if (interrupted.length === 0) violations.push('no create was interrupted by the kill');
      return [{ from, to: to + 5_000, allow: ['network'] }];
    });
  });

  it('f. two APIs and two workers on one task queue: duplicates through both make one order; one worker SIGKILLed', async () => {
    const fault = 'f. 2 APIs × 2 workers';
    await scenario(fault, async () => {
      await restoreStack();
      const secondWorker = watch(
        await startWorkerProcess({ ...workerEnv, WORKER_METRICS_ADDRESS: `127.0.0.1:${API_PORT + 3}` }),
      );
      const secondApi = watch(await startApiProcess(env, API_PORT + 2));
      const startedAt = Date.now();
      const notes: string[] = [];
      const violations: string[] = [];
      try {
        // The same CreateOrder sent to both APIs at once: one order, one 201, the other 200.
        const pairs: OrderRun[] = [];
        const pairRecords: RequestRecord[] = [];
        for (let index = 0; index < DUPLICATE_PAIRS; index++) {
          const run = newOrderRun(ORDERS * 10 + index, 'complete');
          const [first, second] = await Promise.all([
            createOrder({ ...run }, () => api.url, pairRecords),
            createOrder({ ...run }, () => secondApi.url, pairRecords),
          ]);
          if (first === undefined || first !== second) violations.push(`pair ${index}: orders ${first} and ${second}`);
          run.orderId = first;
          const created = pairRecords.filter((record) => record.order === run.index && record.op === 'create');
          if (created.filter((record) => record.outcome === 201).length !== 1) {
            violations.push(`pair ${index}: ${created.map((record) => record.outcome).join('/')} instead of one 201`);
          }
          if (first !== undefined)
            await sendTransition(pairRecords, secondApi.url, run.index, first, 'complete', index);
          run.endedAt = Date.now();
          pairs.push(run);
        }

        // A load spread over both APIs; one of the two workers is killed mid-way and not restarted.
        let turn = 0;
        let faultOver = false;
        const load = startLoad({
          baseUrl: () => (turn++ % 2 === 0 ? api.url : secondApi.url),
          orders: ORDERS,
          concurrency: CONCURRENCY,
          keepGoing: () => !faultOver,
        });
        try {
          await waitUntil(`${FAULT_AFTER} finished orders`, () => load.finished() >= FAULT_AFTER, 120_000);
          const inFlight = load.inFlight();
          expect(await kill(secondWorker, 'SIGKILL')).toBe('SIGKILL');
          const killedAt = Date.now();
          notes.push(`second worker killed with ${inFlight} requests in flight; the first one carried on alone`);
          await waitUntil(
            'an order finished after the kill',
            () => load.runs.some((run) => (run.endedAt ?? 0) > killedAt + 1_000),
            120_000,
          );
        } finally {
          faultOver = true;
        }
        await load.done;
        const row = await checkOrders(
          fault,
          [...pairs, ...load.runs],
          [...pairRecords, ...load.records],
          [],
          startedAt,
        );
        row.violations.push(...violations);
        row.notes.push(`${DUPLICATE_PAIRS} CreateOrders sent to both APIs at once: one order each`, ...notes);
        return row;
      } finally {
        await stopProcess(secondApi);
        await stopProcess(secondWorker);
      }
    });
  });

  it(`e. a race of ${RACE_SIZE} mixed transitions per order: one wins, others repeat (200) or lose (409)`, () =>
    race(`e. race of ${RACE_SIZE} transitions`));

  it('g. the worker SIGKILLed with deadlines pending and amendments in flight: each deadline fires once', () =>
    deadlines('g. worker SIGKILL, deadlines'));

  it(`h. the archive sweep over ${ARCHIVE_ORDERS} due orders: worker SIGKILLed and PostgreSQL restarted mid-batch`, () =>
    archiveSweep('h. archive sweep, SIGKILL + PG restart'));

  it('p. behind PgBouncer (transaction pooling): PgBouncer restarted mid-load, 503 meanwhile at most', () =>
    pgbouncerRestart('p. PgBouncer restart'));
});

// Cache pressure is a fault too: with a worker cache far below the orders in flight, runs are
// evicted mid-task and replayed, Updates land on runs being replayed, local activities are
// cancelled by the eviction. Those scenarios again, with a cache of 2: each must stay all-zero.
describe.skipIf(CLUSTER)('fault suite, worker cache of 2 (WORKER_MAX_CACHED_WORKFLOWS=2)', () => {
  beforeAll(async () => {
    workerEnv = { ...workerEnv, WORKER_MAX_CACHED_WORKFLOWS: '2' };
    // The next scenario's restoreStack starts a worker with it.
    await stopProcess(worker);
  }, 120_000);

  it('a. the worker killed with SIGKILL mid-load, cache of 2', () => workerKill('a. worker SIGKILL, cache 2'));
  it('c. PostgreSQL restarted mid-load, cache of 2', () => postgresRestart('c. PostgreSQL restart, cache 2'));
  it(`e. a race of ${RACE_SIZE} transitions per order, cache of 2`, () => race(`e. race of ${RACE_SIZE}, cache 2`));
  it('g. the worker SIGKILLed with deadlines pending, cache of 2', () => deadlines('g. SIGKILL, deadlines, cache 2'));
});

// The cluster profile's own faults: a replicated Kafka losing a partition leader, and each of
// Temporal's services (history, matching, frontend) failing on its own under load.
describe.runIf(CLUSTER)('fault suite, cluster profile (3 Kafka brokers, Temporal services on PostgreSQL)', () => {
  it('k. the Kafka broker leading the events partitions SIGKILLed mid-load, restarted 20 s later', () =>
    runScenario('k. Kafka leader SIGKILL', (context) => killPartitionLeader(context, brokers, topicsOf(env).events), {
      noRedelivery: true,
    }));
  it('l. the Temporal history service SIGKILLed mid-load, then restarted', () =>
    runScenario('l. history SIGKILL', (context) => restartTemporalService(context, 'history', 'SIGKILL')));
  it('m. the Temporal matching service restarted mid-load', () =>
    runScenario('m. matching restart', (context) => restartTemporalService(context, 'matching', 'SIGTERM')));
  it('n. the Temporal frontend restarted mid-load', () =>
    runScenario('n. frontend restart', (context) => restartTemporalService(context, 'frontend', 'SIGTERM')));
  it('o. the history service SIGKILLed while a batch of amendment windows comes due: each deadline fires once', () =>
    deadlines('o. history SIGKILL, deadlines', (notes) =>
      stopTemporalServiceFor(notes, 'history', AMENDMENT_WINDOW_MS),
    ));
});

// ---- Scenarios run with both cache sizes ------------------------------------------------

/** Scenario a: the worker killed with SIGKILL mid-load, then restarted. */
async function workerKill(fault: string): Promise<void> {
  await runScenario(fault, async ({ load, notes, violations }) => {
    const inFlight = load.inFlight();
    const killedAt = Date.now();
    expect(await kill(worker, 'SIGKILL')).toBe('SIGKILL');
    worker = watch(await startWorkerProcess(workerEnv));
    const restartedAt = Date.now();
    notes.push(`killed with ${inFlight} requests in flight; the new worker polled after ${restartedAt - killedAt} ms`);
    if (inFlight === 0) violations.push('no request was in flight when the worker was killed');
    // The orders caught mid-way must still finish: checked by the columns. Here: the load did span the kill.
    await waitUntil(
      'an order finished after the restart',
      () => load.runs.some((run) => (run.endedAt ?? 0) > restartedAt),
      120_000,
    );
    return [];
  });
}

/** Scenario c: PostgreSQL restarted mid-load; 503 with a JSON error meanwhile, recovery by itself. */
async function postgresRestart(fault: string): Promise<void> {
  // "By itself": neither process may exit (runScenario fails the scenario on any exit it did not cause).
  await runScenario(fault, async ({ load, notes }) => {
    const from = Date.now();
    let restartedAt = from;
    try {
      await stackCommand('stop', 'postgres');
      const downAt = Date.now();
      const answered503 = () =>
        load.records.filter((record) => record.startedAt >= from && record.outcome === 503).length;
      // Down long enough for the API to answer a number of requests with 503.
      await waitUntil(
        '503 answers while PostgreSQL is down',
        () => Date.now() - downAt >= 5_000 && answered503() >= 10,
        30_000,
      );
      notes.push(`PostgreSQL down ${Math.round((Date.now() - downAt) / 1000)} s`);
    } finally {
      await stackCommand('start', 'postgres');
      restartedAt = Date.now();
    }
    await waitUntil(
      'an order finished after the restart',
      () => load.runs.some((run) => (run.endedAt ?? 0) > restartedAt),
      120_000,
    );
    const late = load.records.filter((record) => record.outcome === 503 && record.startedAt > restartedAt).length;
    notes.push(`${late} 503s to requests begun after PostgreSQL was back (within the 10 s of grace)`);
    return [{ from, to: restartedAt + 10_000, allow: ['503'] }];
  });
}

/**
 * Scenario p: the API and the worker behind PgBouncer (DATABASE_URL on its port, transaction
 * pooling), PgBouncer restarted mid-load: every pooled connection drops at once. 503 meanwhile at
 * most, recovery by itself; the processes go back to PostgreSQL directly afterwards.
 */
async function pgbouncerRestart(fault: string): Promise<void> {
  const direct = { api: apiEnv, worker: workerEnv };
  await Promise.all([stopProcess(api), stopProcess(worker)]);
  apiEnv = { ...apiEnv, DATABASE_URL: viaPgBouncer(env.DATABASE_URL!) };
  workerEnv = { ...workerEnv, DATABASE_URL: apiEnv.DATABASE_URL! };
  try {
    await runScenario(fault, async ({ load, notes, violations }) => {
      const from = Date.now();
      const admin = await connectPgBouncerAdmin();
      const database = new URL(env.DATABASE_URL!).pathname.slice(1);
      const before = await admin.stats(database).finally(() => admin.close());
      let restartedAt = from;
      try {
        await stackCommand('restart', 'pgbouncer');
      } finally {
        restartedAt = Date.now();
        await stackCommand('start', 'pgbouncer');
      }
      await waitUntil(
        'an order finished after the restart',
        () => load.runs.some((run) => (run.endedAt ?? 0) > restartedAt),
        120_000,
      );
      // The counters start again at the restart: what they count since went through the new PgBouncer.
      const after = await connectPgBouncerAdmin();
      const since = await after.stats(database).finally(() => after.close());
      const answered503 = load.records.filter((record) => record.startedAt >= from && record.outcome === 503).length;
      notes.push(
        `PgBouncer restarted in ${restartedAt - from} ms with ${load.inFlight()} requests in flight; ` +
          `${before.transactions} transactions through it before, ${since.transactions} through the new one since; ${answered503} answers 503`,
      );
      if (since.transactions === 0) violations.push('no transaction went through PgBouncer after its restart');
      return [{ from, to: restartedAt + 10_000, allow: ['503'] }];
    });
  } finally {
    await Promise.all([stopProcess(api), stopProcess(worker)]);
    apiEnv = direct.api;
    workerEnv = direct.worker;
  }
}

/** Scenario e: RACE_ROUNDS orders, one after the other, each with RACE_SIZE transitions racing on it. */
async function race(fault: string): Promise<void> {
  await scenario(fault, async () => {
    await restoreStack();
    const startedAt = Date.now();
    const runs: OrderRun[] = [];
    const records: RequestRecord[] = [];
    const violations: string[] = [];
    const notes: string[] = [];
    const winners: string[] = [];
    for (let round = 0; round < RACE_ROUNDS; round++) {
      const { run, winner } = await raceRound(round, records, violations, notes);
      runs.push(run);
      if (winner !== undefined) winners.push(winner);
    }
    const row = await checkOrders(fault, runs, records, [], startedAt);
    // No fault here: each event goes out exactly once, so each order has one terminal event on Kafka.
    if (row.redelivered > 0) violations.push(`${row.redelivered} orders had an event delivered more than once`);
    row.violations.push(...violations);
    row.notes.push(
      `winners: ${summarize(winners)}`,
      ...notes.slice(0, 3),
      ...(notes.length > 3 ? [`… ${notes.length - 3} more rounds`] : []),
    );
    return row;
  });
}

/** Scenario g's fault, struck once the first amendments are answered; the windows of answers it explains. */
type DeadlineFault = (notes: string[]) => Promise<FaultWindow[]>;

/** The worker SIGKILLed and started again. */
const killWorker: DeadlineFault = async (notes) => {
  expect(await kill(worker, 'SIGKILL')).toBe('SIGKILL');
  worker = watch(await startWorkerProcess(workerEnv));
  notes.push('worker SIGKILLed and started again');
  return [];
};

/**
 * Scenario g: the worker SIGKILLed (or another fault: `inject`) with deadlines pending and
 * amendments in flight; each deadline fires once.
 */
async function deadlines(fault: string, inject: DeadlineFault = killWorker): Promise<void> {
  await scenario(fault, async () => {
    await restoreStack();
    const startedAt = Date.now();
    const records: RequestRecord[] = [];
    const violations: string[] = [];
    const notes: string[] = [];
    const kafkaEvents = await collectOrderEvents(brokers, topicsOf(env).events);
    try {
      const orders = await confirmedOrders(records, violations);
      const open = orders.filter((order) => !order.held);
      let answered = 0;
      const amending = Promise.all(
        open.map(async (order, index) => {
          for (let round = 0; round < AMENDMENTS_PER_ORDER; round++) {
            const body = { promotionCode: `P${index}-${round}`, reason: 'customer asked' };
            const sent = await send(records, baseUrl(), 'amend', index, 'PATCH', `/orders/${order.orderId}`, body);
            answered++;
            if (sent.outcome === 200) order.amended++;
          }
        }),
      );
      // The fault strikes with amendments in flight and every deadline still pending.
      await waitUntil('the first amendments answered', () => answered >= open.length, 60_000);
      const struckAfter = answered;
      const windows = await inject(notes);
      notes.push(
        `the fault struck after ${struckAfter} amendments were answered; ${orders.length - open.length} orders held`,
      );
      await amending;
      // Each window closes (AMENDMENT_WINDOW_MS after confirmation) and each hold review comes, on the new worker.
      await waitUntil(
        'every deadline carried out',
        async () => {
          const { rows } = await db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM orders WHERE order_id = ANY($1::uuid[])
               AND (status = 'AWAITING_FULFILMENT' OR (status = 'ON_HOLD' AND hold_overdue))`,
            [orders.map((order) => order.orderId)],
          );
          const { rows: unpublished } = await db.query<{ n: number }>(
            'SELECT count(*)::int AS n FROM order_events WHERE order_id = ANY($1::uuid[]) AND published_at IS NULL',
            [orders.map((order) => order.orderId)],
          );
          return rows[0]?.n === orders.length && unpublished[0]?.n === 0;
        },
        90_000,
      ).catch((error: unknown) => violations.push((error as Error).message));
      // A doubled timer would show a few seconds late: give it the time to.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      const row: FaultRow = {
        fault,
        orders: orders.length,
        lost: 0,
        invented: 0,
        halfCreated: 0,
        duplicatedCeId: 0,
        outOfOrder: 0,
        wrongStatus: 0,
        badHistory: 0,
        dbKafkaDisagree: 0,
        unexpected5xx:
          records.filter((record) => typeof record.outcome === 'number' && record.outcome >= 500).length -
          explained503(records, windows),
        unexpectedOther: 0,
        badErrorBody: 0,
        hung: records.filter((record) => record.outcome === 'timeout').length,
        expected503: explained503(records, windows),
        expectedNetwork: 0,
        redelivered: 0,
        requests: records.length,
        seconds: Math.round((Date.now() - startedAt) / 1000),
        violations,
        notes,
      };
      for (const order of orders) {
        for (const { column, problem } of await deadlineProblems(order, kafkaEvents)) {
          row[column]++;
          if (row.notes.length < 12) row.notes.push(problem);
        }
      }
      const late = records.filter((record) => record.op === 'amend' && record.outcome === 409).length;
      const pending = records.filter((record) => record.op === 'amend' && record.outcome === 202).length;
      row.notes.push(
        `amendments: ${orders.reduce((sum, order) => sum + order.amended, 0)} answered 200, ${pending} 202 (not committed within the wait: the fault), ` +
          `${late} 409 (window closed)`,
      );
      return row;
    } finally {
      await kafkaEvents.close();
    }
  });
}

// ---- Scenario g: deadlines and amendments across a worker crash --------------------------

interface DeadlineOrder {
  orderId: string;
  held: boolean;
  /** Amendments answered 200: committed for sure. */
  amended: number;
}

/** Creates, confirms and (a quarter of them) holds the scenario's orders; each held one's review is due in 4 s. */
async function confirmedOrders(records: RequestRecord[], violations: string[]): Promise<DeadlineOrder[]> {
  const orders: DeadlineOrder[] = [];
  await Promise.all(
    Array.from({ length: DEADLINE_ORDERS }, async (_, index) => {
      const run = newOrderRun(1_000 + index, 'complete');
      const orderId = await createOrder(run, baseUrl, records);
      if (orderId === undefined) return violations.push(`order ${index} not created: ${run.failure}`);
      const confirmed = await send(records, baseUrl(), 'confirm', run.index, 'POST', `/orders/${orderId}/confirm`);
      if (confirmed.outcome !== 200) return violations.push(`confirm of ${orderId} answered ${confirmed.outcome}`);
      const held = index % 4 === 0;
      if (held) {
        const reviewBy = new Date(Date.now() + 4_000).toISOString();
        const body = { reason: 'PAYMENT_REVIEW', ownerTeam: 'payments', reviewBy };
        const answer = await send(records, baseUrl(), 'hold', run.index, 'POST', `/orders/${orderId}/hold`, body);
        if (answer.outcome !== 200) return violations.push(`hold of ${orderId} answered ${answer.outcome}`);
      }
      orders.push({ orderId, held, amended: 0 });
    }),
  );
  return orders;
}

/** What PostgreSQL and Kafka say of one order of scenario g, against what must be. */
async function deadlineProblems(
  order: DeadlineOrder,
  kafkaEvents: Awaited<ReturnType<typeof collectOrderEvents>>,
): Promise<
  { column: 'lost' | 'duplicatedCeId' | 'wrongStatus' | 'badHistory' | 'dbKafkaDisagree'; problem: string }[]
> {
  const problems: Awaited<ReturnType<typeof deadlineProblems>> = [];
  const { rows: orderRows } = await db.query('SELECT status, revision, hold_overdue FROM orders WHERE order_id = $1', [
    order.orderId,
  ]);
  const row = orderRows[0] as { status: string; revision: number; hold_overdue: boolean } | undefined;
  const { rows: history } = await db.query<{ command: string; actor: string }>(
    'SELECT command, actor FROM order_status_history WHERE order_id = $1 ORDER BY sequence',
    [order.orderId],
  );
  const count = (command: string) => history.filter((change) => change.command === command).length;
  const { rows: stored } = await db.query<{ event_type: string; event_id: string }>(
    'SELECT event_type, event_id FROM order_events WHERE order_id = $1',
    [order.orderId],
  );
  const seen = kafkaEvents.ofOrder(order.orderId);
  const distinct = new Map(seen.map((event) => [event.headers.ce_id, event.headers.ce_type]));
  if (row === undefined) return [{ column: 'lost', problem: `order ${order.orderId} missing` }];
  if (order.held) {
    if (row.status !== 'ON_HOLD' || !row.hold_overdue) {
      problems.push({
        column: 'wrongStatus',
        problem: `held order ${order.orderId}: ${row.status}, overdue ${row.hold_overdue}`,
      });
    }
  } else {
    if (row.status !== 'AWAITING_FULFILMENT') {
      problems.push({ column: 'wrongStatus', problem: `order ${order.orderId}: ${row.status}, window not closed` });
    }
    const closings = history.filter((change) => change.command === 'releaseToFulfilment');
    if (closings.length !== 1 || closings[0]?.actor !== 'temporal:amendment-window') {
      problems.push({
        column: 'badHistory',
        problem: `order ${order.orderId}: window closed ${closings.length} times`,
      });
    }
  }
  // Every amendment once: in the history, the revision, the outbox and on Kafka; each one answered 200 among them.
  const amendEvents = [...distinct.values()].filter((type) => type === 'OrderAmended').length;
  if (count('amend') !== row.revision - 1 || count('amend') < order.amended) {
    problems.push({
      column: 'badHistory',
      problem: `order ${order.orderId}: ${count('amend')} amendments in history, revision ${row.revision}, ${order.amended} answered 200`,
    });
  }
  if (amendEvents !== count('amend')) {
    problems.push({
      column: 'dbKafkaDisagree',
      problem: `order ${order.orderId}: ${amendEvents} OrderAmended on Kafka`,
    });
  }
  if (distinct.size !== stored.length || stored.some((event) => !distinct.has(event.event_id))) {
    problems.push({
      column: distinct.size > stored.length ? 'duplicatedCeId' : 'lost',
      problem: `order ${order.orderId}: ${stored.length} events stored, ${distinct.size} distinct on Kafka`,
    });
  }
  return problems;
}

/** The 503 answers to requests begun inside a window that allows them. */
const explained503 = (records: RequestRecord[], windows: FaultWindow[]) =>
  records.filter((record) => record.outcome === 503 && explainedBy(windows, record, '503')).length;

// ---- Scenario e: a race of transitions on one order -------------------------------------

/** The racing commands of a round: each command that ends a new order, in turn, shuffled so any may arrive first. */
function racingCommands(): CommandName[] {
  const allowed = commandsFrom(CREATED_STATUS).filter((name) => isTerminal(targetOf(name)));
  const commands = Array.from({ length: RACE_SIZE }, (_, index) => allowed[index % allowed.length]!);
  for (let i = commands.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [commands[i], commands[j]] = [commands[j]!, commands[i]!];
  }
  return commands;
}

/**
 * Judges a race by its answers. Every 200 shows the same status, the winner's target: the
 * winner and its repeats. Every command leading elsewhere lost: 409 TRANSITION_NOT_ALLOWED,
 * marked expected for the checker. A 202 tells nothing (the checker counts it), and any other
 * answer is the checker's business too.
 */
function judgeRace(commands: CommandName[], answers: Sent[]): { winner?: OrderStatus; problems: string[] } {
  const shown = new Set(answers.filter(({ outcome }) => outcome === 200).map(({ answer }) => answer?.body?.status));
  if (shown.size === 0) {
    // Every one answered 202 (none committed within the API's wait, which the contract allows):
    // the answers tell nothing, and the order's history judges the race.
    if (answers.every(({ outcome }) => outcome === 202)) return { problems: [] };
    return { problems: [`no transition answered 200: ${summarize(answers.map((a) => a.outcome))}`] };
  }
  if (shown.size > 1) return { problems: [`the 200 answers show different statuses: ${[...shown].join(', ')}`] };
  const winner = [...shown][0] as OrderStatus;
  const problems: string[] = [];
  answers.forEach(({ outcome, record }, index) => {
    const command = commands[index]!;
    const repeatsWinner = targetOf(command) === winner;
    if (outcome === 200 && !repeatsWinner) problems.push(`a ${command} answered 200 although the order is ${winner}`);
    if (outcome === 409 && record.code === 'TRANSITION_NOT_ALLOWED') {
      if (repeatsWinner) problems.push(`a ${command} answered 409 although it repeats the winning transition`);
      else record.expected = true;
    }
  });
  return { winner, problems };
}

/** The transitions in the order's status history after its creation, as GET /orders/{id}/history shows them. */
async function transitionsInHistory(
  records: RequestRecord[],
  round: number,
  orderId: string,
): Promise<{ command: string; to: string }[] | undefined> {
  const { answer } = await send(records, baseUrl(), 'read', round, 'GET', `/orders/${orderId}/history`);
  if (answer?.status !== 200 || !Array.isArray(answer.body?.history)) return undefined;
  return answer.body.history.filter((change: { sequence: number }) => change.sequence > 0);
}

/**
 * One round of scenario e: one order, then RACE_SIZE transitions racing on it over HTTP.
 * Exactly one may win (200, changed): the order's history then shows that one transition, and
 * the order must end in the winner's target (the checker's "wrong status").
 */
async function raceRound(
  round: number,
  records: RequestRecord[],
  violations: string[],
  notes: string[],
): Promise<{ run: OrderRun; winner?: OrderStatus }> {
  const commands = racingCommands();
  // Its action becomes the winner's once the answers tell it.
  const run = newOrderRun(round, commands[0]!);
  try {
    const orderId = await createOrder(run, baseUrl, records);
    // Without an order there is no race: run.failure says why, and the checker reports it.
    if (orderId === undefined) return { run };
    const answers = await Promise.all(
      commands.map((command, index) => sendTransition(records, baseUrl(), round, orderId, command, index)),
    );
    const judged = judgeRace(commands, answers);
    const { problems } = judged;
    let winner = judged.winner;
    violations.push(...problems.map((problem) => `round ${round}: ${problem}`));
    if (winner === undefined && problems.length === 0) {
      // All 202: the winner is the one transition the order's history shows once it is committed.
      const committed = await waitUntil(
        `round ${round}: a transition of order ${orderId} in its history`,
        async () => ((await transitionsInHistory(records, round, orderId))?.length ?? 0) > 0,
        60_000,
      )
        .then(() => transitionsInHistory(records, round, orderId))
        .catch(() => undefined);
      winner = committed?.[0]?.to as OrderStatus | undefined;
      if (winner === undefined) violations.push(`round ${round}: all 202 and no transition in the history after 60 s`);
    }
    notes.push(`round ${round}: ${winner ?? 'no winner'}; answers ${answersByCommand(commands, answers)}`);
    if (winner === undefined) return { run };
    run.action = commands.find((command) => targetOf(command) === winner) ?? run.action;
    const transitions = await transitionsInHistory(records, round, orderId);
    if (transitions === undefined) violations.push(`round ${round}: GET /orders/${orderId}/history failed`);
    else if (transitions.length !== 1 || transitions[0]!.to !== winner) {
      const shown = transitions.map((change) => `${change.command}→${change.to}`).join(', ') || 'no transition';
      violations.push(`round ${round}: the history shows ${shown}, expected one transition, into ${winner}`);
    }
    return { run, winner };
  } finally {
    run.endedAt = Date.now();
  }
}

/** Each command's answers, e.g. "complete 10×200; cancel 10×409". */
function answersByCommand(commands: CommandName[], answers: Sent[]): string {
  return [...new Set(commands)]
    .map((command) => {
      const outcomes = answers.filter((_, index) => commands[index] === command).map(({ outcome }) => outcome);
      return `${command} ${summarize(outcomes)}`;
    })
    .join('; ');
}

function summarize(outcomes: (number | string)[]): string {
  const counts = new Map<number | string, number>();
  for (const outcome of outcomes) counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  return [...counts].map(([outcome, count]) => `${count}×${outcome}`).join(' ');
}

/**
 * Scenario h: ARCHIVE_ORDERS orders ended 200 days ago, archived by one sweep (the workflow the
 * Schedule starts, started here at once) while the worker is SIGKILLed (the sweep's activity
 * resumes on the new worker once its heartbeat times out) and then PostgreSQL is restarted (the
 * activity fails and is retried). Every order must end ARCHIVED exactly once, its OrderArchived
 * written once and published.
 */
async function archiveSweep(fault: string): Promise<void> {
  await scenario(fault, async () => {
    await restoreStack();
    const startedAt = Date.now();
    const notes: string[] = [];
    const violations: string[] = [];
    await loadDueOrders(db, ARCHIVE_ORDERS);
    const temporal = await connectTemporal(loadConfig(env));
    let result: ArchiveSweepResult | undefined;
    try {
      const sweep = await temporal.client.workflow.start(ARCHIVE_SWEEP_WORKFLOW_TYPE, {
        taskQueue: TASK_QUEUE,
        workflowId: `faults-archive-sweep-${ARCHIVE_CUSTOMER}`,
        args: [{ archiveAfterMs: 90 * 24 * 3_600_000, batchSize: 200 }],
      });
      const archivedWhen = async (share: number) =>
        waitUntil(
          `${share * 100} % of the due orders archived`,
          async () => (await countArchived(db)) >= ARCHIVE_ORDERS * share,
          180_000,
        );
      await archivedWhen(0.1);
      const killedAt = await countArchived(db);
      expect(await kill(worker, 'SIGKILL')).toBe('SIGKILL');
      worker = watch(await startWorkerProcess(workerEnv));
      notes.push(`worker SIGKILLed at ${killedAt} archived`);
      await archivedWhen(Math.min(1, (killedAt + 600) / ARCHIVE_ORDERS));
      const restartedAt = await countArchived(db);
      try {
        await stackCommand('stop', 'postgres');
      } finally {
        await stackCommand('start', 'postgres');
      }
      notes.push(`PostgreSQL restarted at ${restartedAt} archived`);
      if (restartedAt >= ARCHIVE_ORDERS) violations.push('the sweep ended before PostgreSQL was restarted');
      result = (await sweep.result()) as ArchiveSweepResult;
      notes.push(`the sweep's last attempt archived ${result.archived}, skipped ${result.skipped}`);
    } finally {
      await temporal.close();
    }
    // What Kafka did not take in the sweep, the outbox sweeper publishes.
    await waitUntil(
      'every OrderArchived published',
      async () => (await checkArchival(db)).unpublished === 0,
      120_000,
    ).catch(() => undefined);
    const found = await checkArchival(db);
    return {
      fault,
      orders: found.orders,
      lost: found.notArchived + (ARCHIVE_ORDERS - found.orders),
      invented: 0,
      halfCreated: 0,
      duplicatedCeId: found.extra,
      outOfOrder: 0,
      wrongStatus: 0,
      badHistory: 0,
      dbKafkaDisagree: found.unpublished,
      unexpected5xx: 0,
      unexpectedOther: 0,
      badErrorBody: 0,
      hung: result === undefined ? 1 : 0,
      expected503: 0,
      expectedNetwork: 0,
      redelivered: 0,
      requests: 0,
      seconds: Math.round((Date.now() - startedAt) / 1000),
      violations,
      notes,
    };
  });
}
