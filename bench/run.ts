// npm run bench [-- --quick | --orders N --concurrency C --topology 1x1,2x2 --output FILE]: full
// order lifecycles per second and their latencies, for each topology (N API processes × M worker
// processes), against the fixed yardstick (bench/yardstick) and the bare Temporal, PostgreSQL and
// Kafka baselines measured in the same run on the same services at the same concurrency; then
// latency at fixed arrival rates (open loop), transitions among many open orders, and reads over
// a million orders. See bench/README.md. With --compare <ref>: only the order service at that
// commit against the working tree, in turns (bench/lib/compare.ts).
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { API_NODE_FLAGS, buildServices, WORKER_NODE_FLAGS } from '../scripts/build.js';
import { buildOrderWorkflowBundles, buildWorkflowBundle } from '../scripts/build-workflows.js';
import { flameGraphSvg } from '../scripts/flame-graph.js';
import { type Config, loadConfig } from '../src/config.js';
import { migrateDatabase } from '../src/db/migrate.js';
import { createKafka, ensureTopics, ORDER_EVENTS_PARTITIONS, orderTopics } from '../src/kafka/index.js';
import { createLogger } from '../src/logger.js';
import { startOtlpReceiver } from '../test/support/otlp-receiver.js';
import { type AppProcess, startApiProcess, startWorkerProcess, workerPolls } from '../test/support/processes.js';
import { rssMbOf, spawnChild } from './lib/child.js';
import {
  addWorktree,
  type BuiltSide,
  buildSide,
  commitSubject,
  dropDatabase,
  freshDatabase,
  installDependencies,
  resolveCommit,
  withDatabase,
} from './lib/compare.js';
import { addCpu, cpuDelta, cpuPerLifecycle, cpuSnapshot, processCpuSeconds } from './lib/cpu.js';
import { type EventWatch, watchTopic } from './lib/events.js';
import { measureListing } from './lib/listing.js';
import { measureOpenOrders, type OpenOrdersLevel } from './lib/open-orders.js';
import { type Outage, watchOutages } from './lib/outages.js';
import {
  bareKafkaLifecycle,
  barePostgresLifecycle,
  bareTemporalLifecycle,
  drive,
  driveOpenLoop,
  emptySamples,
  type Lifecycle,
  type PlacedOrder,
  type Samples,
  systemLifecycle,
  terminateOpenWorkflows,
  yardstickLifecycle,
} from './lib/phases.js';
import { ENDING_COMMANDS, endingShares, endStatus, expectedEventIds } from './lib/plan.js';
import { overallRate, percentile, round, sustainedRate } from './lib/stats.js';
import { buildYardstickBundle } from './yardstick/bundle.js';
import { YARDSTICK_NODE_FLAGS } from './yardstick/worker-options.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const BENCH_TOKEN = `bench-token-${randomUUID()}`;

// ---- options ---------------------------------------------------------------------------------

const { values: args } = parseArgs({
  options: {
    orders: { type: 'string', short: 'n' },
    concurrency: { type: 'string', short: 'c' },
    warmup: { type: 'string' },
    rounds: { type: 'string' },
    output: { type: 'string', short: 'o' },
    'database-url': { type: 'string' },
    'skip-baselines': { type: 'boolean', default: false },
    'bundle-at-start': { type: 'boolean', default: false },
    'worker-tsx': { type: 'boolean', default: false },
    topology: { type: 'string', short: 't' },
    'listing-rows': { type: 'string' },
    'open-loop-seconds': { type: 'string' },
    'open-orders': { type: 'string' },
    'open-order-transitions': { type: 'string' },
    'tracing-orders': { type: 'string' },
    'skip-tracing': { type: 'boolean', default: false },
    compare: { type: 'string' },
    profile: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args.help) {
  console.log(`usage: npm run bench -- [--quick] [--orders N] [--concurrency C] [--topology AxW,...] [--output FILE]
  --quick            a short run of every part, as npm test's smoke run takes it: the defaults become
                     --orders 50 --concurrency 8 --listing-rows 20000 --open-loop-seconds 5
                     --open-orders 150,300 --open-order-transitions 20 --tracing-orders 20 (each still overridable)
  --orders, -n       measured lifecycles per phase (env BENCH_ORDERS; default 1000)
  --concurrency, -c  lifecycles in flight (env BENCH_CONCURRENCY; default 64)
  --topology, -t     the order service's topologies, each measured in turn: A API processes x W worker
                     processes on one task queue, requests round robin over the APIs (env BENCH_TOPOLOGY;
                     default 1x1,2x2); the first is the one bare Temporal takes turns with and the top-level
                     JSON fields describe
  --warmup           unmeasured lifecycles of each subject before measuring (env BENCH_WARMUP; default = concurrency)
  --rounds           the order service and bare Temporal take turns, in this many chunks each
                     (env BENCH_ROUNDS; default orders/500, 1 to 4), so drifting background load hits both alike
  --open-loop-seconds  how long each open-loop level runs, for each subject (default 20)
  --open-orders      levels of open orders for the transitions among them (default 1000,5000; 0 leaves them out)
  --open-order-transitions  confirms on random old orders at each level (default 200)
  --tracing-orders   lifecycles of each of two 1x1 services, tracing off and exporting every span over OTLP
                     to a receiver in the bench, taking turns (default orders/2)
  --skip-tracing     leave that comparison out
  --listing-rows     orders bulk-loaded for the reads (env BENCH_LISTING_ROWS; default 1000000; 0 leaves them out)
  --output, -o       JSON results (default bench/results/latest.json)
  --database-url     order database of the run (env BENCH_DATABASE_URL; default .../orders_bench, created if missing)
  --skip-baselines   only the order service (for quick tuning loops; no ratios)
  --worker-tsx       run the order worker and the API through tsx instead of compiled, to compare
  --bundle-at-start  the same, and it bundles its workflows when it starts (no WORKFLOW_BUNDLE_PATH), to compare
  --compare REF      only this: the order service (1 API + 1 worker) at git commit REF ("base", built in a temporary
                     worktree the way REF builds itself, on its own migrated database) against the working tree
                     ("head"), taking turns (ABBA) at --orders/--concurrency; prints head ÷ base
                     (default output bench/results/compare.json)
  --profile          run the first topology's first order worker with --cpu-prof (into the results' folder) and
                     draw its profile as <output stem>.worker.svg next to the results
env: BENCH_WORKER_NODE_OPTIONS replaces the workers' V8 flags (WORKER_NODE_FLAGS); BENCH_API_NODE_OPTIONS`);
  process.exit(0);
}

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

const quick = args.quick === true;
const orders = positiveInt('--orders', args.orders ?? process.env.BENCH_ORDERS, quick ? 50 : 1000);
const concurrency = positiveInt('--concurrency', args.concurrency ?? process.env.BENCH_CONCURRENCY, quick ? 8 : 64);
/** How long each open-loop level lasts for each subject. */
const openLoopSeconds = positiveInt('--open-loop-seconds', args['open-loop-seconds'], quick ? 5 : 20);
/** The shares of the order service's capacity (closed loop, same run) the open-loop levels drive. */
const OPEN_LOOP_PERCENTS = [25, 50, 75];
/** A transition is due this long after its order's create: long enough that the create has answered. */
const OPEN_LOOP_TRANSITION_DELAY_MS = 1_000;
const openOrderLevels = (args['open-orders'] ?? (quick ? '150,300' : '1000,5000'))
  .split(',')
  .map((part) => Number(part.trim()))
  .filter((level) => level !== 0);
if (openOrderLevels.some((level) => !Number.isInteger(level) || level < 0)) {
  throw new Error(`--open-orders takes whole numbers such as 1000,5000; got "${args['open-orders']}"`);
}
const tracingOrders = args['skip-tracing']
  ? 0
  : positiveInt('--tracing-orders', args['tracing-orders'], quick ? 20 : Math.max(1, Math.round(orders / 2)));
const openOrderTransitions = positiveInt('--open-order-transitions', args['open-order-transitions'], quick ? 20 : 200);
const warmup = positiveInt('--warmup', args.warmup ?? process.env.BENCH_WARMUP, concurrency);
const rounds = positiveInt(
  '--rounds',
  args.rounds ?? process.env.BENCH_ROUNDS,
  Math.max(1, Math.min(4, Math.floor(orders / 500))),
);
/** N API processes and M worker processes of the order service, on the run's one task queue. */
interface Topology {
  /** `<apis>x<workers>`, e.g. 2x2. */
  label: string;
  apis: number;
  workers: number;
}

/** `1x1,2x2` → the topologies, in the order given, repeats dropped. */
function parseTopologies(raw: string): Topology[] {
  const topologies: Topology[] = [];
  for (const part of raw.split(',').map((item) => item.trim())) {
    if (part === '') continue;
    const match = /^(\d+)\s*[x×]\s*(\d+)$/i.exec(part);
    const apis = Number(match?.[1]);
    const workers = Number(match?.[2]);
    if (match === null || apis < 1 || workers < 1) {
      throw new Error(`--topology takes APIsxWORKERS[,...] such as 1x1,2x2 (each at least 1); got "${part}"`);
    }
    const label = `${apis}x${workers}`;
    if (!topologies.some((known) => known.label === label)) topologies.push({ label, apis, workers });
  }
  if (topologies.length === 0) throw new Error(`--topology names no topology: "${raw}"`);
  return topologies;
}

const topologies = parseTopologies(args.topology || process.env.BENCH_TOPOLOGY || '1x1,2x2');
/** Orders bulk-loaded for the listing measurements (bench/lib/listing.ts); 0 leaves them out. */
const listingRows = Number(args['listing-rows'] ?? process.env.BENCH_LISTING_ROWS ?? (quick ? 20_000 : 1_000_000));
if (!Number.isInteger(listingRows) || listingRows < 0) {
  throw new Error(
    `--listing-rows must be a whole number, got "${args['listing-rows'] ?? process.env.BENCH_LISTING_ROWS}"`,
  );
}
/** --compare: the git ref whose order service the working tree's is compared with (nothing else runs then). */
const compareRef = args.compare;
if (compareRef !== undefined && compareRef.trim() === '')
  throw new Error('--compare needs a git ref, e.g. HEAD or a5118ca');
const output = resolve(
  args.output ?? join(ROOT, compareRef === undefined ? 'bench/results/latest.json' : 'bench/results/compare.json'),
);
/** --profile: the first order worker runs with V8's CPU profiler, its profile drawn as a flame graph. */
const profile = args.profile === true;
const databaseUrl =
  args['database-url'] ?? process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/orders_bench';
const runId = randomUUID().slice(0, 8);
/**
 * V8 flags of both workers (the order worker and the bare one): those the worker runs with
 * (WORKER_NODE_FLAGS); BENCH_WORKER_NODE_OPTIONS replaces them, to compare.
 */
const workerFlags = (process.env.BENCH_WORKER_NODE_OPTIONS ?? WORKER_NODE_FLAGS.join(' ')).split(/\s+/).filter(Boolean);
const workerNodeOptions: Record<string, string> =
  workerFlags.length === 0 ? {} : { NODE_OPTIONS: workerFlags.join(' ') };

const log = (message: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

// ---- setup -----------------------------------------------------------------------------------

/** Creates the run's database if it does not exist, then migrates it. */
async function prepareDatabase(url: string): Promise<void> {
  const target = new URL(url);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (rowCount === 0) {
      await client.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error; // created meanwhile by another run
      });
      log(`created database ${name}`);
    }
  } finally {
    await client.end();
  }
  await migrateDatabase(url);
}

