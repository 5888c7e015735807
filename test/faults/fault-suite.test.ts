// The fault suite (`npm run test:faults`): the API and the worker run as real child processes
// on the local stack while a load of orders goes through create → read → complete/cancel and
// a fault happens. Afterwards PostgreSQL and Kafka must show every order exactly once, in its
// expected final state, announced by exactly one OrderCreated and one terminal event, in order.
// The scenarios stop and start Kafka and PostgreSQL: they always restore them, even on failure.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrateDatabase } from '../../src/db/migrate.js';
import { orderIdForCart } from '../../src/ids.js';
import { collectOrderEvents } from '../support/events.js';
import { newCreateOrder } from '../support/orders.js';
import { type AppProcess, startApiProcess, startWorkerProcess } from '../support/processes.js';
import { testEnvironment } from '../support/stack.js';
import { checkScenario, type FaultRow, type FaultWindow, formatTable, rowProblems } from './check.js';
import { type Load, type OrderRun, type RequestRecord, send, startLoad } from './load.js';
import { serviceState, stackCommand, waitUntil } from './stack-control.js';

/** A task queue and a port of the suite's own: the in-process integration setup is not involved. */
const TASK_QUEUE = 'orders-faults';
const API_PORT = 3901;
const ORDERS = 250;
const CONCURRENCY = 24;
/** When the fault strikes: after this many orders of the scenario have finished. */
const FAULT_AFTER = 50;

const env: Record<string, string> = {
  ...testEnvironment(),
  TEMPORAL_TASK_QUEUE: TASK_QUEUE,
  // A metrics port of its own, and no consumer of ordering.commands: each consumer group gets every
  // command, and the suite's worker must not serve (and be killed serving) those of other test runs.
  COMMANDS_ENABLED: 'false',
  COMMANDS_CONSUMER_GROUP: 'order-service-commands-faults',
  WORKER_METRICS_ADDRESS: `127.0.0.1:${API_PORT + 1}`,
};
// A workflow bundle built once, so that a (re)started worker polls within seconds, as in production.
const WORKFLOW_BUNDLE = join(tmpdir(), `order-faults-workflow-bundle-${process.pid}.js`);
// startWorkerProcess waits for the worker's "worker polling" line, logged at info.
const workerEnv = { ...env, LOG_LEVEL: 'info', WORKFLOW_BUNDLE_PATH: WORKFLOW_BUNDLE };
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

/** Both infrastructure services up and both processes running: the state every scenario starts from and ends in. */
async function restoreStack(): Promise<void> {
  await stackCommand('start', 'postgres', 'kafka');
  if (!alive(worker)) worker = watch(await startWorkerProcess(workerEnv));
  if (!alive(api)) api = watch(await startApiProcess(env, API_PORT));
}

beforeAll(async () => {
  const { code } = await bundleWorkflowCode({
    workflowsPath: fileURLToPath(new URL('../../src/workflows/index.ts', import.meta.url)),
    logger: new DefaultLogger('WARN'),
  });
  writeFileSync(WORKFLOW_BUNDLE, code);
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
}, 120_000);

interface FaultContext {
  load: Load;
  notes: string[];
  violations: string[];
}

/**
 * Runs a load of orders, lets `inject` cause the fault (returning the windows in which non-2xx
 * answers are expected), restores the stack whatever happens, waits for the load, and checks.
 */
