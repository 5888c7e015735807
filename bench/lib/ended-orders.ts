// What ended orders cost since the order workflow v5: the runs they leave open on Temporal (none:
// a run ends with its order), and their archival, which a sweep started by a Temporal Schedule
// does in bulk (src/workflows/archive-sweep.ts) instead of a timer in each order's run.
import { Client, Connection, ScheduleNotFoundError } from '@temporalio/client';
import type { Kafka } from 'kafkajs';
import pg from 'pg';
import type { Config } from '../../src/config.js';
import { eventsOfCommand } from '../../src/domain/lifecycle.js';
import { ensureTopics, ORDER_EVENTS_PARTITIONS, orderTopics } from '../../src/kafka/index.js';
import { archiveScheduleOptions } from '../../src/temporal/client.js';
import type { orderArchiveSweep } from '../../src/workflows/archive-sweep.js';
import { ORDER_WORKFLOW_TYPE } from '../../src/workflows/definitions.js';
import { cpuDelta, cpuPerLifecycle, cpuSnapshot } from './cpu.js';
import type { Proc } from './full-run.js';
import type { PlacedOrder } from './phases.js';
import { round } from './stats.js';

/** Visibility lags the runs' closes by a moment: the count is read again until none is open, this long at most. */
const VISIBILITY_SETTLE_MS = 10_000;
const POLL_MS = 500;
/** How often the sweep's progress (orders ARCHIVED so far) is read while it runs. */
const PROGRESS_POLL_MS = 2_000;
/** The archive worker's Schedule interval: the longest there is, so only the sweep the bench triggers runs. */
const NO_SCHEDULED_SWEEP_MS = 7 * 24 * 3_600_000;
/** The archive phase's events go to topics of their own, so the run's event watch does not read 2 per order. */
const ARCHIVE_TOPIC_PREFIX = 'bench.archive.';
/** The bench's ending mix (bench/lib/plan.ts): 7 in 10 loaded orders completed, the others cancelled. */
const COMPLETED_OUT_OF_10 = 7;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A Temporal client of the bench on the run's namespace, closed after `use`. */
async function withTemporal<T>(config: Config, use: (client: Client) => Promise<T>): Promise<T> {
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  try {
    return await use(new Client({ connection, namespace: config.TEMPORAL_NAMESPACE }));
  } finally {
    await connection.close();
  }
}

// ---- open runs of ended orders -------------------------------------------------------------------

export interface EndedOrderRuns {
  /** Orders of the phase in COMPLETED or CANCELLED in PostgreSQL. */
  endedOrders: number;
  /** Running `orderWorkflow` executions on the task queue (visibility), once settled. */
  openRuns: number;
  /** openRuns ÷ endedOrders: 0 since v5; 1 before it (each ended order's run waited for its archival). */
  perEndedOrder: number | null;
  /** How long visibility took to show none open (or the whole settle time when some stayed open). */
  settledAfterMs: number;
}

/** Running order runs on `taskQueue`, read until none is left or VISIBILITY_SETTLE_MS passed. */
async function countOpenOrderRuns(client: Client, taskQueue: string): Promise<{ count: number; afterMs: number }> {
  const query =
    `WorkflowType = '${ORDER_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running' ` +
    `AND TaskQueue = '${taskQueue.replaceAll("'", '')}'`;
  const startedAt = Date.now();
  for (;;) {
    const { count } = await client.workflow.count(query);
    const afterMs = Date.now() - startedAt;
    if (count === 0 || afterMs >= VISIBILITY_SETTLE_MS) return { count, afterMs };
    await sleep(POLL_MS);
  }
}