/** Node options of the API process, e.g. --cpu-prof to see where its time goes (BENCH_API_NODE_OPTIONS). */
const apiNodeOptions: Record<string, string> =
  (process.env.BENCH_API_NODE_OPTIONS ?? '') === '' ? {} : { NODE_OPTIONS: process.env.BENCH_API_NODE_OPTIONS ?? '' };

/**
 * A worker process (the compiled order worker, or the bare one) that serves its metrics at
 * `env.WORKER_METRICS_ADDRESS`; resolves once it polls for workflow tasks.
 */
async function startWorkerChild(
  name: string,
  entry: string,
  env: Record<string, string>,
  nodeArgs: string[],
  cwd?: string,
) {
  const worker = await spawnChild(name, entry, env, nodeArgs, cwd);
  const metricsUrl = `http://${env.WORKER_METRICS_ADDRESS}/metrics`;
  try {
    await worker.waitUntil('workflow task pollers on its metrics endpoint', () => workerPolls(metricsUrl));
  } catch (error) {
    await worker.stop();
    throw error;
  }
  return worker;
}

/** An API process (`entry` run by node with `nodeArgs`, in `cwd`) on a port of its own; resolves once /healthz answers. */
async function startApiChild(
  name: string,
  entry: string,
  env: Record<string, string>,
  nodeArgs: string[],
  cwd?: string,
): Promise<Api> {
  const port = await freePort();
  const api = await spawnChild(name, entry, { ...env, PORT: String(port) }, nodeArgs, cwd);
  const url = `http://127.0.0.1:${port}`;
  try {
    await api.waitUntil('answers on /healthz', () =>
      fetch(`${url}/healthz`).then(
        (response) => response.ok,
        () => false,
      ),
    );
  } catch (error) {
    await api.stop();
    throw error;
  }
  return { ...api, url };
}

/** Where PostgreSQL, Temporal and Kafka listen, for the outage watch. */
function servicesOf(config: Config) {
  const database = new URL(databaseUrl);
  const [temporalHost = '127.0.0.1', temporalPort = '7233'] = config.TEMPORAL_ADDRESS.split(':');
  const [kafkaHost = '127.0.0.1', kafkaPort = '9092'] = (config.KAFKA_BROKERS.split(',')[0] ?? '').split(':');
  return {
    postgres: { host: database.hostname, port: Number(database.port || 5432) },
    temporal: { host: temporalHost, port: Number(temporalPort) },
    kafka: { host: kafkaHost, port: Number(kafkaPort) },
  };
}

/** Runs `attempt` until it succeeds, for up to `timeoutMs`. */
async function retrying<T>(what: string, attempt: () => Promise<T>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      log(`${what} not available yet (${error instanceof Error ? error.message : String(error)}); retrying`);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
  }
}

const portsGiven = new Set<number>();

/** A port nobody listens on now, and not given to another process of this run (they start side by side). */
async function freePort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const server = createServer();
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject()));
      });
    });
    if (portsGiven.has(port)) continue;
    portsGiven.add(port);
    return port;
  }
}

/**
 * The bench's own environment on the shared stack: its database, Temporal namespace and Kafka
 * topics, so its orders never reach the topic real consumers read nor the operators' namespace.
 */
const BENCH_ENVIRONMENT = { TEMPORAL_NAMESPACE: 'orders-bench', KAFKA_TOPIC_PREFIX: 'bench.' };

/** Environment of the processes under test: the run's database, task queue and token. */
function appEnvironment(taskQueue: string): Record<string, string> {
  return {
    ...BENCH_ENVIRONMENT,
    DATABASE_URL: databaseUrl,
    TEMPORAL_TASK_QUEUE: taskQueue,
    KAFKA_CLIENT_ID: 'order-bench',
    API_KEYS: JSON.stringify({ [BENCH_TOKEN]: ['orders:create', 'orders:read', 'orders:manage'] }),
    RATE_LIMIT_PER_MINUTE: '0',
    // The services' default level (a line per request at info), as the runs in bench/README.md had it.
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
  };
}

// ---- figures -----------------------------------------------------------------------------------

/** The machine a run's figures came from, and how loaded it was before and after. */
function machineFacts(loadAverageBefore: number[]) {
  return {
    nproc: os.availableParallelism(),
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGb: round(os.totalmem() / 2 ** 30, 1),
    node: process.version,
    platform: `${os.platform()} ${os.release()}`,
    loadAverageBefore,
    loadAverageAfter: os.loadavg().map((value) => round(value, 2)),
  };
}

function summarize(samples: Samples) {
  return {
    perSec: round(sustainedRate(samples.chunks)),
    overallPerSec: round(overallRate(samples.chunks)),
    startP50Ms: round(percentile(samples.startMs, 50)),
    startP95Ms: round(percentile(samples.startMs, 95)),
    startP99Ms: round(percentile(samples.startMs, 99)),
    transitionP50Ms: round(percentile(samples.transitionMs, 50)),
    transitionP99Ms: round(percentile(samples.transitionMs, 99)),
    lifecycleP50Ms: round(percentile(samples.lifecycleMs, 50)),
    lifecycleP99Ms: round(percentile(samples.lifecycleMs, 99)),
    completed: samples.lifecycleMs.length,
    failed: samples.failures.length,
  };
}
type Summary = ReturnType<typeof summarize>;
type Verification = Awaited<ReturnType<typeof verify>>;

/** Every order's final status in PostgreSQL and exactly its events on Kafka, by ce_id (both from the transition table). */
async function verify(placed: PlacedOrder[], events: EventWatch, orderDatabaseUrl: string = databaseUrl) {
  const expected = new Map(placed.map(({ orderId, command }) => [orderId, expectedEventIds(orderId, command)]));
  // Whatever is still on its way (a late event after an outage) gets a bounded wait.
  const deadline = Date.now() + 60_000;
  const missing = () => [...expected.values()].flat().filter((ceId) => !events.byCeId.has(ceId)).length;
  while (missing() > 0 && Date.now() < deadline) await events.caughtUp(Math.min(5_000, deadline - Date.now()));
  // Then everything written to the topic until now is read, so a duplicate already sent is counted.
  const caughtUp = await events.caughtUp(30_000);

  let eventsMissing = 0;
  let extraCopies = 0;
  let unexpectedEvents = 0;
  for (const [orderId, ceIds] of expected) {
    for (const ceId of ceIds) {
      const seen = events.byCeId.get(ceId);
      if (seen === undefined) eventsMissing++;
      else extraCopies += seen.copies - 1;
    }
    for (const seen of events.ofOrder(orderId)) {
      if (!ceIds.includes(seen.ceId)) unexpectedEvents += seen.copies;
    }
  }

  const db = new pg.Client({ connectionString: orderDatabaseUrl });
  await db.connect();
  let ordersWrongInDb = 0;
  let eventsUnpublishedInDb = 0;
  try {
    const { rows } = await db.query<{ order_id: string; status: string; unpublished: number }>(
      `SELECT o.order_id, o.status,
              (SELECT count(*)::int FROM order_events e WHERE e.order_id = o.order_id AND e.published_at IS NULL)
                AS unpublished
         FROM orders o WHERE o.order_id = ANY($1::uuid[])`,
      [placed.map((order) => order.orderId)],
    );
    const byId = new Map(rows.map((row) => [row.order_id, row]));
    for (const order of placed) {
      const row = byId.get(order.orderId);
      if (row === undefined || row.status !== endStatus(order.command)) ordersWrongInDb++;
      eventsUnpublishedInDb += row?.unpublished ?? 0;
    }
  } finally {
    await db.end();
  }
  return {
    ordersChecked: placed.length,
    eventsExpected: [...expected.values()].flat().length,
    eventsMissing,
    extraCopies,
    unexpectedEvents,
    ordersWrongInDb,
    eventsUnpublishedInDb,
    consumerCaughtUp: caughtUp,
    /** Events missing on Kafka, plus orders missing or not in their final status in PostgreSQL. */
    lost: eventsMissing + ordersWrongInDb,
    /** Extra copies of an event (same ce_id), plus events the order should not have. */
    duplicated: extraCopies + unexpectedEvents,
  };
}

// ---- output ------------------------------------------------------------------------------------