async function runScenario(fault: string, inject: (context: FaultContext) => Promise<FaultWindow[]>): Promise<void> {
  try {
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
    const row = await checkScenario({
      fault,
      db,
      brokers,
      openEvents: () => collectOrderEvents(brokers),
      runs: load.runs,
      records: load.records,
      windows,
      startedAt,
    });
    row.violations.push(...context.violations, ...unexpectedExits.splice(0));
    row.notes.push(...context.notes);
    rows.push(row);
    expect(rowProblems(row), formatTable([row])).toEqual([]);
  } catch (error) {
    if (!rows.some((row) => row.fault === fault)) rows.push({ fault, error: (error as Error).message.split('\n')[0]! });
    throw error;
  }
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

describe('fault suite', () => {
  it('a. the worker killed with SIGKILL mid-load, then restarted', async () => {
    await runScenario('a. worker SIGKILL', async ({ load, notes, violations }) => {
      const inFlight = load.inFlight();
      const killedAt = Date.now();
      expect(await kill(worker, 'SIGKILL')).toBe('SIGKILL');
      worker = watch(await startWorkerProcess(workerEnv));
      const restartedAt = Date.now();
      notes.push(`killed with ${inFlight} requests in flight; new worker polling after ${restartedAt - killedAt} ms`);
      if (inFlight === 0) violations.push('no request was in flight when the worker was killed');
      // The orders caught mid-way must still finish: checked by the columns. Here: the load did span the kill.
      await waitUntil(
        'an order finished after the restart',
        () => load.runs.some((run) => (run.endedAt ?? 0) > restartedAt),
        120_000,
      );
      return [];
    });
  });

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
      const completed = during.filter((run) => run.action === 'complete').length;
      const cancelled = during.length - completed;
      notes.push(
        `Kafka down ${Math.round((upAt - downAt) / 1000)} s (${Math.round((upAt - startedAt) / 1000)} s of it starting up); during it ${during.length} orders went all through the API: created, read, then ${completed} completed and ${cancelled} cancelled`,
      );
      if (completed === 0 || cancelled === 0) {
        violations.push('no order was created, read and completed (or cancelled) while Kafka was down');
      }
      // Every answer during the outage had to be a 2xx: any other counts as unexpected (no window).
      return [];
    });
  });

  it('c. PostgreSQL restarted mid-load: 503 with a JSON error meanwhile, recovery by itself', async () => {
    // "By itself": neither process may exit (runScenario fails the scenario on any exit it did not cause).
    await runScenario('c. PostgreSQL restart', async ({ load, notes }) => {
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
  });

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

  it('e. 50 concurrent identical creates → one order; 50 concurrent cancel/complete → one terminal state', async () => {
    const fault = 'e. 50× concurrent';
    const ROUNDS = 10;
    const startedAt = Date.now();
    try {
      await restoreStack();
      const runs: OrderRun[] = [];
      const records: RequestRecord[] = [];
      const violations: string[] = [];
      const notes: string[] = [];
      let accepted202 = 0;
      for (let round = 0; round < ROUNDS; round++) {
        const command = newCreateOrder();
        const run: OrderRun = {
          index: round,
          command,
          action: 'complete',
          expected: 'COMPLETED',
          createInterrupted: false,
          startedAt: Date.now(),
        };
        runs.push(run);
        const creates = await Promise.all(
          Array.from({ length: 50 }, () => send(records, baseUrl(), 'create', round, 'POST', '/orders', command)),
        );
        const statuses = creates.map(({ outcome }) => outcome);
        const ids = new Set(creates.map(({ answer }) => answer?.body?.orderId));
        if (
          statuses.filter((status) => status === 201).length !== 1 ||
          !statuses.every((s) => s === 201 || s === 200)
        ) {
          violations.push(`round ${round}: creates answered ${summarize(statuses)} (expected one 201 and 49 200)`);
        }
        if (ids.size !== 1) violations.push(`round ${round}: creates answered ${ids.size} different orderIds`);
        run.orderId = [...ids][0];
        const orderId = orderIdForCart(command.cartId);

        // 25 completes and 25 cancels, in a random order: either may win.
        const kinds = Array.from({ length: 50 }, (_, index) => index % 2 === 0);
        for (let i = kinds.length - 1; i > 0; i--) {
          const j = Math.floor(Math.random() * (i + 1));
          [kinds[i], kinds[j]] = [kinds[j]!, kinds[i]!];
        }
        const transitions = await Promise.all(
          kinds.map((complete) =>
            complete
              ? send(records, baseUrl(), 'complete', round, 'POST', `/orders/${orderId}/complete`)
              : send(records, baseUrl(), 'cancel', round, 'POST', `/orders/${orderId}/cancel`, {
                  reason: 'CUSTOMER_REQUESTED',
                }),
          ),
        );
        // Winners answer 200 with the new status; losers 409 TRANSITION_NOT_ALLOWED.
        const winners = new Set<string>();
        for (const { outcome, answer, record } of transitions) {
          if (outcome === 200) winners.add(answer?.body?.status);
          else if (outcome === 202) accepted202++;
          else if (outcome === 409 && record.code === 'TRANSITION_NOT_ALLOWED') record.expected = true;
        }
        if (winners.size !== 1) {
          violations.push(`round ${round}: transitions answered 200 with ${winners.size} different statuses`);
        } else {
          run.expected = [...winners][0] as 'COMPLETED' | 'CANCELLED';
          run.action = run.expected === 'COMPLETED' ? 'complete' : 'cancel';
        }
        notes.push(
          `round ${round}: ${run.expected}; transitions answered ${summarize(transitions.map((t) => t.outcome))}`,
        );
        run.endedAt = Date.now();
      }
      if (accepted202 > 0) notes.push(`${accepted202} transitions answered 202 (accepted, not yet persisted)`);
      const row = await checkScenario({
        fault,
        db,
        brokers,
        openEvents: () => collectOrderEvents(brokers),
        runs,
        records,
        windows: [],
        startedAt,
      });
      // No fault here: each event goes out exactly once.
      if (row.redelivered > 0) violations.push(`${row.redelivered} orders had an event delivered more than once`);
      row.violations.push(...violations, ...unexpectedExits.splice(0));
      row.notes.push(...notes.slice(0, 3), ...(notes.length > 3 ? [`… ${notes.length - 3} more rounds`] : []));
      rows.push(row);
      expect(rowProblems(row), formatTable([row])).toEqual([]);
    } catch (error) {
      if (!rows.some((row) => row.fault === fault))
        rows.push({ fault, error: (error as Error).message.split('\n')[0]! });
      throw error;
    }
  });
});

function summarize(outcomes: (number | string)[]): string {
  const counts = new Map<number | string, number>();
  for (const outcome of outcomes) counts.set(outcome, (counts.get(outcome) ?? 0) + 1);
  return [...counts].map(([outcome, count]) => `${count}×${outcome}`).join(' ');
}