/** How many of `placed` are COMPLETED or CANCELLED in the order database. */
async function countEnded(databaseUrl: string, placed: PlacedOrder[]): Promise<number> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    const { rows } = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM orders
        WHERE order_id = ANY($1::uuid[]) AND status IN ('COMPLETED', 'CANCELLED')`,
      [placed.map((order) => order.orderId)],
    );
    return rows[0]?.n ?? 0;
  } finally {
    await db.end();
  }
}

/**
 * The order runs still open on `taskQueue` per order the phase ended. Read right after the
 * closed loop, when every order on the queue has ended (open orders come later).
 */
export async function measureEndedOrderRuns(options: {
  config: Config;
  databaseUrl: string;
  taskQueue: string;
  placed: PlacedOrder[];
}): Promise<EndedOrderRuns> {
  const endedOrders = await countEnded(options.databaseUrl, options.placed);
  const open = await withTemporal(options.config, (client) => countOpenOrderRuns(client, options.taskQueue));
  return {
    endedOrders,
    openRuns: open.count,
    perEndedOrder: endedOrders === 0 ? null : round(open.count / endedOrders, 3),
    settledAfterMs: open.afterMs,
  };
}

// ---- the archive sweep over N due orders --------------------------------------------------------

export interface ArchiveFigures {
  /** Ended orders loaded, all due. */
  orders: number;
  loadSeconds: number;
  /** The sweep's input, as the Schedule passes it (the worker's ARCHIVE_AFTER_MS, ARCHIVE_BATCH_SIZE). */
  archiveAfterMs: number;
  batchSize: number;
  workflowId: string;
  /** The sweep workflow's start to its close (Temporal's times). */
  sweepSeconds: number;
  /** Orders archived ÷ sweepSeconds. */
  archivePerSec: number;
  /** The sweep's result. */
  archived: number;
  skipped: number;
  unpublished: number;
  /** Orders not ARCHIVED, left in the hot table, or without their archive history row or OrderArchived event. */
  lost: number;
  /** Archive history rows and OrderArchived events beyond one per order. */
  duplicated: number;
  /** OrderArchived events still unpublished in the outbox after the sweep. */
  eventsUnpublished: number;
  temporalCpuMsPerArchivedOrder: number | null;
  workerCpuMsPerArchivedOrder: number | null;
  /** CPU ms per archived order of each part during the sweep (`other`: the rest of the machine). */
  cpuMsPerArchivedOrderByPart: Record<string, number>;
  /** Orders ARCHIVED so far, every PROGRESS_POLL_MS, in seconds from the sweep's start: whether the pace holds. */
  progress: { seconds: number; archived: number }[];
  workerPeakRssMb: number;
}

/**
 * Loads `count` orders that ended before `endedBefore`, a second apart (70 % completed, 30 %
 * cancelled), as the service leaves them: two items, the history of the create and of the ending
 * transition, their events published. The database is emptied first.
 */
async function loadEndedOrders(db: pg.Client, count: number, endedBefore: Date): Promise<number> {
  const startedAt = performance.now();
  // The archive tables and the outbox too: since migration 0009 no foreign key ties them to orders.
  await db.query(
    `TRUNCATE orders, order_items, order_status_history, order_events, customer_erased_orders,
              orders_archive, order_items_archive, order_status_history_archive, order_events_archive CASCADE`,
  );
  await db.query(
    `INSERT INTO orders (order_id, cart_id, customer_id, status, total_cents, currency, created_at, updated_at,
                         completed_at, cancelled_at, cancellation_reason)
     SELECT gen_random_uuid(), gen_random_uuid(), md5('archive-customer' || (i % 5000))::uuid,
            CASE WHEN i % 10 < $3 THEN 'COMPLETED' ELSE 'CANCELLED' END,
            2 * (1000 + i % 5000), 'EUR', ended - interval '1 hour', ended,
            CASE WHEN i % 10 < $3 THEN ended END,
            CASE WHEN i % 10 >= $3 THEN ended END,
            CASE WHEN i % 10 >= $3 THEN 'CUSTOMER_REQUESTED' END
       FROM generate_series(1, $1::int) AS i,
            LATERAL (SELECT $2::timestamptz - make_interval(secs => i) AS ended) AS times`,
    [count, endedBefore, COMPLETED_OUT_OF_10],
  );
  await db.query(
    `INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents, line_number)
     SELECT order_id, md5(order_id::text || line)::uuid, 1, total_cents / 2, line
       FROM orders, generate_series(1, 2) AS line`,
  );
  await db.query(
    `INSERT INTO order_status_history (order_id, sequence, command, from_status, to_status, reason, actor, occurred_at)
     SELECT order_id, 0, 'create', NULL, 'CREATED', NULL, 'bench', created_at FROM orders
     UNION ALL
     SELECT order_id, 1, CASE status WHEN 'COMPLETED' THEN 'complete' ELSE 'cancel' END, 'CREATED', status,
            cancellation_reason, 'bench', COALESCE(completed_at, cancelled_at)
       FROM orders`,
  );
  // The events each command emits, from the transition table; all published long ago.
  await db.query(
    `INSERT INTO order_events (event_id, order_id, sequence, event_type, payload, occurred_at, position, published_at)
     SELECT gen_random_uuid(), order_id, 0, 'OrderCreated', json_build_object('orderId', order_id)::text,
            created_at, 0, created_at
       FROM orders
     UNION ALL
     SELECT gen_random_uuid(), o.order_id, 1, e.type, json_build_object('orderId', o.order_id)::text,
            o.updated_at, e.position - 1, o.updated_at
       FROM orders o,
            unnest(CASE o.status WHEN 'COMPLETED' THEN $1::text[] ELSE $2::text[] END) WITH ORDINALITY AS e(type, position)`,
    [eventsOfCommand('complete'), eventsOfCommand('cancel')],
  );
  // Fresh statistics, so the sweep's page query uses orders_archive_due as in a database that lived.
  for (const table of ['orders', 'order_items', 'order_status_history', 'order_events', 'orders_archive']) {
    await db.query(`VACUUM ANALYZE ${table}`);
  }
  return (performance.now() - startedAt) / 1000;
}

/**
 * Every loaded order ARCHIVED exactly once and moved to the archive tables: one archive history row
 * and one OrderArchived event each (an event still unpublished is in order_events, as designed).
 */
async function verifyArchival(db: pg.Client, count: number) {
  const { rows } = await db.query<{ found: number; incomplete: number; extra: number; unpublished: number }>(
    `WITH all_orders AS (
       SELECT order_id, status, true AS hot FROM orders
       UNION ALL SELECT order_id, status, false FROM orders_archive
     ), history AS (
       SELECT order_id, count(*)::int AS n
         FROM (SELECT order_id, command FROM order_status_history
               UNION ALL SELECT order_id, command FROM order_status_history_archive) AS h
        WHERE command = 'archive' GROUP BY order_id
     ), archived_events AS (
       SELECT order_id, count(*)::int AS n, count(*) FILTER (WHERE published_at IS NULL)::int AS unpublished
         FROM (SELECT order_id, event_type, published_at FROM order_events
               UNION ALL SELECT order_id, event_type, published_at FROM order_events_archive) AS e
        WHERE event_type = 'OrderArchived' GROUP BY order_id
     )
     SELECT count(*)::int AS found,
            count(*) FILTER (WHERE o.status <> 'ARCHIVED' OR o.hot OR h.n IS NULL OR e.n IS NULL)::int AS incomplete,
            COALESCE(sum(GREATEST(h.n - 1, 0) + GREATEST(e.n - 1, 0)), 0)::int AS extra,
            COALESCE(sum(e.unpublished), 0)::int AS unpublished
       FROM all_orders o
       LEFT JOIN history h USING (order_id)
       LEFT JOIN archived_events e USING (order_id)`,
  );
  const row = rows[0] ?? { found: 0, incomplete: 0, extra: 0, unpublished: 0 };
  return {
    lost: count - row.found + row.incomplete,
    duplicated: row.extra,
    eventsUnpublished: row.unpublished,
  };
}

/**
 * The workflow the Schedule started for the trigger sent at `triggeredAt`, once it shows in the
 * Schedule's actions (running, or already done when the sweep was short).
 */
async function sweepStartedBy(client: Client, scheduleId: string, triggeredAt: Date): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const { info } = await client.schedule.getHandle(scheduleId).describe();
    const done = info.recentActions.find((recent) => recent.takenAt >= triggeredAt)?.action;
    const action = info.runningActions[0] ?? done;
    if (action !== undefined) return action.workflow.workflowId;
    if (Date.now() > deadline) throw new Error(`archive sweep: ${scheduleId} started no workflow within 60 s`);
    await sleep(POLL_MS);
  }
}

/** Orders archived (moved to orders_archive in their archival transaction) now. */
async function countArchived(db: pg.Client): Promise<number> {
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM orders_archive');
  return rows[0]?.n ?? 0;
}

/**
 * The archive sweep over `orders` due orders: a database of its own (`<run's>_archive`, emptied
 * and loaded each run), an order worker of its own on `taskQueue` (its Schedule set never to fire
 * by itself), the sweep started by triggering that Schedule as the service's interval would, timed
 * from the sweep workflow's start to its close, with the CPU of each part meanwhile; then every
 * order checked archived exactly once.
 */