function table(rows: (string | number)[][]): string {
  const widths = rows[0]?.map((_, column) => Math.max(...rows.map((row) => String(row[column] ?? '').length))) ?? [];
  const cell = (value: string | number, column: number) =>
    column === 0 ? String(value).padEnd(widths[column] ?? 0) : String(value).padStart(widths[column] ?? 0);
  const line = (row: (string | number)[]) => `| ${row.map(cell).join(' | ')} |`;
  const [head, ...body] = rows;
  if (head === undefined) return '';
  return [line(head), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

const orDash = (value: number | null | undefined) => (value === undefined || value === null ? '-' : value);
const ratioOf = (a: number | undefined, b: number | undefined) =>
  a === undefined || b === undefined || b <= 0 ? undefined : round(a / b, 2);

/** `orders` split into `parts` chunks as even as can be. */
const chunkSizes = (total: number, parts: number) =>
  Array.from({ length: parts }, (_, index) => Math.floor(total / parts) + (index < total % parts ? 1 : 0));

// ---- main ------------------------------------------------------------------------------------

/** A process of the run: an API, an order worker, the bare worker. */
type Proc = Pick<AppProcess, 'child' | 'output' | 'peakRssMb' | 'stop'>;
type Api = Proc & { url: string };

/** What one subject measured: its timings, and the CPU each part used meanwhile. */
interface Measured {
  samples: Samples;
  cpu: Record<string, number>;
}
const emptyMeasured = (): Measured => ({ samples: emptySamples(), cpu: {} });
const lifecyclesOf = ({ samples }: Measured) => samples.lifecycleMs.length + samples.failures.length;

/** One topology of the order service, once measured. */
interface TopologyRun {
  topology: Topology;
  measured: Measured;
  apis: Api[];
  workers: Proc[];
  system: ReturnType<typeof systemLifecycle>;
  verification?: Verification;
  /** CPU seconds each API and each worker used over its life (start and warm-up included), read before it stopped. */
  cpuSec?: { apis: number[]; workers: number[] };
}

/** Names of a topology's processes for their logs: `api`, `worker` in 1x1 (as before topologies), else `2x2.api-1`… */
function processNames(topology: Topology) {
  const name = (kind: string, index: number) =>
    topology.label === '1x1' ? kind : `${topology.label}.${kind}-${index + 1}`;
  return { api: (index: number) => name('api', index), worker: (index: number) => name('worker', index) };
}

/** Starts all of `starts` side by side; when one fails, stops those that started and throws. */
async function startAll<T extends Proc>(starts: (() => Promise<T>)[], started: (proc: T) => void): Promise<T[]> {
  const settled = await Promise.allSettled(starts.map((start) => start()));
  const procs: T[] = [];
  for (const outcome of settled) if (outcome.status === 'fulfilled') procs.push(outcome.value);
  const failure = settled.find((outcome) => outcome.status === 'rejected');
  if (failure !== undefined) {
    await Promise.all(procs.map((proc) => proc.stop()));
    throw failure.reason;
  }
  for (const proc of procs) started(proc);
  return procs;
}

async function main() {
  if (compareRef !== undefined) return compare(compareRef);
  const started = Date.now();
  const loadAverageBefore = os.loadavg().map((value) => round(value, 2));
  const config: Config = loadConfig({
    ...process.env,
    ...BENCH_ENVIRONMENT,
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: 'warn',
  });
  const eventsTopic = orderTopics(config.KAFKA_TOPIC_PREFIX).events;
  log(
    `${orders} lifecycles per subject and topology at concurrency ${concurrency}, warm-up ${warmup}, ` +
      `${rounds} round(s), topologies ${topologies.map((topology) => topology.label).join(', ')} ` +
      `(APIs x workers); database ${databaseUrl}`,
  );
  // The stack may be briefly down (another suite restarts services): setup waits for it a while.
  await retrying('PostgreSQL', () => prepareDatabase(databaseUrl));
  const kafka = createKafka(
    { ...config, KAFKA_CLIENT_ID: 'order-bench' },
    createLogger({ ...config, LOG_LEVEL: 'fatal' }, 'bench'),
  );
  await retrying('Kafka', () => ensureTopics(kafka, [{ topic: eventsTopic, numPartitions: ORDER_EVENTS_PARTITIONS }]));
  const scratch = mkdtempSync(join(os.tmpdir(), 'order-bench-'));
  const cleanups: (() => void)[] = [];
  // --profile: V8 writes the worker's profile(s) here when it exits (a clean exit: SIGTERM, not SIGKILL).
  const profileStartedAt = Date.now();
  const profileNodeArgs = ['--cpu-prof', `--cpu-prof-dir=${dirname(output)}`];
  if (profile) mkdirSync(dirname(output), { recursive: true });
  /** The bare subjects, and `system`: the first topology (the top-level figures of the results). */
  const subjects: Record<string, Measured> = {};
  const runs: TopologyRun[] = [];
  const baselines = !args['skip-baselines'];

  /** One measured chunk of `count` lifecycles into `into`; CPU of each part added up. */
  async function measure(into: Measured, lifecycle: Lifecycle, count: number, firstIndex: number, pids = {}) {
    const before = cpuSnapshot(pids);
    await drive(lifecycle, { count, concurrency, firstIndex, samples: into.samples });
    addCpu(into.cpu, cpuDelta(before, cpuSnapshot(pids)));
  }
  const subject = (name: string) => {
    subjects[name] ??= emptyMeasured();
    return subjects[name];
  };
  const warm = (lifecycle: Lifecycle) => drive(lifecycle, { count: warmup, concurrency, firstIndex: 1_000_000 });

  const outageWatch = watchOutages(servicesOf(config));
  let listing: Awaited<ReturnType<typeof measureListing>> | undefined;
  const events = await retrying('Kafka', () => watchTopic(kafka, eventsTopic));
  let bareWorker: Awaited<ReturnType<typeof startWorkerChild>> | undefined;
  let bareClient: Awaited<ReturnType<typeof bareTemporalLifecycle>> | undefined;
  let yardstickWorker: Awaited<ReturnType<typeof startWorkerChild>> | undefined;
  let yardstickClient: Awaited<ReturnType<typeof yardstickLifecycle>> | undefined;
  /** The bare and yardstick workers and clients, once (after the first topology's turns, or at the end). */
  let baselinesStopped: Promise<unknown> | undefined;
  const stopBaselines = () => {
    baselinesStopped ??= Promise.all([
      bareWorker?.stop(),
      bareClient?.close(),
      yardstickWorker?.stop(),
      yardstickClient?.close(),
    ]);
    return baselinesStopped;
  };
  /** Each open-loop level: its rate, and the order service's and bare Temporal's samples at it. */
  const openLoop: { loadPercent: number; ratePerSec: number; system: Samples; bare: Samples }[] = [];
  let openOrders: OpenOrdersLevel[] = [];
  /** CPU of one part (`worker`, `api`) per lifecycle of a subject, in ms. */
  const processCpuMs = (measured: Measured | undefined, part: string) =>
    measured === undefined || lifecyclesOf(measured) === 0 || measured.cpu[part] === undefined
      ? undefined
      : round(((measured.cpu[part] ?? 0) * 1000) / lifecyclesOf(measured), 1);
  /** Busy CPU of the whole machine (every process and the kernel) per lifecycle of a subject, in ms. */
  const machineCpuMs = (measured: Measured | undefined) =>
    measured === undefined || lifecyclesOf(measured) === 0
      ? undefined
      : round(((measured.cpu.machineBusy ?? 0) * 1000) / lifecyclesOf(measured), 1);
  interface TracingFigures {
    perSec: number;
    createP99Ms: number;
    cpuMsPerLifecycle: number | null;
    verification: Verification;
    failures: string[];
  }
  const tracing: { off?: TracingFigures; exported?: TracingFigures; spansExported?: number; exportRequests?: number } =
    {};
  const openOrderFailures: string[] = [];
  /** The order service's processes alive now, to stop on the way out. */
  const alive = new Set<Proc>();
  const stopProcs = (procs: Proc[]) =>
    Promise.all(
      procs.map(async (proc) => {
        await proc.stop();
        alive.delete(proc);
      }),
    );
  let outages: Outage[] = [];
  // Interrupted (SIGINT/SIGTERM to this process alone), the run still stops what it started.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping the processes of the run`);
      void Promise.all([...[...alive].map((proc) => proc.stop()), bareWorker?.stop(), yardstickWorker?.stop()]).finally(
        () => {
          for (const cleanup of cleanups) cleanup();
          process.exit(signal === 'SIGINT' ? 130 : 143);
        },
      );
    });
  }
  // Every topology on the same task queue, one after the other: a topology's processes are
  // stopped before the next one's start.
  const taskQueue = `orders-bench-${runId}`;
  const env: Record<string, string> = {
    ...appEnvironment(taskQueue),
    // Commands over Kafka are not what is measured, and belong to the workers of the shared cluster.
    COMMANDS_ENABLED: 'false',
  };
  const bareQueue = `orders-bench-bare-${runId}`;
  const tracingQueues = { off: `orders-bench-tracing-off-${runId}`, exported: `orders-bench-tracing-on-${runId}` };
  const yardstickQueue = `orders-bench-yardstick-${runId}`;
  try {
    // As `npm start` runs them: compiled, the workflows prebuilt (scripts/build.ts). --worker-tsx:
    // both through tsx, as before; --bundle-at-start: without the prebuilt bundle either (to compare).
    const tsx = args['worker-tsx'] || args['bundle-at-start'];
    // Inside the checkout, so that the compiled processes find node_modules.
    const built = tsx ? undefined : await buildServices(join(ROOT, 'dist', `bench-${runId}`));
    if (built !== undefined) cleanups.push(() => rmSync(dirname(built.worker), { recursive: true, force: true }));
    // The untraced bundle and its traced twin beside it (the worker picks the one its tracing
    // needs: the "tracing exported" service runs the traced one), as scripts/build.ts writes them.
    const bundle: Record<string, string> = args['bundle-at-start']
      ? {}
      : {
          WORKFLOW_BUNDLE_PATH:
            built?.workflowBundle ?? (await buildOrderWorkflowBundles(join(scratch, 'workflow-bundle.js'))),
        };
    /** An order worker; `extraNodeArgs` (the CPU profiler) put it on node's command line, through tsx too. */
    const startWorker = async (
      name: string,
      workerEnv: Record<string, string> = env,
      extraNodeArgs: string[] = [],
    ): Promise<Proc> => {
      const metrics = { WORKER_METRICS_ADDRESS: `127.0.0.1:${await freePort()}` };
      if (built !== undefined) {
        return startWorkerChild(name, built.worker, { ...workerEnv, ...bundle, ...metrics }, [
          ...workerFlags,
          ...extraNodeArgs,
        ]);
      }
      if (extraNodeArgs.length === 0) {
        return startWorkerProcess({ ...workerEnv, ...bundle, ...workerNodeOptions, ...metrics });
      }
      return startWorkerChild(name, 'src/worker.ts', { ...workerEnv, ...bundle, ...metrics }, [
        ...workerFlags,
        ...extraNodeArgs,
        '--import',
        'tsx',
      ]);
    };
    /** The bare-Temporal worker (through tsx) on its queue: our workflow bundled on its own (no interceptors), our worker options and flags. */
    const startBareWorker = async () => {
      const bundlePath = await buildWorkflowBundle(
        join(scratch, 'bare-bundle.js'),
        join(ROOT, 'bench/bare-workflow.ts'),
      );
      // With the order worker's V8 flags, on its command line (as the compiled worker gets them).
      return startWorkerChild(
        'bare-worker',
        'bench/bare-worker.ts',
        {
          ...appEnvironment(bareQueue),
          BENCH_WORKFLOW_BUNDLE: bundlePath,
          WORKER_METRICS_ADDRESS: `127.0.0.1:${await freePort()}`,
        },
        [...workerFlags, '--import', 'tsx'],
      );
    };
    /**
     * The yardstick's worker (through tsx) on its queue: self-contained (bench/yardstick/), its own
     * bundle, its frozen options and V8 flags (not BENCH_WORKER_NODE_OPTIONS), and only the
     * variables it reads.
     */
    const startYardstickWorker = async () => {
      const bundlePath = await buildYardstickBundle(join(scratch, 'yardstick-bundle.js'));
      return startWorkerChild(
        'yardstick-worker',
        'bench/yardstick/worker.ts',
        {
          TEMPORAL_ADDRESS: config.TEMPORAL_ADDRESS,
          TEMPORAL_NAMESPACE: config.TEMPORAL_NAMESPACE,
          TEMPORAL_TASK_QUEUE: yardstickQueue,
          WORKER_METRICS_ADDRESS: `127.0.0.1:${await freePort()}`,
          BENCH_WORKFLOW_BUNDLE: bundlePath,
        },
        [...YARDSTICK_NODE_FLAGS, '--import', 'tsx'],
      );
    };
    /** An API process of the run with `apiEnv`, answering /healthz. */
    const startApi = async (name: string, apiEnv: Record<string, string>): Promise<Api> => {
      if (built === undefined) return startApiProcess({ ...apiEnv, ...apiNodeOptions }, await freePort());
      return startApiChild(name, built.api, { ...apiEnv, ...apiNodeOptions }, API_NODE_FLAGS);
    };

    if (baselines) {
      log('bare Kafka: the same events through the batching idempotent producer');
      const bareKafka = await bareKafkaLifecycle({ kafka, config });
      await warm(bareKafka.lifecycle);
      await measure(subject('bareKafka'), bareKafka.lifecycle, orders, 0);
      await bareKafka.close();

      log('bare PostgreSQL: the activities’ SQL through pg');
      const barePostgres = barePostgresLifecycle({ config });
      await warm(barePostgres.lifecycle);
      await measure(subject('barePostgres'), barePostgres.lifecycle, orders, 0);
      await barePostgres.close();

      log('bare Temporal: the order workflow with no-I/O activities (bench/bare-workflow.ts)');
      bareWorker = await startBareWorker();
      bareClient = await bareTemporalLifecycle({ config, taskQueue: bareQueue });
      log('yardstick: the classic order workflow, frozen (bench/yardstick)');
      yardstickWorker = await startYardstickWorker();
      yardstickClient = await yardstickLifecycle({ config, taskQueue: yardstickQueue });
    }

    for (const [position, topology] of topologies.entries()) {
      // The first topology takes turns with bare Temporal (ABBA…), so load from elsewhere on the
      // machine that comes and goes weighs on both alike; the others run their chunks alone.
      const first = position === 0;
      const label = `order service ${topology.label}`;
      log(`${label}: starting ${topology.apis} API and ${topology.workers} worker process(es)`);
      const names = processNames(topology);
      const track = (proc: Proc) => alive.add(proc);
      const [workers, apis] = await Promise.all([
        startAll(
          Array.from(
            { length: topology.workers },
            (_, index) => () =>
              startWorker(names.worker(index), env, first && index === 0 && profile ? profileNodeArgs : []),
          ),
          track,
        ),
        startAll(
          Array.from({ length: topology.apis }, (_, index) => () => startApi(names.api(index), env)),
          track,
        ),
      ]);
      const system = systemLifecycle({
        apiUrls: apis.map((api) => api.url),
        token: BENCH_TOKEN,
        events,
        lifecycleTimeoutMs: 120_000,
      });
      const run: TopologyRun = {
        topology,
        measured: first ? subject('system') : emptyMeasured(),
        apis,
        workers,
        system,
      };
      runs.push(run);

      log(`${label}: warm-up`);
      if (first && bareClient) await warm(bareClient.lifecycle);
      if (first && yardstickClient) await warm(yardstickClient.lifecycle);
      await warm(system.lifecycle);

      const pids = { api: apis.map((api) => api.child.pid), worker: workers.map((worker) => worker.child.pid) };
      const bareTurn = async (size: number, at: number) => {
        if (bareClient === undefined || !first) return;
        log(`bare Temporal: ${size} lifecycles`);
        await measure(subject('bareTemporal'), bareClient.lifecycle, size, at, { worker: bareWorker?.pid });
      };
      const yardstickTurn = async (size: number, at: number) => {
        if (yardstickClient === undefined || !first) return;
        log(`yardstick: ${size} lifecycles`);
        await measure(subject('yardstick'), yardstickClient.lifecycle, size, at, { worker: yardstickWorker?.pid });
      };
      const systemTurn = async (size: number, at: number) => {
        log(`${label}: ${size} lifecycles over HTTP`);
        await measure(run.measured, system.lifecycle, size, at, pids);
      };
      let firstIndex = 0;
      for (const [round, size] of chunkSizes(orders, rounds).entries()) {
        const turns = [yardstickTurn, bareTurn, systemTurn];
        for (const turn of round % 2 === 0 ? turns : turns.reverse()) await turn(size, firstIndex);
        firstIndex += size;
      }

      // Open loop: arrivals at fixed rates, shares of the capacity just measured, for the order
      // service and bare Temporal in turn (alternating which goes first).
      const capacity = summarize(run.measured.samples).perSec;
      if (first && capacity > 0) {
        for (const [level, loadPercent] of OPEN_LOOP_PERCENTS.entries()) {
          const ratePerSec = (capacity * loadPercent) / 100;
          const count = Math.max(5, Math.round(ratePerSec * openLoopSeconds));
          const entry = { loadPercent, ratePerSec, system: emptySamples(), bare: emptySamples() };
          openLoop.push(entry);
          const at = firstIndex;
          const levelOf = async (name: string, lifecycle: Lifecycle | undefined, samples: Samples) => {
            if (lifecycle === undefined) return;
            log(
              `${name}: open loop, ${count} lifecycles at ${round(ratePerSec, 2)}/s (${loadPercent} % of ${capacity}/s)`,
            );
            await driveOpenLoop(lifecycle, {
              count,
              ratePerSec,
              transitionDelayMs: OPEN_LOOP_TRANSITION_DELAY_MS,
              firstIndex: at,
              samples,
            });
          };
          const levels = [
            () => levelOf(label, system.lifecycle, entry.system),
            () => levelOf('bare Temporal', bareClient?.lifecycle, entry.bare),
          ];
          for (const runLevel of level % 2 === 0 ? levels : levels.reverse()) await runLevel();
          firstIndex += count;
        }
      }
      // The baselines are done: their workers would only sit on the machine the next parts measure.
      if (first) await stopBaselines();

      const firstWorker = workers[0];
      const firstApi = apis[0];
      if (first && openOrderLevels.length > 0 && firstWorker !== undefined && firstApi !== undefined) {
        openOrders = await measureOpenOrders({
          apiUrl: firstApi.url,
          token: BENCH_TOKEN,
          levels: openOrderLevels,
          transitions: openOrderTransitions,
          cached: config.WORKER_MAX_CACHED_WORKFLOWS,
          workerRssMb: () => ({ current: rssMbOf(firstWorker.child.pid), peak: firstWorker.peakRssMb() }),
          log,
          failures: openOrderFailures,
        });
      }

      log(`${label}: verifying every order in PostgreSQL and its events on Kafka`);
      run.verification = await verify(system.placed, events);
      const cpuSecOf = (proc: Proc) => round(processCpuSeconds(proc.child.pid), 1);
      run.cpuSec = { apis: apis.map(cpuSecOf), workers: workers.map(cpuSecOf) };
      // The next topology polls the same task queue: these processes go first.
      await stopProcs([...apis, ...workers]);
    }
    // Tracing exported vs off: two 1x1 services side by side, each on a task queue of its own,
    // one with no OTLP endpoint (the default), one exporting every span to a receiver in this
    // process; they take turns (ABBA…) on the same number of lifecycles.
    if (tracingOrders > 0) {
      const receiver = await startOtlpReceiver();
      try {
        const pairs = await Promise.all(
          (['off', 'exported'] as const).map(async (mode) => {
            const pairEnv: Record<string, string> = {
              ...env,
              TEMPORAL_TASK_QUEUE: tracingQueues[mode],
              ...(mode === 'exported' ? { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url } : {}),
            };
            const [worker, api] = await Promise.all([
              startWorker(`tracing-${mode}-worker`, pairEnv),
              startApi(`tracing-${mode}-api`, pairEnv),
            ]);
            alive.add(worker);
            alive.add(api);
            const service = systemLifecycle({
              apiUrls: [api.url],
              token: BENCH_TOKEN,
              events,
              lifecycleTimeoutMs: 120_000,
            });
            const pids = { api: [api.child.pid], worker: [worker.child.pid] };
            return { mode, worker, api, service, pids, measured: emptyMeasured() };
          }),
        );
        for (const pair of pairs) await warm(pair.service.lifecycle);
        let at = 0;
        for (const [round, size] of chunkSizes(tracingOrders, rounds).entries()) {
          for (const pair of round % 2 === 0 ? pairs : [...pairs].reverse()) {
            log(`tracing ${pair.mode}: ${size} lifecycles over HTTP`);
            await measure(pair.measured, pair.service.lifecycle, size, at, pair.pids);
          }
          at += size;
        }
        for (const pair of pairs) {
          tracing[pair.mode] = {
            perSec: summarize(pair.measured.samples).perSec,
            createP99Ms: summarize(pair.measured.samples).startP99Ms,
            cpuMsPerLifecycle: machineCpuMs(pair.measured) ?? null,
            verification: await verify(pair.service.placed, events),
            failures: pair.measured.samples.failures.slice(0, 20),
          };
        }
        tracing.spansExported = receiver.spans().length;
        tracing.exportRequests = receiver.requests();
        await stopProcs(pairs.flatMap((pair) => [pair.api, pair.worker]));
      } finally {
        await receiver.close();
      }
    }
    // Reading at scale, on a database of its own, once the lifecycles are measured (nothing else runs).
    listing =
      listingRows === 0
        ? undefined
        : await measureListing({
            databaseUrl,
            rows: listingRows,
            env,
            startApi: (apiEnv) => startApi('listing-api', apiEnv),
            token: BENCH_TOKEN,
            prepareDatabase,
            log,
          });
  } finally {
    outages = outageWatch.stop();
    await Promise.all([stopProcs([...alive]), stopBaselines()]);
    // What the run leaves open (open orders, ended ones awaiting archival) ends, so runs do not
    // pile up on the server: a batch operation it carries out after the run.
    log('ending the run’s open workflows (one batch terminate)');
    await terminateOpenWorkflows(
      config,
      [taskQueue, bareQueue, yardstickQueue, tracingQueues.off, tracingQueues.exported],
      `bench-${runId}`,
    ).then(
      (count) => log(`${count} open workflows ended`),
      (error: unknown) => log(`could not end the run's open workflows: ${String(error)}`),
    );
    await events.close();
    rmSync(scratch, { recursive: true, force: true });
    for (const cleanup of cleanups) cleanup();
  }

  const summary: Record<string, Summary | undefined> = Object.fromEntries(
    Object.entries(subjects).map(([name, value]) => [name, summarize(value.samples)]),
  );
  const bare = summary.bareTemporal;
  const ratioToBare = (value: number) => ratioOf(value, bare?.perSec);
  const rssOf = (proc: Proc) => round(proc.peakRssMb(), 0);
  const topologyResults = runs.map((run, position) => {
    const figures = summarize(run.measured.samples);
    const verification = run.verification as Verification;
    return {
      topology: run.topology.label,
      apis: run.topology.apis,
      workers: run.topology.workers,
      /** Only the first topology takes turns with bare Temporal; the others' ratios are to the same bare figure. */
      interleavedWithBareTemporal: position === 0 && bare !== undefined,
      lifecyclesPerSec: figures.perSec,
      overallPerSec: figures.overallPerSec,
      ratioToBareTemporal: ratioToBare(figures.perSec) ?? null,
      createP50Ms: figures.startP50Ms,
      createP95Ms: figures.startP95Ms,
      createP99Ms: figures.startP99Ms,
      transitionP50Ms: figures.transitionP50Ms,
      transitionP99Ms: figures.transitionP99Ms,
      transitionP50ToBare: ratioOf(figures.transitionP50Ms, bare?.transitionP50Ms) ?? null,
      transitionP99ToBare: ratioOf(figures.transitionP99Ms, bare?.transitionP99Ms) ?? null,
      lifecycleP50Ms: figures.lifecycleP50Ms,
      lifecycleP99Ms: figures.lifecycleP99Ms,
      /** Peak RSS of each API process and each worker process, in start order. */
      apiRssMb: run.apis.map(rssOf),
      workerRssMb: run.workers.map(rssOf),
      /** CPU seconds of each API and worker over its life: how the load spread over the processes. */
      apiCpuSec: run.cpuSec?.apis ?? [],
      workerCpuSec: run.cpuSec?.workers ?? [],
      lost: verification.lost,
      duplicated: verification.duplicated,
      failed: figures.failed,
      createAccepted202: run.system.counters.createAccepted202,
      transitionAccepted202: run.system.counters.transitionAccepted202,
      /** Requests each API served (round robin; warm-up and repeats after a 202 included). */
      requestsPerApi: run.system.requestsPerApi,
      verification,
      cpuMsPerLifecycle: machineCpuMs(run.measured) ?? null,
      cpuMsPerLifecycleByPart: cpuPerLifecycle(run.measured.cpu, lifecyclesOf(run.measured)),
      failures: run.measured.samples.failures.slice(0, 20),
    };
  });
  const primary = topologyResults[0];
  const primaryRun = runs[0];
  if (primary === undefined || primaryRun === undefined) throw new Error('no topology was measured');
  const sys = summary.system as Summary;
  const verification = primary.verification;
  const failures = [
    ...Object.values(subjects).flatMap((value) => value.samples.failures),
    ...runs.slice(1).flatMap((run) => run.measured.samples.failures),
    ...openLoop.flatMap((entry) => [...entry.system.failures, ...entry.bare.failures]),
    ...openOrderFailures,
    ...(tracing.off?.failures ?? []),
    ...(tracing.exported?.failures ?? []),
  ];
  const yardstick = summary.yardstick;
  const ratioToYardstick = ratioOf(sys.perSec, yardstick?.perSec);
  const cpuMsPerLifecycle = machineCpuMs(subjects.system);
  const bareCpuMsPerLifecycle = machineCpuMs(subjects.bareTemporal);
  const cpuToBare = ratioOf(cpuMsPerLifecycle, bareCpuMsPerLifecycle);
  const openLoopResults = openLoop.map(({ loadPercent, ratePerSec, system: own, bare: baseline }) => {
    const mine = summarize(own);
    const theirs = baseline.startMs.length > 0 ? summarize(baseline) : undefined;
    return {
      loadPercent,
      ratePerSec: round(ratePerSec, 2),
      lifecycles: own.startMs.length + own.failures.length,
      createP50Ms: mine.startP50Ms,
      createP99Ms: mine.startP99Ms,
      transitionP50Ms: mine.transitionP50Ms,
      transitionP99Ms: mine.transitionP99Ms,
      bareStartP50Ms: theirs?.startP50Ms ?? null,
      bareStartP99Ms: theirs?.startP99Ms ?? null,
      bareTransitionP50Ms: theirs?.transitionP50Ms ?? null,
      bareTransitionP99Ms: theirs?.transitionP99Ms ?? null,
      createP99ToBareStartP99: ratioOf(mine.startP99Ms, theirs?.startP99Ms) ?? null,
      failed: own.failures.length + baseline.failures.length,
    };
  });
  const openLoopAtHalf = openLoopResults.find((entry) => entry.loadPercent === 50);
  const fewestOpen = openOrders[0];
  const mostOpen = openOrders.at(-1);
  const openOrdersP99Growth =
    openOrders.length > 1 ? ratioOf(mostOpen?.transitionP99Ms, fewestOpen?.transitionP99Ms) : undefined;
  const openOrdersRssGrowth =
    openOrders.length > 1 ? ratioOf(mostOpen?.workerRssMb, fewestOpen?.workerRssMb) : undefined;
  const listingWorstP99 =
    listing === undefined ? undefined : Math.max(...Object.values(listing.queries).map(({ p99Ms }) => p99Ms));
  // Every part that placed orders: the topologies and the tracing comparison.
  const verified = [
    ...topologyResults,
    ...[tracing.off, tracing.exported].flatMap((figures) => (figures === undefined ? [] : [figures.verification])),
  ];
  const lost = verified.reduce((sum, run) => sum + run.lost, 0);
  const duplicated = verified.reduce((sum, run) => sum + run.duplicated, 0);
  const ratio = ratioOf(sys.perSec, bare?.perSec);
  const createToBareStartP99 = ratioOf(sys.startP99Ms, bare?.startP99Ms);
  const transitionP50ToBare = ratioOf(sys.transitionP50Ms, bare?.transitionP50Ms);
  const transitionP99ToBare = ratioOf(sys.transitionP99Ms, bare?.transitionP99Ms);
  mkdirSync(dirname(output), { recursive: true });
  // The processes' own output, for a look after the run (bench/results is git-ignored).
  const logs: Record<string, number> = {};
  const outputs: [string, string[] | undefined][] = [];
  for (const run of runs) {
    const names = processNames(run.topology);
    for (const [index, api] of run.apis.entries()) outputs.push([names.api(index), api.output]);
    for (const [index, worker] of run.workers.entries()) outputs.push([names.worker(index), worker.output]);
  }
  outputs.push(['bare-worker', bareWorker?.output], ['yardstick-worker', yardstickWorker?.output]);
  for (const [name, lines] of outputs) {
    if (lines === undefined) continue;
    logs[name] = lines.length;
    writeFileSync(join(dirname(output), `${basename(output, '.json')}.${name}.log`), `${lines.join('\n')}\n`);
  }
  const profiled = profile
    ? drawProfiles(
        dirname(output),
        primaryRun.workers[0]?.child.pid,
        profileStartedAt,
        join(dirname(output), basename(output, '.json')),
      )
    : undefined;
  // The first topology's largest API and worker (its only ones in 1x1).
  const apiRssMb = Math.max(...primary.apiRssMb);
  const workerRssMb = Math.max(...primary.workerRssMb);
  const bareWorkerRssMb = bareWorker === undefined ? undefined : round(bareWorker.peakRssMb(), 0);
  const yardstickWorkerRssMb = yardstickWorker === undefined ? undefined : round(yardstickWorker.peakRssMb(), 0);
  // The order worker against the yardstick's (issue 19's budget: CPU ≤ 1.3×, peak RSS ≤ 1.1× and < 250 MB).
  const workerCpuMsPerLifecycle = processCpuMs(subjects.system, 'worker');
  const yardstickWorkerCpuMsPerLifecycle = processCpuMs(subjects.yardstick, 'worker');
  const workerCpuToYardstick = ratioOf(workerCpuMsPerLifecycle, yardstickWorkerCpuMsPerLifecycle);
  const workerRssToYardstick = ratioOf(workerRssMb, yardstickWorkerRssMb);
  const result = {
    orders,
    concurrency,
    /** GET /orders/{id} and listings at 4 concurrent readers over `listing.rows` orders, with their plans. */
    listing,
    warmup,
    rounds,
    /** The topology the fields up to `subjects` describe (the first of `topologies`; lost, duplicated, failed: the whole run). */
    topology: primary.topology,
    lifecyclesPerSec: sys.perSec,
    /** The frozen classic order workflow (bench/yardstick), no I/O: the figure that does not move with our workflow. */
    yardstickPerSec: yardstick?.perSec ?? null,
    ratioToYardstick: ratioToYardstick ?? null,
    /** Our own workflow with no-I/O activities: moves whenever the workflow changes. */
    bareTemporalPerSec: bare?.perSec ?? null,
    ratioToBareTemporal: ratio ?? null,
    /** Busy CPU of the whole machine per lifecycle (ms), order service and bare Temporal, closed loop. */
    cpuMsPerLifecycle: cpuMsPerLifecycle ?? null,
    bareCpuMsPerLifecycle: bareCpuMsPerLifecycle ?? null,
    yardstickCpuMsPerLifecycle: machineCpuMs(subjects.yardstick) ?? null,
    cpuToBare: cpuToBare ?? null,
    /** CPU of the worker process(es) alone per lifecycle (ms, /proc): the order service's first topology, the yardstick's, bare Temporal's. */
    workerCpuMsPerLifecycle: workerCpuMsPerLifecycle ?? null,
    yardstickWorkerCpuMsPerLifecycle: yardstickWorkerCpuMsPerLifecycle ?? null,
    workerCpuToYardstick: workerCpuToYardstick ?? null,
    bareWorkerCpuMsPerLifecycle: processCpuMs(subjects.bareTemporal, 'worker') ?? null,
    /** --profile: the first order worker's CPU profile and its flame graph. */
    profile: profiled ?? null,
    /** Arrivals at fixed rates (shares of lifecyclesPerSec); latencies from each request's scheduled time. */
    openLoop: openLoopResults,
    /** Confirms on random old orders (out of the worker's cache) with this many orders open. */
    openOrders,
    /** Two 1x1 services taking turns: no OTLP endpoint (off) vs every span exported to a receiver. */
    tracing: {
      ...tracing,
      exportedToOff: ratioOf(tracing.exported?.perSec, tracing.off?.perSec) ?? null,
      cpuExportedToOff:
        ratioOf(tracing.exported?.cpuMsPerLifecycle ?? undefined, tracing.off?.cpuMsPerLifecycle ?? undefined) ?? null,
    },
    createP50Ms: sys.startP50Ms,
    createP95Ms: sys.startP95Ms,
    createP99Ms: sys.startP99Ms,
    bareStartP50Ms: bare?.startP50Ms ?? null,
    bareStartP99Ms: bare?.startP99Ms ?? null,
    createP99ToBareStartP99: createToBareStartP99 ?? null,
    lifecycleP50Ms: sys.lifecycleP50Ms,
    lifecycleP99Ms: sys.lifecycleP99Ms,
    bareLifecycleP50Ms: bare?.lifecycleP50Ms ?? null,
    bareLifecycleP99Ms: bare?.lifecycleP99Ms ?? null,
    /** POST complete/cancel until its 200 (202s repeated until then), and bare Temporal's Update until it returned. */
    transitionP50Ms: sys.transitionP50Ms,
    transitionP99Ms: sys.transitionP99Ms,
    bareTransitionP50Ms: bare?.transitionP50Ms ?? null,
    bareTransitionP99Ms: bare?.transitionP99Ms ?? null,
    transitionP50ToBare: transitionP50ToBare ?? null,
    transitionP99ToBare: transitionP99ToBare ?? null,
    apiRssMb,
    workerRssMb,
    bareWorkerRssMb: bareWorkerRssMb ?? null,
    yardstickWorkerRssMb: yardstickWorkerRssMb ?? null,
    workerRssToYardstick: workerRssToYardstick ?? null,
    /** Over every topology of the run and the tracing comparison. */
    lost,
    duplicated,
    /** Failed lifecycles of every subject and topology. */
    failed: failures.length,
    createAccepted202: primary.createAccepted202,
    transitionAccepted202: primary.transitionAccepted202,
    barePostgresPerSec: summary.barePostgres?.perSec ?? null,
    bareKafkaPerSec: summary.bareKafka?.perSec ?? null,
    subjects: summary,
    /** The first topology's (each topology's is in `topologies`). */
    verification,
    /** Each subject's CPU ms per lifecycle, part by part (`other`: the rest of the machine). */
    cpuMsPerLifecycleByPart: Object.fromEntries(
      Object.entries(subjects).map(([name, value]) => [name, cpuPerLifecycle(value.cpu, lifecyclesOf(value))]),
    ),
    /** Each topology of the order service (APIs x workers), in the order measured; the first is the one above. */
    topologies: topologyResults,
    failures: failures.slice(0, 20),
    /** Lines each process printed (its logs are written next to the results). */
    logLines: logs,
    /** Services that refused connections during the run: its figures are then not comparable. */
    outages,
    targets: {
      ratioToYardstick: {
        target: '>= 0.9 (the goal stays 1.0)',
        met: ratioToYardstick === undefined ? null : ratioToYardstick >= 0.9,
      },
      workerCpuToYardstick: {
        target: '<= 1.3 x the yardstick worker',
        met: workerCpuToYardstick === undefined ? null : workerCpuToYardstick <= 1.3,
      },
      workerRssToYardstick: {
        target: '<= 1.1 x the yardstick worker',
        met: workerRssToYardstick === undefined ? null : workerRssToYardstick <= 1.1,
      },
      openLoopCreateP99AtHalf: {
        target: '<= 1.5 x bareStartP99 at 50 % of capacity',
        met:
          typeof openLoopAtHalf?.createP99ToBareStartP99 === 'number'
            ? openLoopAtHalf.createP99ToBareStartP99 <= 1.5
            : null,
      },
      openOrdersTransitionP99: {
        target: `at ${mostOpen?.openOrders ?? '-'} open <= 1.5 x at ${fewestOpen?.openOrders ?? '-'}`,
        met: openOrdersP99Growth === undefined ? null : openOrdersP99Growth <= 1.5,
      },
      openOrdersWorkerRss: {
        target: 'flat (+-10 %)',
        met: openOrdersRssGrowth === undefined ? null : Math.abs(openOrdersRssGrowth - 1) <= 0.1,
      },
      listingP99: { target: '<= 25 ms each', met: listingWorstP99 === undefined ? null : listingWorstP99 <= 25 },
      cpuPerLifecycle: { target: '<= 1.15 x bare', met: cpuToBare === undefined ? null : cpuToBare <= 1.15 },
      ratioToBareTemporal: { target: '>= 0.8', met: ratio === undefined ? null : ratio >= 0.8 },
      createP99: {
        target: '<= 1.5 x bareStartP99',
        met: createToBareStartP99 === undefined ? null : createToBareStartP99 <= 1.5,
      },
      transitionP50: {
        target: '<= 1.5 x bareTransitionP50',
        met: transitionP50ToBare === undefined ? null : transitionP50ToBare <= 1.5,
      },
      transitionP99: {
        target: '<= 1.5 x bareTransitionP99',
        met: transitionP99ToBare === undefined ? null : transitionP99ToBare <= 1.5,
      },
      lostAndDuplicated: { target: '= 0', met: lost === 0 && duplicated === 0 },
      apiRss: { target: '< 150 MB', met: apiRssMb < 150 },
      workerRss: { target: '< 250 MB', met: workerRssMb < 250 },
    },
    date: new Date().toISOString(),
    /** Names the run's Temporal task queues (orders-bench-<runId>, orders-bench-bare-<runId>), to look at its histories. */
    runId,
    durationSec: round((Date.now() - started) / 1000, 0),
    machine: machineFacts(loadAverageBefore),
    settings: {
      databaseUrl,
      logLevel: appEnvironment('').LOG_LEVEL,
      workerMaxConcurrentActivities: config.WORKER_MAX_CONCURRENT_ACTIVITIES,
      workerMaxConcurrentWorkflowTasks: config.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
      workerWorkflowTaskPollers: config.WORKER_WORKFLOW_TASK_POLLERS,
      workerNonStickyPollRatio: config.WORKER_NON_STICKY_POLL_RATIO,
      workerActivityTaskPollers: config.WORKER_ACTIVITY_TASK_POLLERS,
      workerMaxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS,
      databasePoolMax: config.DATABASE_POOL_MAX,
      transitionWaitMs: config.TRANSITION_WAIT_MS,
      /** Each command's share of the lifecycles it ends (from bench/lib/plan.ts). */
      endingCommands: endingShares(),
      prebuiltWorkflowBundle: !args['bundle-at-start'],
      workerFlags: workerFlags.join(' '),
      /** Frozen with the yardstick (bench/yardstick/worker-options.ts); BENCH_WORKER_NODE_OPTIONS does not change them. */
      yardstickWorkerFlags: YARDSTICK_NODE_FLAGS.join(' '),
      workerRuns:
        args['worker-tsx'] || args['bundle-at-start']
          ? 'node --import tsx src/worker.ts'
          : 'compiled (dist/worker.mjs)',
    },
  };

  writeFileSync(output, `${JSON.stringify(result, null, 2)}\n`);

  const rows: (string | number)[][] = [
    [
      'subject',
      'lifecycles/s',
      'vs bare Temporal',
      'start p50',
      'p95',
      'p99',
      'transition p50',
      'p99',
      'lifecycle p50',
      'p99',
      'peak RSS MB',
    ],
  ];
  for (const run of topologyResults) {
    rows.push([
      `order service (HTTP) ${run.topology}`,
      run.lifecyclesPerSec,
      orDash(run.ratioToBareTemporal),
      run.createP50Ms,
      run.createP95Ms,
      run.createP99Ms,
      run.transitionP50Ms,
      run.transitionP99Ms,
      run.lifecycleP50Ms,
      run.lifecycleP99Ms,
      `api ${run.apiRssMb.join('/')}, worker ${run.workerRssMb.join('/')}`,
    ]);
  }
  const names = [
    ['yardstick', 'yardstick (frozen)'],
    ['bareTemporal', 'bare Temporal'],
    ['barePostgres', 'bare PostgreSQL'],
    ['bareKafka', 'bare Kafka'],
  ] as const;
  for (const [name, label] of names) {
    const value = summary[name];
    if (value === undefined) continue;
    rows.push([
      label,
      value.perSec,
      orDash(ratioToBare(value.perSec)),
      value.startP50Ms,
      value.startP95Ms,
      value.startP99Ms,
      value.transitionP50Ms,
      value.transitionP99Ms,
      value.lifecycleP50Ms,
      value.lifecycleP99Ms,
      name === 'bareTemporal'
        ? `worker ${orDash(bareWorkerRssMb)}`
        : name === 'yardstick'
          ? `worker ${orDash(yardstickWorkerRssMb)}`
          : '-',
    ]);
  }
  const mark = (met: boolean | null) => (met === null ? 'n/a' : met ? 'met' : 'NOT MET');
  const { machine, targets } = result;
  console.log(
    `\nOrder lifecycles: ${orders} per subject and topology, concurrency ${concurrency}, ${rounds} round(s); ` +
      `topologies (APIs x workers) ${topologyResults.map((run) => run.topology).join(', ')}; ` +
      `${machine.nproc} × ${machine.cpuModel}, node ${machine.node}, load ${loadAverageBefore.join(' ')}\n`,
  );
  console.log(table(rows));
  const endings = ENDING_COMMANDS.join('/');
  console.log(
    '(ms; start = until the 201 of POST /orders, or until update-with-start (yardstick: start) returned; ' +
      `transition = POST ${endings} until its 200, or the ${endings} Update until it returned; ` +
      'lifecycle = until the ending transition’s events are on Kafka, or (bare) its Update returned, ' +
      'or (yardstick) signal until the workflow’s result' +
      (topologyResults.length > 1 && bare ? `; bare Temporal took turns with ${primary.topology} only` : '') +
      ')',
  );
  console.log(
    `${endings} p50 / p99: ` +
      topologyResults
        .map(
          (run) =>
            `order service ${run.topology} ${run.transitionP50Ms} / ${run.transitionP99Ms} ms` +
            (bare ? ` (${orDash(run.transitionP50ToBare)}× / ${orDash(run.transitionP99ToBare)}× bare)` : '') +
            (run.transitionAccepted202 > 0 ? `, ${run.transitionAccepted202} answered 202 first` : ''),
        )
        .join('; ') +
      (bare ? `; bare Temporal ${bare.transitionP50Ms} / ${bare.transitionP99Ms} ms` : ''),
  );
  console.log('');
  for (const run of topologyResults) {
    console.log(
      `order service ${run.topology}: lost ${run.lost}, duplicated ${run.duplicated}, failed ${run.failed}` +
        ` (${run.verification.ordersChecked} orders checked in PostgreSQL, ${run.verification.eventsExpected} events on Kafka by ce_id);` +
        ` requests per API ${run.requestsPerApi.join('/')}; CPU s per API ${run.apiCpuSec.join('/')},` +
        ` per worker ${run.workerCpuSec.join('/')}`,
    );
  }
  console.log(`run: lost ${lost}, duplicated ${duplicated}, failed ${failures.length} (bare subjects included)`);
  if (openLoopResults.length > 0) {
    console.log('\nOpen loop (arrivals at a fixed rate; ms from each request’s scheduled time):');
    console.log(
      table([
        ['load', 'rate/s', 'create p50', 'p99', 'transition p50', 'p99', 'bare start p50', 'p99', 'create p99 / bare'],
        ...openLoopResults.map((entry) => [
          `${entry.loadPercent} %`,
          entry.ratePerSec,
          entry.createP50Ms,
          entry.createP99Ms,
          entry.transitionP50Ms,
          entry.transitionP99Ms,
          orDash(entry.bareStartP50Ms),
          orDash(entry.bareStartP99Ms),
          orDash(entry.createP99ToBareStartP99),
        ]),
      ]),
    );
  }
  if (openOrders.length > 0) {
    console.log('\nOpen orders (confirms on random old orders, 4 at a time):');
    console.log(
      table([
        ['open orders', 'confirms', 'p50 ms', 'p99 ms', 'worker RSS MB', 'peak MB', 'created', 'in s'],
        ...openOrders.map((level) => [
          level.openOrders,
          level.transitions,
          level.transitionP50Ms,
          level.transitionP99Ms,
          level.workerRssMb,
          level.workerPeakRssMb,
          level.createdForLevel,
          level.createSeconds,
        ]),
      ]),
    );
  }
  if (tracing.off !== undefined && tracing.exported !== undefined) {
    console.log(
      '\nTracing (two 1x1 services taking turns; exported: every span over OTLP to a receiver in the bench):',
    );
    console.log(
      table([
        ['tracing', 'lifecycles/s', 'create p99 ms', 'CPU ms/lifecycle', 'lost', 'duplicated'],
        ...(['off', 'exported'] as const).map((mode) => {
          const figures = tracing[mode] as TracingFigures;
          return [
            mode,
            figures.perSec,
            figures.createP99Ms,
            orDash(figures.cpuMsPerLifecycle ?? undefined),
            figures.verification.lost,
            figures.verification.duplicated,
          ];
        }),
      ]),
    );
    console.log(
      `exported ÷ off: ${orDash(result.tracing.exportedToOff ?? undefined)} lifecycles/s, ` +
        `${orDash(result.tracing.cpuExportedToOff ?? undefined)} CPU; ${tracing.spansExported} spans in ${tracing.exportRequests} OTLP requests`,
    );
  }
  console.log('');
  if (listing !== undefined) {
    const figures = Object.entries(listing.queries)
      .map(([name, { p50Ms, p99Ms }]) => `${name} ${p50Ms} / ${p99Ms}`)
      .join(', ');
    const met = Object.values(listing.queries).every(({ p99Ms }) => p99Ms <= 25);
    console.log(
      `listing over ${listing.rows} orders (loaded in ${listing.loadSeconds} s), ${listing.readers} readers, ` +
        `p50 / p99 ms: ${figures}; every p99 ≤ 25 ms ${mark(met)}; plans in the results file`,
    );
  }
  console.log(
    `targets (order service ${primary.topology}): ratio to yardstick ${orDash(ratioToYardstick)} ≥ 0.9 ${mark(targets.ratioToYardstick.met)}; ` +
      `worker CPU ${orDash(workerCpuMsPerLifecycle)} ms = ${orDash(workerCpuToYardstick)}× the yardstick worker's ≤ 1.3 ${mark(targets.workerCpuToYardstick.met)}; ` +
      `worker peak RSS ${orDash(workerRssToYardstick)}× the yardstick worker's ≤ 1.1 ${mark(targets.workerRssToYardstick.met)}; ` +
      `open loop at 50 %: create p99 ${orDash(openLoopAtHalf?.createP99ToBareStartP99)}× bare start p99 ≤ 1.5 ${mark(targets.openLoopCreateP99AtHalf.met)}; ` +
      `open orders: transition p99 ${orDash(openOrdersP99Growth)}× ≤ 1.5 ${mark(targets.openOrdersTransitionP99.met)}, ` +
      `worker RSS ${orDash(openOrdersRssGrowth)}× flat ±10 % ${mark(targets.openOrdersWorkerRss.met)}; ` +
      `CPU per lifecycle ${orDash(cpuMsPerLifecycle)} ms = ${orDash(cpuToBare)}× bare ≤ 1.15 ${mark(targets.cpuPerLifecycle.met)}; ` +
      `ratio to bare ${orDash(ratio)} ≥ 0.8 ${mark(targets.ratioToBareTemporal.met)}; ` +
      `create p99 ${orDash(createToBareStartP99)}× bare start p99 ≤ 1.5 ${mark(targets.createP99.met)}; ` +
      `transition p50 ${orDash(transitionP50ToBare)}× bare ≤ 1.5 ${mark(targets.transitionP50.met)}, ` +
      `p99 ${orDash(transitionP99ToBare)}× bare ≤ 1.5 ${mark(targets.transitionP99.met)}; ` +
      `lost = duplicated = 0 (every topology) ${mark(targets.lostAndDuplicated.met)}; ` +
      `API ${apiRssMb} MB < 150 ${mark(targets.apiRss.met)}; worker ${workerRssMb} MB < 250 ${mark(targets.workerRss.met)}`,
  );
  console.log('CPU ms per lifecycle:');
  const cpuLines: [string, Record<string, number>][] = [
    ...Object.entries(result.cpuMsPerLifecycleByPart).map(([name, parts]): [string, Record<string, number>] => [
      name === 'system' ? `system ${primary.topology}` : name,
      parts,
    ]),
    ...topologyResults
      .slice(1)
      .map((run): [string, Record<string, number>] => [`system ${run.topology}`, run.cpuMsPerLifecycleByPart]),
  ];
  for (const [name, parts] of cpuLines) {
    console.log(
      `  ${name.padEnd(13)} ${Object.entries(parts)
        .map(([part, ms]) => `${part} ${ms}`)
        .join(', ')}`,
    );
  }
  for (const failure of failures.slice(0, 10)) console.log(`failure: ${failure}`);
  for (const { service, from, seconds } of outages) {
    console.log(
      `WARNING: ${service} was unreachable for ${seconds} s from ${from}: these figures are not comparable, rerun`,
    );
  }
  if (profiled !== undefined) {
    console.log(
      `worker CPU profile: ${profiled.cpuProfile}, flame graph ${profiled.flameGraph}` +
        profiled.threads.map((thread) => `; thread ${thread.thread}: ${thread.flameGraph}`).join(''),
    );
  }
  console.log(`\nresults: ${output}`);
  if (lost > 0 || duplicated > 0 || failures.length > 0) process.exitCode = 1;
}