export async function measureArchiveSweep(options: {
  config: Config;
  kafka: Kafka;
  /** The run's database URL: the archive database is named after it. */
  databaseUrl: string;
  orders: number;
  taskQueue: string;
  /** Environment of the run's order workers (database, queue and topics are replaced). */
  env: Record<string, string>;
  prepareDatabase(url: string): Promise<void>;
  /** Starts an order worker of the run (which stops it on the way out if the phase fails). */
  startWorker(env: Record<string, string>): Promise<Proc>;
  stopWorker(worker: Proc): Promise<unknown>;
  log(message: string): void;
}): Promise<ArchiveFigures> {
  const { config, log } = options;
  const url = new URL(options.databaseUrl);
  url.pathname = `${url.pathname}_archive`;
  await options.prepareDatabase(url.toString());
  const db = new pg.Client({ connectionString: url.toString() });
  await db.connect();
  try {
    const { ARCHIVE_AFTER_MS: archiveAfterMs, ARCHIVE_BATCH_SIZE: batchSize } = config;
    // Ended a day before they became due, a second apart: all due, the oldest first.
    const endedBefore = new Date(Date.now() - archiveAfterMs - 24 * 3_600_000);
    log(`archive: loading ${options.orders} ended orders, due since a day, into ${url.pathname.slice(1)}`);
    const loadSeconds = await loadEndedOrders(db, options.orders, endedBefore);
    await ensureTopics(options.kafka, [
      { topic: orderTopics(ARCHIVE_TOPIC_PREFIX).events, numPartitions: ORDER_EVENTS_PARTITIONS },
    ]);
    const worker = await options.startWorker({
      ...options.env,
      DATABASE_URL: url.toString(),
      TEMPORAL_TASK_QUEUE: options.taskQueue,
      KAFKA_TOPIC_PREFIX: ARCHIVE_TOPIC_PREFIX,
      ARCHIVE_AFTER_MS: String(archiveAfterMs),
      ARCHIVE_BATCH_SIZE: String(batchSize),
      ARCHIVE_SWEEP_INTERVAL_MS: String(NO_SCHEDULED_SWEEP_MS),
    });
    const { scheduleId } = archiveScheduleOptions({ ...config, TEMPORAL_TASK_QUEUE: options.taskQueue });
    const sweep = await withTemporal(config, async (client) => {
      log(`archive: triggering ${scheduleId} (batch ${batchSize}, due after ${archiveAfterMs} ms)`);
      const samples: { at: number; archived: number }[] = [];
      const before = cpuSnapshot({ worker: worker.child.pid });
      const triggeredAt = new Date();
      await client.schedule.getHandle(scheduleId).trigger();
      const workflowId = await sweepStartedBy(client, scheduleId, triggeredAt);
      const handle = client.workflow.getHandle<typeof orderArchiveSweep>(workflowId);
      let done = false;
      const result = handle.result().finally(() => {
        done = true;
      });
      while (!done) {
        await Promise.race([result.catch(() => undefined), sleep(PROGRESS_POLL_MS)]);
        samples.push({ at: Date.now(), archived: await countArchived(db) });
      }
      const totals = await result;
      const cpu = cpuDelta(before, cpuSnapshot({ worker: worker.child.pid }));
      const { startTime, closeTime } = await handle.describe();
      const sweepSeconds = ((closeTime ?? new Date()).getTime() - startTime.getTime()) / 1000;
      const progress = samples.map(({ at, archived }) => ({
        seconds: round((at - startTime.getTime()) / 1000, 1),
        archived,
      }));
      return { workflowId, totals, cpu, sweepSeconds, progress };
    });
    const workerPeakRssMb = round(worker.peakRssMb(), 0);
    await options.stopWorker(worker);
    const verified = await verifyArchival(db, options.orders);
    const { archived } = sweep.totals;
    const perArchived = (seconds: number | undefined) =>
      archived === 0 || seconds === undefined ? null : round((seconds * 1000) / archived, 2);
    return {
      orders: options.orders,
      loadSeconds: round(loadSeconds, 1),
      archiveAfterMs,
      batchSize,
      workflowId: sweep.workflowId,
      sweepSeconds: round(sweep.sweepSeconds, 1),
      archivePerSec: round(archived / Math.max(1e-3, sweep.sweepSeconds), 1),
      ...sweep.totals,
      ...verified,
      temporalCpuMsPerArchivedOrder: perArchived(sweep.cpu.temporal),
      workerCpuMsPerArchivedOrder: perArchived(sweep.cpu.worker),
      cpuMsPerArchivedOrderByPart: cpuPerLifecycle(sweep.cpu, archived, 2),
      progress: sweep.progress,
      workerPeakRssMb,
    };
  } finally {
    await db.end();
  }
}

// ---- teardown ------------------------------------------------------------------------------------

/**
 * Deletes the archive sweep Schedules the run's workers created (one per task queue), so they do
 * not fire every hour on queues nobody polls after the run. Resolves to the count deleted.
 */
export async function deleteArchiveSchedules(config: Config, taskQueues: string[]): Promise<number> {
  return withTemporal(config, async (client) => {
    let deleted = 0;
    for (const taskQueue of taskQueues) {
      const { scheduleId } = archiveScheduleOptions({ ...config, TEMPORAL_TASK_QUEUE: taskQueue });
      try {
        await client.schedule.getHandle(scheduleId).delete();
        deleted++;
      } catch (error) {
        // A queue whose workers never started (or a commit before the sweep existed) has none.
        if (!(error instanceof ScheduleNotFoundError)) throw error;
      }
    }
    return deleted;
  });
}