/**
 * The CPU profiles V8 wrote into `dir` for the worker process `pid` when it exited (`--cpu-prof`:
 * one per thread, CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile), renamed after the results
 * (`<stem>.worker.cpuprofile`) and drawn as flame graphs: the newest (the main thread's, written
 * last: activities, clients, the SDK's plumbing) at `<stem>.worker.svg`, each other thread's
 * (the workflow threads, where the workflow code runs) at `<stem>.worker.thread-<n>.svg`.
 */
function drawProfiles(dir: string, pid: number | undefined, since: number, stem: string) {
  const files = readdirSync(dir)
    .filter((name) => /^CPU\..*\.cpuprofile$/.test(name) && (pid === undefined || name.split('.')[3] === String(pid)))
    .map((name) => ({ name, path: join(dir, name), mtime: statSync(join(dir, name)).mtimeMs }))
    .filter((file) => file.mtime >= since)
    .sort((a, b) => b.mtime - a.mtime);
  if (files.length === 0) {
    log(`--profile: no .cpuprofile of the worker (pid ${pid}) in ${dir}: did it exit cleanly?`);
    return undefined;
  }
  const drawn = files.map((file, index) => {
    const thread = file.name.split('.')[4] ?? String(index);
    const suffix = index === 0 ? 'worker' : `worker.thread-${thread}`;
    const cpuProfile = `${stem}.${suffix}.cpuprofile`;
    const flameGraph = `${stem}.${suffix}.svg`;
    renameSync(file.path, cpuProfile);
    const title = `order worker CPU profile, ${index === 0 ? 'main thread' : `thread ${thread} (workflows)`} (${file.name})`;
    writeFileSync(flameGraph, flameGraphSvg(JSON.parse(readFileSync(cpuProfile, 'utf8')), { title }));
    return { thread: Number(thread), cpuProfile, flameGraph };
  });
  const [main, ...threads] = drawn;
  return { cpuProfile: main?.cpuProfile, flameGraph: main?.flameGraph, threads };
}

// ---- --compare <ref>: the order service at another commit against the working tree ------------

/** One side of --compare: the ref's order service ("base") or the working tree's ("head"). */
interface CompareSide {
  name: 'base' | 'head';
  /** The checkout it runs from: the ref's worktree, or this checkout. */
  dir: string;
  /** Where its build goes (inside its checkout, so its compiled processes find its node_modules). */
  buildDir: string;
  databaseUrl: string;
  taskQueue: string;
  built?: BuiltSide;
  api?: Api;
  worker?: Proc;
  system?: ReturnType<typeof systemLifecycle>;
  measured: Measured;
  verification?: Verification;
}

/** One measured chunk of `count` lifecycles into `into`, the CPU of each part (and of `pids`) added up. */
async function measureChunk(
  into: Measured,
  lifecycle: Lifecycle,
  count: number,
  firstIndex: number,
  pids: Record<string, number | undefined | (number | undefined)[]>,
) {
  const before = cpuSnapshot(pids);
  await drive(lifecycle, { count, concurrency, firstIndex, samples: into.samples });
  addCpu(into.cpu, cpuDelta(before, cpuSnapshot(pids)));
}

/**
 * `--compare <ref>`: the ref's order service ("base": built in a temporary worktree the way that
 * commit builds itself, on a database migrated by its own migrations) and the working tree's
 * ("head": the same, here), 1 API + 1 worker each on a task queue of its own, on the same stack,
 * measured in turns (ABBA…) like the closed loop of the full run; every order and event of both
 * verified. Only this runs; the results go under `compare`.
 */
async function compare(ref: string) {
  const started = Date.now();
  const loadAverageBefore = os.loadavg().map((value) => round(value, 2));
  const commit = resolveCommit(ref);
  const subjectLine = commitSubject(commit);
  /** The subject, cut for the terminal (whole in the results). */
  const shortSubject = subjectLine.length > 72 ? `${subjectLine.slice(0, 71)}…` : subjectLine;
  const headCommit = resolveCommit('HEAD');
  const headChanges = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], {
    cwd: ROOT,
    encoding: 'utf8',
  }).trim();
  // ABBA needs two chunks at least; --rounds (or BENCH_ROUNDS) given is taken as it is.
  const compareRounds = (args.rounds ?? process.env.BENCH_ROUNDS) === undefined ? Math.max(2, rounds) : rounds;
  const config: Config = loadConfig({
    ...process.env,
    ...BENCH_ENVIRONMENT,
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: 'warn',
  });
  log(
    `compare: base ${ref} = ${commit.slice(0, 10)} (${shortSubject}) against head = the working tree ` +
      `(${headCommit.slice(0, 10)}${headChanges === '' ? '' : ' + uncommitted changes'}); ${orders} lifecycles ` +
      `each at concurrency ${concurrency}, warm-up ${warmup}, ${compareRounds} turns each (ABBA…)`,
  );
  const worktree = addWorktree(commit);
  const sideOf = (name: 'base' | 'head', dir: string): CompareSide => ({
    name,
    dir,
    buildDir: join(dir, 'dist', `bench-compare-${runId}`),
    databaseUrl: withDatabase(databaseUrl, `orders_bench_compare_${name}`),
    taskQueue: `orders-bench-compare-${name}-${runId}`,
    measured: emptyMeasured(),
  });
  const sides = [sideOf('base', worktree.dir), sideOf('head', ROOT)];
  const [base, head] = sides as [CompareSide, CompareSide];
  const alive = new Set<Proc>();
  let cleanedUp: Promise<void> | undefined;
  /** Stops the sides' processes, ends their open workflows, drops their databases, removes the worktree and the builds; once. */
  const cleanUp = () => {
    cleanedUp ??= (async () => {
      await Promise.all([...alive].map((proc) => proc.stop()));
      alive.clear();
      log('ending the compare run’s open workflows (one batch terminate)');
      await terminateOpenWorkflows(
        config,
        sides.map((side) => side.taskQueue),
        `bench-compare-${runId}`,
        120_000,
      ).then(
        (count) => log(`${count} open workflows ended`),
        (error: unknown) => log(`could not end the run's open workflows: ${String(error)}`),
      );
      await Promise.all(
        sides.map((side) =>
          dropDatabase(side.databaseUrl).catch((error: unknown) =>
            log(`could not drop ${side.databaseUrl}: ${String(error)}`),
          ),
        ),
      );
      rmSync(head.buildDir, { recursive: true, force: true });
      worktree.remove();
    })();
    return cleanedUp;
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping both sides' processes, ending their workflows, removing the worktree`);
      void cleanUp().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    });
  }
  let outages: Outage[] = [];
  let dependencies = '';
  let events: EventWatch | undefined;
  try {
    dependencies = await installDependencies(worktree.dir, commit, log);
    log(`compare: node_modules of the base: ${dependencies}; building both sides`);
    await Promise.all(
      sides.map(async (side) => {
        side.built = await buildSide(side.dir, side.buildDir);
      }),
    );
    log('compare: a fresh database for each side, migrated by its own migrations');
    await retrying('PostgreSQL', () =>
      Promise.all(sides.map((side) => freshDatabase(side.databaseUrl, side.dir))).then(() => undefined),
    );
    const kafka = createKafka(
      { ...config, KAFKA_CLIENT_ID: 'order-bench' },
      createLogger({ ...config, LOG_LEVEL: 'fatal' }, 'bench'),
    );
    const eventsTopic = orderTopics(config.KAFKA_TOPIC_PREFIX).events;
    await retrying('Kafka', () =>
      ensureTopics(kafka, [{ topic: eventsTopic, numPartitions: ORDER_EVENTS_PARTITIONS }]),
    );
    const watch = await retrying('Kafka', () => watchTopic(kafka, eventsTopic));
    events = watch;
    const outageWatch = watchOutages(servicesOf(config));
    try {
      await Promise.all(
        sides.map(async (side) => {
          const built = side.built as BuiltSide;
          const sideEnv: Record<string, string> = {
            ...appEnvironment(side.taskQueue),
            DATABASE_URL: side.databaseUrl,
            COMMANDS_ENABLED: 'false',
          };
          const [worker, api] = await Promise.all([
            startWorkerChild(
              `${side.name}-worker`,
              built.worker.entry,
              {
                ...sideEnv,
                ...(built.workflowBundle === undefined ? {} : { WORKFLOW_BUNDLE_PATH: built.workflowBundle }),
                WORKER_METRICS_ADDRESS: `127.0.0.1:${await freePort()}`,
              },
              built.worker.nodeArgs,
              side.dir,
            ).then((proc) => {
              alive.add(proc);
              return proc;
            }),
            startApiChild(`${side.name}-api`, built.api.entry, sideEnv, built.api.nodeArgs, side.dir).then((proc) => {
              alive.add(proc);
              return proc;
            }),
          ]);
          side.worker = worker;
          side.api = api;
          side.system = systemLifecycle({
            apiUrls: [api.url],
            token: BENCH_TOKEN,
            events: watch,
            lifecycleTimeoutMs: 120_000,
          });
        }),
      );
      for (const side of sides) {
        log(`compare ${side.name}: warm-up`);
        await drive((side.system as ReturnType<typeof systemLifecycle>).lifecycle, {
          count: warmup,
          concurrency,
          firstIndex: 1_000_000,
        });
      }
      let firstIndex = 0;
      for (const [turn, size] of chunkSizes(orders, compareRounds).entries()) {
        for (const side of turn % 2 === 0 ? [base, head] : [head, base]) {
          log(`compare ${side.name}: ${size} lifecycles over HTTP`);
          await measureChunk(
            side.measured,
            (side.system as ReturnType<typeof systemLifecycle>).lifecycle,
            size,
            firstIndex,
            {
              api: side.api?.child.pid,
              worker: side.worker?.child.pid,
            },
          );
        }
        firstIndex += size;
      }
      for (const side of sides) {
        log(`compare ${side.name}: verifying every order in PostgreSQL and its events on Kafka`);
        side.verification = await verify(
          (side.system as ReturnType<typeof systemLifecycle>).placed,
          watch,
          side.databaseUrl,
        );
      }
    } finally {
      outages = outageWatch.stop();
    }
    await Promise.all(
      sides.map(async (side) => {
        for (const proc of [side.api, side.worker]) {
          if (proc === undefined) continue;
          await proc.stop();
          alive.delete(proc);
        }
      }),
    );
  } finally {
    await cleanUp();
    await events?.close();
  }

  const figuresOf = (side: CompareSide) => {
    const summary = summarize(side.measured.samples);
    const verification = side.verification as Verification;
    const lifecycles = lifecyclesOf(side.measured);
    const perLifecycle = (seconds: number | undefined) =>
      lifecycles === 0 || seconds === undefined ? null : round((seconds * 1000) / lifecycles, 1);
    const built = side.built as BuiltSide;
    return {
      lifecyclesPerSec: summary.perSec,
      overallPerSec: summary.overallPerSec,
      /** CPU of the worker process alone per lifecycle (ms, /proc), during the side's turns. */
      workerCpuMsPerLifecycle: perLifecycle(side.measured.cpu.worker),
      apiCpuMsPerLifecycle: perLifecycle(side.measured.cpu.api),
      /** Busy CPU of the whole machine per lifecycle during the side's turns. */
      machineCpuMsPerLifecycle: perLifecycle(side.measured.cpu.machineBusy),
      workerPeakRssMb: round(side.worker?.peakRssMb() ?? 0, 0),
      apiPeakRssMb: round(side.api?.peakRssMb() ?? 0, 0),
      createP50Ms: summary.startP50Ms,
      createP99Ms: summary.startP99Ms,
      transitionP50Ms: summary.transitionP50Ms,
      transitionP99Ms: summary.transitionP99Ms,
      lifecycleP50Ms: summary.lifecycleP50Ms,
      lifecycleP99Ms: summary.lifecycleP99Ms,
      lifecycles: summary.completed,
      lost: verification.lost,
      duplicated: verification.duplicated,
      failed: summary.failed,
      createAccepted202: side.system?.counters.createAccepted202 ?? 0,
      transitionAccepted202: side.system?.counters.transitionAccepted202 ?? 0,
      verification,
      cpuMsPerLifecycleByPart: cpuPerLifecycle(side.measured.cpu, lifecycles),
      /** How the side was built and run: its scripts/build.ts (compiled, its V8 flags) or tsx. */
      builtWith: built.builtWith,
      workerNodeArgs: built.worker.nodeArgs,
      apiNodeArgs: built.api.nodeArgs,
      prebuiltWorkflowBundle: built.workflowBundle !== undefined,
      databaseUrl: side.databaseUrl,
      taskQueue: side.taskQueue,
      failures: side.measured.samples.failures.slice(0, 20),
    };
  };
  const baseFigures = figuresOf(base);
  const headFigures = figuresOf(head);
  const ratioKeys = [
    'lifecyclesPerSec',
    'workerCpuMsPerLifecycle',
    'apiCpuMsPerLifecycle',
    'machineCpuMsPerLifecycle',
    'workerPeakRssMb',
    'apiPeakRssMb',
    'createP99Ms',
    'transitionP99Ms',
  ] as const;
  const ratios = Object.fromEntries(
    ratioKeys.map((key) => [key, ratioOf(headFigures[key] ?? undefined, baseFigures[key] ?? undefined) ?? null]),
  ) as Record<(typeof ratioKeys)[number], number | null>;
  const lost = baseFigures.lost + headFigures.lost;
  const duplicated = baseFigures.duplicated + headFigures.duplicated;
  const failed = baseFigures.failed + headFigures.failed;
  mkdirSync(dirname(output), { recursive: true });
  const stem = join(dirname(output), basename(output, '.json'));
  const logs: Record<string, number> = {};
  for (const side of sides) {
    for (const [kind, proc] of [
      ['api', side.api],
      ['worker', side.worker],
    ] as const) {
      if (proc === undefined) continue;
      logs[`${side.name}.${kind}`] = proc.output.length;
      writeFileSync(`${stem}.${side.name}.${kind}.log`, `${proc.output.join('\n')}\n`);
    }
  }
  const result = {
    orders,
    concurrency,
    warmup,
    rounds: compareRounds,
    compare: {
      ref,
      commit,
      subject: subjectLine,
      /** The working tree: this commit, plus its uncommitted changes when `headDirty`. */
      headCommit,
      headDirty: headChanges !== '',
      /** node_modules of the base: linked to this checkout's (same package-lock.json), or its own (npm ci). */
      baseDependencies: dependencies,
      base: baseFigures,
      head: headFigures,
      /** head ÷ base: above 1 is more of it in the working tree (more lifecycles/s, or more CPU, memory, latency). */
      ratios,
    },
    lost,
    duplicated,
    failed,
    logLines: logs,
    outages,
    date: new Date().toISOString(),
    runId,
    durationSec: round((Date.now() - started) / 1000, 0),
    machine: machineFacts(loadAverageBefore),
  };
  writeFileSync(output, `${JSON.stringify(result, null, 2)}\n`);

  const row = (label: string, key: (typeof ratioKeys)[number]) => [
    label,
    orDash(baseFigures[key]),
    orDash(headFigures[key]),
    orDash(ratios[key]),
  ];
  console.log(
    `\nCompare: base = ${ref} (${commit.slice(0, 10)} ${shortSubject}), head = the working tree ` +
      `(${headCommit.slice(0, 10)}${headChanges === '' ? '' : ' + uncommitted changes'}); ` +
      `${orders} lifecycles each, concurrency ${concurrency}, ${compareRounds} turns each (ABBA), 1 API + 1 worker each; ` +
      `${result.machine.nproc} × ${result.machine.cpuModel}, load ${loadAverageBefore.join(' ')}\n`,
  );
  console.log(
    table([
      ['', 'base', 'head', 'head ÷ base'],
      row('lifecycles/s', 'lifecyclesPerSec'),
      row('worker CPU ms / lifecycle', 'workerCpuMsPerLifecycle'),
      row('API CPU ms / lifecycle', 'apiCpuMsPerLifecycle'),
      row('machine CPU ms / lifecycle', 'machineCpuMsPerLifecycle'),
      row('worker peak RSS MB', 'workerPeakRssMb'),
      row('API peak RSS MB', 'apiPeakRssMb'),
      row('create p99 ms', 'createP99Ms'),
      row('transition p99 ms', 'transitionP99Ms'),
      [
        'lost / duplicated / failed',
        `${baseFigures.lost} / ${baseFigures.duplicated} / ${baseFigures.failed}`,
        `${headFigures.lost} / ${headFigures.duplicated} / ${headFigures.failed}`,
        '',
      ],
    ]),
  );
  console.log(
    `(base built with ${baseFigures.builtWith}, node ${baseFigures.workerNodeArgs.join(' ')} for its worker; ` +
      `head with ${headFigures.builtWith}, node ${headFigures.workerNodeArgs.join(' ')}; ` +
      `node_modules of the base: ${dependencies})`,
  );
  for (const failure of [...baseFigures.failures, ...headFigures.failures].slice(0, 10)) {
    console.log(`failure: ${failure}`);
  }
  for (const { service, from, seconds } of outages) {
    console.log(
      `WARNING: ${service} was unreachable for ${seconds} s from ${from}: these figures are not comparable, rerun`,
    );
  }
  console.log(`\nresults: ${output}`);
  if (lost > 0 || duplicated > 0 || failed > 0) process.exitCode = 1;
}

main().then(
  // kafkajs and the Temporal client may leave handles behind; the results are written.
  () => process.exit(),
  (error: unknown) => {
    console.error('benchmark failed:', error);
    process.exit(1);
  },
);
