// npm run bench [-- --quick | --orders N --concurrency C --topology 1x1,2x2 --output FILE]: full
// order lifecycles per second and their latencies, for each topology (N API processes × M worker
// processes), against the fixed yardstick (bench/yardstick) and the bare Temporal, PostgreSQL and
// Kafka baselines measured in the same run on the same services at the same concurrency; then
// latency at fixed arrival rates (open loop), transitions among many open orders, and reads over
// a million orders. See bench/README.md. With --compare <ref>: only the order service at that
// commit against the working tree, in turns (bench/lib/compare.ts).
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import os from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { API_NODE_FLAGS, buildServices, SERVICE_PROCESS_ENV } from '../scripts/build.js';
import { buildOrderWorkflowBundles, buildWorkflowBundle } from '../scripts/build-workflows.js';
import { type Config, loadConfig } from '../src/config.js';
import { migrateDatabase } from '../src/db/migrate.js';
import { createKafka, ensureTopics, ORDER_EVENTS_PARTITIONS, orderTopics } from '../src/kafka/index.js';
import { createLogger } from '../src/logger.js';
import { startOtlpReceiver } from '../test/support/otlp-receiver.js';
import { startApiProcess, startWorkerProcess, workerPolls } from '../test/support/processes.js';
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
import {
  deleteArchiveSchedules,
  type EndedOrderRuns,
  measureArchiveSweep,
  measureEndedOrderRuns,
} from './lib/ended-orders.js';
import { type EventWatch, watchTopic } from './lib/events.js';
import {
  emptyMeasured,
  lifecyclesOf,
  type Measured,
  machineCpuMs,
  machineFacts,
  orDash,
  ratioOf,
  summarize,
  table,
} from './lib/figures.js';
import {
  type Api,
  type Child,
  type FullRun,
  type OpenLoopLevel,
  type Proc,
  processNames,
  stopBaselines,
  stopProcs,
  subjectOf,
  type TopologyRun,
  type Tracing,
  taskQueuesOf,
} from './lib/full-run.js';
import { measureListing } from './lib/listing.js';
import { measureOpenOrders, type OpenOrdersLevel } from './lib/open-orders.js';
import { parseBenchOptions, type Topology } from './lib/options.js';
import { type Outage, watchOutages } from './lib/outages.js';
import {
  bareKafkaLifecycle,
  barePostgresLifecycle,
  bareTemporalLifecycle,
  drive,
  driveOpenLoop,
  emptySamples,
  type Lifecycle,
  type Samples,
  systemLifecycle,
  terminateOpenWorkflows,
  yardstickLifecycle,
} from './lib/phases.js';
import { drawProfiles } from './lib/profile.js';
import { figuresOf, printReport, resultOf, writeProcessLogs } from './lib/report.js';
import { useStack } from './lib/stack.js';
import { snapshotStatements, type TopStatements, topStatements } from './lib/statements.js';
import { round } from './lib/stats.js';
import { type Verification, verify } from './lib/verify.js';
import { buildYardstickBundle } from './yardstick/bundle.js';
import { YARDSTICK_NODE_FLAGS } from './yardstick/worker-options.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const BENCH_TOKEN = `bench-token-${randomUUID()}`;

// ---- options ---------------------------------------------------------------------------------

const options = parseBenchOptions();
// The stack first: the cluster's addresses are in the environment before any configuration is read.
const stack = useStack(options.stack);
const {
  orders,
  concurrency,
  openLoopSeconds,
  openOrderLevels,
  openOrderTransitions,
  tracingOrders,
  warmup,
  rounds,
  roundsGiven,
  topologies,
  listingRows,
  listingArchived,
  archiveOrders,
  compareRef,
  readRuns,
  output,
  profile,
  databaseUrl,
  skipBaselines,
  throughTsx,
  bundleAtStart,
  workerFlags,
} = options;
/** The shares of the order service's capacity (closed loop, same run) the open-loop levels drive. */
const OPEN_LOOP_PERCENTS = [25, 50, 75];
/** A transition is due this long after its order's create: long enough that the create has answered. */
const OPEN_LOOP_TRANSITION_DELAY_MS = 1_000;
const runId = randomUUID().slice(0, 8);
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

/** The stack's configuration as the bench's own environment sees it (its namespace, topics and database). */
function benchConfig(): Config {
  return loadConfig({
    ...process.env,
    ...BENCH_ENVIRONMENT,
    DATABASE_URL: databaseUrl,
    LOG_LEVEL: 'warn',
  });
}

/** A Kafka client of the bench, silent: the bench reports what goes wrong itself. */
function benchKafka(config: Config) {
  return createKafka(
    { ...config, KAFKA_CLIENT_ID: 'order-bench' },
    createLogger({ ...config, LOG_LEVEL: 'fatal' }, 'bench'),
  );
}
type Kafka = ReturnType<typeof benchKafka>;

/** `orders` split into `parts` chunks as even as can be. */
const chunkSizes = (total: number, parts: number) =>
  Array.from({ length: parts }, (_, index) => Math.floor(total / parts) + (index < total % parts ? 1 : 0));

/** Unmeasured lifecycles of a subject before it is measured. */
const warmUp = (lifecycle: Lifecycle) => drive(lifecycle, { count: warmup, concurrency, firstIndex: 1_000_000 });

/** One measured chunk of `count` lifecycles into `into`, the CPU of each part (and of `pids`) added up. */
async function measureChunk(
  into: Measured,
  lifecycle: Lifecycle,
  count: number,
  firstIndex: number,
  pids: Record<string, number | undefined | (number | undefined)[]> = {},
) {
  const before = cpuSnapshot(pids);
  await drive(lifecycle, { count, concurrency, firstIndex, samples: into.samples });
  addCpu(into.cpu, cpuDelta(before, cpuSnapshot(pids)));
}

// ---- processes -------------------------------------------------------------------------------

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

// ---- the full run: setup and teardown ----------------------------------------------------------

/** The run's database created and migrated and its events topic made; returns the bench's Kafka client. */
async function prepareStack(config: Config): Promise<Kafka> {
  // The stack may be briefly down (another suite restarts services): setup waits for it a while.
  await retrying('PostgreSQL', () => prepareDatabase(databaseUrl));
  const kafka = benchKafka(config);
  const eventsTopic = orderTopics(config.KAFKA_TOPIC_PREFIX).events;
  await retrying('Kafka', () => ensureTopics(kafka, [{ topic: eventsTopic, numPartitions: ORDER_EVENTS_PARTITIONS }]));
  return kafka;
}

/** The run's shared state, with its outage watch and its watch of the events topic started. */
async function openFullRun(config: Config, kafka: Kafka): Promise<FullRun> {
  const scratch = mkdtempSync(join(os.tmpdir(), 'order-bench-'));
  // --profile: V8 writes the worker's profile(s) here when it exits (a clean exit: SIGTERM, not SIGKILL).
  const profileStartedAt = Date.now();
  if (profile) mkdirSync(dirname(output), { recursive: true });
  const outageWatch = watchOutages(servicesOf(config));
  const events = await retrying('Kafka', () => watchTopic(kafka, orderTopics(config.KAFKA_TOPIC_PREFIX).events));
  const queues = taskQueuesOf(runId);
  return {
    config,
    kafka,
    events,
    outageWatch,
    scratch,
    cleanups: [],
    profileStartedAt,
    queues,
    env: {
      ...appEnvironment(queues.orders),
      // Commands over Kafka are not what is measured, and belong to the workers of the shared cluster.
      COMMANDS_ENABLED: 'false',
    },
    alive: new Set(),
    baselines: {},
    subjects: {},
    runs: [],
    openLoop: [],
    openOrders: [],
    openOrderFailures: [],
    tracing: {},
    outages: [],
  };
}

/** Interrupted (SIGINT/SIGTERM to this process alone), the run still stops what it started. */
function stopOnSignals(run: FullRun): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: stopping the processes of the run`);
      const { bareWorker, yardstickWorker } = run.baselines;
      void Promise.all([
        ...[...run.alive].map((proc) => proc.stop()),
        bareWorker?.stop(),
        yardstickWorker?.stop(),
      ]).finally(() => {
        for (const cleanup of run.cleanups) cleanup();
        process.exit(signal === 'SIGINT' ? 130 : 143);
      });
    });
  }
}

/** The end of the run, measured to the end or not: its processes stopped, its open workflows ended, its files removed. */
async function closeFullRun(run: FullRun): Promise<void> {
  run.outages = run.outageWatch.stop();
  await Promise.all([stopProcs(run, [...run.alive]), stopBaselines(run)]);
  const { queues } = run;
  const serviceQueues = [queues.orders, queues.tracing.off, queues.tracing.exported, queues.archive];
  // Each order worker created its queue's archive sweep Schedule: gone with the run, or it would
  // start a sweep every hour on a queue nobody polls.
  await deleteArchiveSchedules(run.config, serviceQueues).then(
    (count) => log(`${count} archive sweep schedules deleted`),
    (error: unknown) => log(`could not delete the run's archive sweep schedules: ${String(error)}`),
  );
  // What the run leaves open (open orders) ends, so runs do not pile up on the server: a batch
  // operation it carries out after the run.
  log('ending the run’s open workflows (one batch terminate)');
  await terminateOpenWorkflows(run.config, [...serviceQueues, queues.bare, queues.yardstick], `bench-${runId}`).then(
    (count) => log(`${count} open workflows ended`),
    (error: unknown) => log(`could not end the run's open workflows: ${String(error)}`),
  );
  await run.events.close();
  rmSync(run.scratch, { recursive: true, force: true });
  for (const cleanup of run.cleanups) cleanup();
}

// ---- the full run: starting processes ----------------------------------------------------------

/** Starts the run's order workers and APIs, as it was asked to run them. */
interface Launcher {
  /** An order worker; `extraNodeArgs` (the CPU profiler) put it on node's command line, through tsx too. */
  startWorker(name: string, workerEnv?: Record<string, string>, extraNodeArgs?: string[]): Promise<Proc>;
  /** An API process of the run with `apiEnv`, answering /healthz. */
  startApi(name: string, apiEnv: Record<string, string>): Promise<Api>;
}

/** Builds the order service (unless it runs through tsx) and its workflow bundle, and how to start its processes. */
async function prepareLauncher(run: FullRun): Promise<Launcher> {
  // As `npm start` runs them: compiled, the workflows prebuilt (scripts/build.ts). --worker-tsx:
  // both through tsx, as before; --bundle-at-start: without the prebuilt bundle either (to compare).
  // Inside the checkout, so that the compiled processes find node_modules.
  const built = throughTsx ? undefined : await buildServices(join(ROOT, 'dist', `bench-${runId}`));
  if (built !== undefined) run.cleanups.push(() => rmSync(dirname(built.worker), { recursive: true, force: true }));
  // The untraced bundle and its traced twin beside it (the worker picks the one its tracing
  // needs: the "tracing exported" service runs the traced one), as scripts/build.ts writes them.
  const bundle: Record<string, string> = bundleAtStart
    ? {}
    : {
        WORKFLOW_BUNDLE_PATH:
          built?.workflowBundle ?? (await buildOrderWorkflowBundles(join(run.scratch, 'workflow-bundle.js'))),
      };
  return {
    async startWorker(name, workerEnv = run.env, extraNodeArgs = []) {
      const metrics = { WORKER_METRICS_ADDRESS: `127.0.0.1:${await freePort()}` };
      if (built !== undefined) {
        return startWorkerChild(name, built.worker, { ...SERVICE_PROCESS_ENV, ...workerEnv, ...bundle, ...metrics }, [
          ...workerFlags,
          ...extraNodeArgs,
        ]);
      }
      if (extraNodeArgs.length === 0) {
        return startWorkerProcess({
          ...SERVICE_PROCESS_ENV,
          ...workerEnv,
          ...bundle,
          ...workerNodeOptions,
          ...metrics,
        });
      }
      return startWorkerChild(name, 'src/worker.ts', { ...SERVICE_PROCESS_ENV, ...workerEnv, ...bundle, ...metrics }, [
        ...workerFlags,
        ...extraNodeArgs,
        '--import',
        'tsx',
      ]);
    },
    async startApi(name, apiEnv) {
      const env = { ...SERVICE_PROCESS_ENV, ...apiEnv, ...apiNodeOptions };
      if (built === undefined) return startApiProcess(env, await freePort());
      return startApiChild(name, built.api, env, API_NODE_FLAGS);
    },
  };
}

/** The bare-Temporal worker (through tsx) on its queue: our workflow bundled on its own (no interceptors), our worker options and flags. */
async function startBareWorker(run: FullRun): Promise<Child> {
  const bundlePath = await buildWorkflowBundle(
    join(run.scratch, 'bare-bundle.js'),
    join(ROOT, 'bench/bare-workflow.ts'),
  );
  // With the order worker's V8 flags, on its command line (as the compiled worker gets them).
  return startWorkerChild(
    'bare-worker',
    'bench/bare-worker.ts',
    {
      ...SERVICE_PROCESS_ENV,
      ...appEnvironment(run.queues.bare),
      BENCH_WORKFLOW_BUNDLE: bundlePath,
      WORKER_METRICS_ADDRESS: `127.0.0.1:${await freePort()}`,
    },
    [...workerFlags, '--import', 'tsx'],
  );
}

/**
 * The yardstick's worker (through tsx) on its queue: self-contained (bench/yardstick/), its own
 * bundle, its frozen options and V8 flags (not BENCH_WORKER_NODE_OPTIONS), and only the
 * variables it reads.
 */
async function startYardstickWorker(run: FullRun): Promise<Child> {
  const bundlePath = await buildYardstickBundle(join(run.scratch, 'yardstick-bundle.js'));
  return startWorkerChild(
    'yardstick-worker',
    'bench/yardstick/worker.ts',
    {
      TEMPORAL_ADDRESS: run.config.TEMPORAL_ADDRESS,
      TEMPORAL_NAMESPACE: run.config.TEMPORAL_NAMESPACE,
      TEMPORAL_TASK_QUEUE: run.queues.yardstick,
      WORKER_METRICS_ADDRESS: `127.0.0.1:${await freePort()}`,
      BENCH_WORKFLOW_BUNDLE: bundlePath,
    },
    [...YARDSTICK_NODE_FLAGS, '--import', 'tsx'],
  );
}

// ---- the full run: its phases ------------------------------------------------------------------

/** Bare Kafka and bare PostgreSQL, each measured on its own, and alone; then bare Temporal and the yardstick started (measured in the first topology's turns). */
async function measureBaselines(run: FullRun): Promise<void> {
  log('bare Kafka: the same events through the batching idempotent producer');
  const bareKafka = await bareKafkaLifecycle({ kafka: run.kafka, config: run.config });
  await warmUp(bareKafka.lifecycle);
  await measureChunk(subjectOf(run, 'bareKafka'), bareKafka.lifecycle, orders, 0);
  await bareKafka.close();

  log('bare PostgreSQL: the activities’ SQL through pg');
  const barePostgres = barePostgresLifecycle({ config: run.config });
  await warmUp(barePostgres.lifecycle);
  await measureChunk(subjectOf(run, 'barePostgres'), barePostgres.lifecycle, orders, 0);
  await barePostgres.close();

  log('bare Temporal: the order workflow with no-I/O activities (bench/bare-workflow.ts)');
  run.baselines.bareWorker = await startBareWorker(run);
  run.baselines.bareClient = await bareTemporalLifecycle({ config: run.config, taskQueue: run.queues.bare });
  log('yardstick: the classic order workflow, frozen (bench/yardstick)');
  run.baselines.yardstickWorker = await startYardstickWorker(run);
  run.baselines.yardstickClient = await yardstickLifecycle({ config: run.config, taskQueue: run.queues.yardstick });
}

const labelOf = (topology: Topology) => `order service ${topology.label}`;

/**
 * One topology of the order service: started, warmed up, measured closed loop; the first one
 * also takes turns with the baselines, then runs the open loop and the open orders; verified
 * and stopped (the next topology polls the same task queue: these processes go first).
 */
async function measureTopology(run: FullRun, launcher: Launcher, topology: Topology, first: boolean): Promise<void> {
  const topologyRun = await startTopology(run, launcher, topology, first);
  run.runs.push(topologyRun);
  await warmUpTopology(run, topologyRun, first);
  const nextIndex = await measureClosedLoop(run, topologyRun, first);
  if (first) {
    run.endedOrderRuns = await measureEndedOrderRunsOf(run, topologyRun);
    run.openLoop = await measureOpenLoop(run, topologyRun, nextIndex);
    // The baselines are done: their workers would only sit on the machine the next parts measure.
    await stopBaselines(run);
    run.openOrders = await measureOpenOrdersOf(run, topologyRun);
  }
  log(`${labelOf(topology)}: verifying every order in PostgreSQL and its events on Kafka`);
  topologyRun.verification = await verify(topologyRun.system.placed, run.events, databaseUrl);
  topologyRun.cpuSec = lifetimeCpuSec(topologyRun);
  await stopProcs(run, [...topologyRun.apis, ...topologyRun.workers]);
}

/** A topology's API and worker processes, side by side; with --profile the first topology's first worker runs profiled. */
async function startTopology(
  run: FullRun,
  launcher: Launcher,
  topology: Topology,
  first: boolean,
): Promise<TopologyRun> {
  log(`${labelOf(topology)}: starting ${topology.apis} API and ${topology.workers} worker process(es)`);
  const names = processNames(topology);
  const track = (proc: Proc) => run.alive.add(proc);
  const profileNodeArgs = ['--cpu-prof', `--cpu-prof-dir=${dirname(output)}`];
  const [workers, apis] = await Promise.all([
    startAll(
      Array.from(
        { length: topology.workers },
        (_, index) => () =>
          launcher.startWorker(names.worker(index), run.env, first && index === 0 && profile ? profileNodeArgs : []),
      ),
      track,
    ),
    startAll(
      Array.from({ length: topology.apis }, (_, index) => () => launcher.startApi(names.api(index), run.env)),
      track,
    ),
  ]);
  const system = systemLifecycle({
    apiUrls: apis.map((api) => api.url),
    token: BENCH_TOKEN,
    events: run.events,
    lifecycleTimeoutMs: 120_000,
  });
  return { topology, measured: first ? subjectOf(run, 'system') : emptyMeasured(), apis, workers, system };
}

/** The topology's warm-up; before the first's, bare Temporal's and the yardstick's (they take turns with it). */
async function warmUpTopology(run: FullRun, topologyRun: TopologyRun, first: boolean): Promise<void> {
  const { bareClient, yardstickClient } = run.baselines;
  log(`${labelOf(topologyRun.topology)}: warm-up`);
  if (first && bareClient) await warmUp(bareClient.lifecycle);
  if (first && yardstickClient) await warmUp(yardstickClient.lifecycle);
  await warmUp(topologyRun.system.lifecycle);
}

/**
 * The closed loop, in `rounds` chunks. The first topology takes turns with the yardstick and
 * bare Temporal (ABBA…), so load from elsewhere on the machine that comes and goes weighs on all
 * alike; the others run their chunks alone. Returns the index of the next lifecycle.
 */
async function measureClosedLoop(run: FullRun, topologyRun: TopologyRun, first: boolean): Promise<number> {
  const { bareClient, bareWorker, yardstickClient, yardstickWorker } = run.baselines;
  const { apis, workers, system } = topologyRun;
  const label = labelOf(topologyRun.topology);
  const pids = { api: apis.map((api) => api.child.pid), worker: workers.map((worker) => worker.child.pid) };
  const bareTurn = async (size: number, at: number) => {
    if (bareClient === undefined || !first) return;
    log(`bare Temporal: ${size} lifecycles`);
    await measureChunk(subjectOf(run, 'bareTemporal'), bareClient.lifecycle, size, at, { worker: bareWorker?.pid });
  };
  const yardstickTurn = async (size: number, at: number) => {
    if (yardstickClient === undefined || !first) return;
    log(`yardstick: ${size} lifecycles`);
    await measureChunk(subjectOf(run, 'yardstick'), yardstickClient.lifecycle, size, at, {
      worker: yardstickWorker?.pid,
    });
  };
  const systemTurn = async (size: number, at: number) => {
    log(`${label}: ${size} lifecycles over HTTP`);
    await measureChunk(topologyRun.measured, system.lifecycle, size, at, pids);
  };
  let firstIndex = 0;
  for (const [round, size] of chunkSizes(orders, rounds).entries()) {
    const turns = [yardstickTurn, bareTurn, systemTurn];
    for (const turn of round % 2 === 0 ? turns : turns.reverse()) await turn(size, firstIndex);
    firstIndex += size;
  }
  return firstIndex;
}

/**
 * Open loop: arrivals at fixed rates, shares of the capacity the closed loop just measured, for
 * the order service and bare Temporal in turn (alternating which goes first). None when the
 * closed loop completed nothing.
 */
async function measureOpenLoop(run: FullRun, topologyRun: TopologyRun, firstIndex: number): Promise<OpenLoopLevel[]> {
  const capacity = summarize(topologyRun.measured.samples).perSec;
  const label = labelOf(topologyRun.topology);
  const openLoop: OpenLoopLevel[] = [];
  if (capacity <= 0) return openLoop;
  let at = firstIndex;
  for (const [level, loadPercent] of OPEN_LOOP_PERCENTS.entries()) {
    const ratePerSec = (capacity * loadPercent) / 100;
    const count = Math.max(5, Math.round(ratePerSec * openLoopSeconds));
    const entry = { loadPercent, ratePerSec, system: emptySamples(), bare: emptySamples() };
    openLoop.push(entry);
    const levelOf = async (name: string, lifecycle: Lifecycle | undefined, samples: Samples) => {
      if (lifecycle === undefined) return;
      log(`${name}: open loop, ${count} lifecycles at ${round(ratePerSec, 2)}/s (${loadPercent} % of ${capacity}/s)`);
      await driveOpenLoop(lifecycle, {
        count,
        ratePerSec,
        transitionDelayMs: OPEN_LOOP_TRANSITION_DELAY_MS,
        firstIndex: at,
        samples,
      });
    };
    const levels = [
      () => levelOf(label, topologyRun.system.lifecycle, entry.system),
      () => levelOf('bare Temporal', run.baselines.bareClient?.lifecycle, entry.bare),
    ];
    for (const runLevel of level % 2 === 0 ? levels : levels.reverse()) await runLevel();
    at += count;
  }
  return openLoop;
}

/**
 * The order runs left open by the orders the closed loop (warm-ups included) ended: read before
 * the open loop and the open orders put runs on the same queue that rightly stay open.
 */
async function measureEndedOrderRunsOf(run: FullRun, topologyRun: TopologyRun) {
  log(`${labelOf(topologyRun.topology)}: counting the order runs still open after the closed loop (visibility)`);
  const figures = await measureEndedOrderRuns({
    config: run.config,
    databaseUrl,
    taskQueue: run.queues.orders,
    placed: topologyRun.system.placed,
  });
  log(`${figures.openRuns} runs open for ${figures.endedOrders} ended orders (after ${figures.settledAfterMs} ms)`);
  return figures;
}

/** Transitions among many open orders, through the topology's first API, its first worker's RSS read along. */
async function measureOpenOrdersOf(run: FullRun, topologyRun: TopologyRun): Promise<OpenOrdersLevel[]> {
  const firstWorker = topologyRun.workers[0];
  const firstApi = topologyRun.apis[0];
  if (openOrderLevels.length === 0 || firstWorker === undefined || firstApi === undefined) return [];
  return measureOpenOrders({
    apiUrl: firstApi.url,
    token: BENCH_TOKEN,
    levels: openOrderLevels,
    transitions: openOrderTransitions,
    cached: run.config.WORKER_MAX_CACHED_WORKFLOWS,
    workerRssMb: () => ({ current: rssMbOf(firstWorker.child.pid), peak: firstWorker.peakRssMb() }),
    log,
    failures: run.openOrderFailures,
  });
}

/** CPU seconds each of the topology's APIs and workers used over its life; read before they stop. */
function lifetimeCpuSec({ apis, workers }: TopologyRun) {
  const cpuSecOf = (proc: Proc) => round(processCpuSeconds(proc.child.pid), 1);
  return { apis: apis.map(cpuSecOf), workers: workers.map(cpuSecOf) };
}

/**
 * Tracing exported vs off: two 1x1 services side by side, each on a task queue of its own, one
 * with no OTLP endpoint (the default), one exporting every span to a receiver in this process;
 * they take turns (ABBA…) on the same number of lifecycles.
 */
async function measureTracing(run: FullRun, launcher: Launcher): Promise<Tracing> {
  const receiver = await startOtlpReceiver();
  try {
    const pairs = await Promise.all(
      (['off', 'exported'] as const).map((mode) =>
        startTracingPair(run, launcher, mode, mode === 'exported' ? receiver.url : undefined),
      ),
    );
    for (const pair of pairs) await warmUp(pair.service.lifecycle);
    let at = 0;
    for (const [round, size] of chunkSizes(tracingOrders, rounds).entries()) {
      for (const pair of round % 2 === 0 ? pairs : [...pairs].reverse()) {
        log(`tracing ${pair.mode}: ${size} lifecycles over HTTP`);
        await measureChunk(pair.measured, pair.service.lifecycle, size, at, pair.pids);
      }
      at += size;
    }
    const tracing: Tracing = {};
    for (const pair of pairs) {
      tracing[pair.mode] = {
        perSec: summarize(pair.measured.samples).perSec,
        createP99Ms: summarize(pair.measured.samples).startP99Ms,
        cpuMsPerLifecycle: machineCpuMs(pair.measured) ?? null,
        verification: await verify(pair.service.placed, run.events, databaseUrl),
        failures: pair.measured.samples.failures.slice(0, 20),
      };
    }
    tracing.spansExported = receiver.spans().length;
    tracing.exportRequests = receiver.requests();
    await stopProcs(
      run,
      pairs.flatMap((pair) => [pair.api, pair.worker]),
    );
    return tracing;
  } finally {
    await receiver.close();
  }
}

/** One 1x1 service of the tracing comparison on its own task queue; `otlpEndpoint` makes it export its spans. */
async function startTracingPair(
  run: FullRun,
  launcher: Launcher,
  mode: 'off' | 'exported',
  otlpEndpoint: string | undefined,
) {
  const pairEnv: Record<string, string> = {
    ...run.env,
    TEMPORAL_TASK_QUEUE: run.queues.tracing[mode],
    ...(otlpEndpoint === undefined ? {} : { OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint }),
  };
  const [worker, api] = await Promise.all([
    launcher.startWorker(`tracing-${mode}-worker`, pairEnv),
    launcher.startApi(`tracing-${mode}-api`, pairEnv),
  ]);
  run.alive.add(worker);
  run.alive.add(api);
  const service = systemLifecycle({
    apiUrls: [api.url],
    token: BENCH_TOKEN,
    events: run.events,
    lifecycleTimeoutMs: 120_000,
  });
  const pids = { api: [api.child.pid], worker: [worker.child.pid] };
  return { mode, worker, api, service, pids, measured: emptyMeasured() };
}

/** The archive sweep over `archiveOrders` due orders, on a database, a worker and a task queue of its own (nothing else runs). */
function measureArchive(run: FullRun, launcher: Launcher) {
  return measureArchiveSweep({
    config: run.config,
    kafka: run.kafka,
    databaseUrl,
    orders: archiveOrders,
    taskQueue: run.queues.archive,
    env: run.env,
    prepareDatabase,
    startWorker: async (env) => {
      const worker = await launcher.startWorker('archive-worker', env);
      run.alive.add(worker);
      run.archiveWorker = worker;
      return worker;
    },
    stopWorker: (worker) => stopProcs(run, [worker]),
    log,
  });
}

/** Reading at scale, on a database of its own, once the lifecycles are measured (nothing else runs). */
function measureReads(launcher: Launcher, env: Record<string, string>, runs = 1) {
  return measureListing({
    databaseUrl,
    rows: listingRows,
    archived: listingArchived,
    runs,
    env,
    startApi: (apiEnv) => launcher.startApi('listing-api', apiEnv),
    token: BENCH_TOKEN,
    prepareDatabase,
    log,
  });
}

/** PostgreSQL's most expensive statements of the run, or why they are not known. */
function logTopStatements(statements: TopStatements) {
  if (!statements.available) return log(`pg_stat_statements: ${statements.reason}`);
  log(
    `pg_stat_statements: ${statements.calls} statements, ${statements.totalMs} ms in the run's databases; the top 3:`,
  );
  for (const { totalMs, percentOfTotal, calls, meanMs, query } of statements.top.slice(0, 3)) {
    log(`  ${totalMs} ms (${percentOfTotal} %), ${calls} calls of ${meanMs} ms: ${query.slice(0, 100)}`);
  }
}

// ---- main ------------------------------------------------------------------------------------

async function main() {
  if (compareRef !== undefined) return compare(compareRef);
  if (readRuns > 0) return readsOnly(readRuns);
  const started = Date.now();
  const loadAverageBefore = os.loadavg().map((value) => round(value, 2));
  const config = benchConfig();
  log(`stack: ${stack.name}: Temporal ${stack.temporal}; Kafka ${stack.kafka}`);
  log(
    `${orders} lifecycles per subject and topology at concurrency ${concurrency}, warm-up ${warmup}, ` +
      `${rounds} round(s), topologies ${topologies.map((topology) => topology.label).join(', ')} ` +
      `(APIs x workers); database ${databaseUrl}`,
  );
  const kafka = await prepareStack(config);
  const statementsBefore = await snapshotStatements(databaseUrl);
  const run = await openFullRun(config, kafka);
  stopOnSignals(run);
  try {
    const launcher = await prepareLauncher(run);
    if (!skipBaselines) await measureBaselines(run);
    for (const [position, topology] of topologies.entries()) {
      await measureTopology(run, launcher, topology, position === 0);
    }
    if (tracingOrders > 0) run.tracing = await measureTracing(run, launcher);
    if (archiveOrders > 0) run.archive = await measureArchive(run, launcher);
    if (listingRows > 0) run.listing = await measureReads(launcher, run.env);
  } finally {
    await closeFullRun(run);
  }
  const statements = topStatements(statementsBefore, await snapshotStatements(databaseUrl));
  logTopStatements(statements);

  const figures = figuresOf(run);
  const logs = writeProcessLogs(run, output);
  const profiled = profile
    ? drawProfiles(
        dirname(output),
        figures.primaryRun.workers[0]?.child.pid,
        run.profileStartedAt,
        join(dirname(output), basename(output, '.json')),
        log,
      )
    : undefined;
  const logLevel = appEnvironment('').LOG_LEVEL ?? 'info';
  const result = {
    ...resultOf(run, figures, { options, runId, logLevel, started, loadAverageBefore }, logs, profiled),
    pgStatStatements: statements,
  };
  writeFileSync(output, `${JSON.stringify(result, null, 2)}\n`);
  printReport(run, figures, result, profiled, options);
  const archiveFailed = (run.archive?.lost ?? 0) > 0 || (run.archive?.duplicated ?? 0) > 0;
  if (figures.lost > 0 || figures.duplicated > 0 || figures.failures.length > 0 || archiveFailed) process.exitCode = 1;
}

/**
 * `--reads-only N`: the reads at --listing-rows, N times in a row on one API process, and nothing
 * else (the ten-million-row target of issue 22 is judged on several runs; a full run takes an hour).
 */
async function readsOnly(runs: number) {
  const started = Date.now();
  const loadAverageBefore = os.loadavg().map((value) => round(value, 2));
  const config = benchConfig();
  const kafka = await prepareStack(config);
  const statementsBefore = await snapshotStatements(databaseUrl);
  const run = await openFullRun(config, kafka);
  stopOnSignals(run);
  try {
    run.listing = await measureReads(await prepareLauncher(run), run.env, runs);
  } finally {
    await closeFullRun(run);
  }
  const listing = run.listing;
  const worstP99s = (listing.runs ?? [listing.queries]).map((queries) =>
    Math.max(...Object.values(queries).map(({ p99Ms }) => p99Ms)),
  );
  const result = {
    runId,
    started: new Date(started).toISOString(),
    seconds: Math.round((Date.now() - started) / 1000),
    machine: machineFacts(loadAverageBefore),
    worstP99s,
    runsWithinTarget: `${worstP99s.filter((p99) => p99 <= 25).length} of ${worstP99s.length}`,
    listing,
    pgStatStatements: topStatements(statementsBefore, await snapshotStatements(databaseUrl)),
  };
  mkdirSync(dirname(output), { recursive: true });
  writeFileSync(output, `${JSON.stringify(result, null, 2)}\n`);
  for (const [index, queries] of (listing.runs ?? [listing.queries]).entries()) {
    const figures = Object.entries(queries).map(([name, { p50Ms, p99Ms }]) => `${name} ${p50Ms}/${p99Ms}`);
    log(`run ${index + 1}: p50/p99 ms: ${figures.join(', ')}`);
  }
  log(
    `reads over ${listing.rows - listing.archived} hot orders (${listing.archived} archived): worst p99 per run ${worstP99s.join(', ')} ms; within 25 ms: ${result.runsWithinTarget}`,
  );
  log(`results: ${output}`);
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
  /** Its order runs still open after its turns, per order they ended. */
  endedOrderRuns?: EndedOrderRuns;
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
  const compareRounds = roundsGiven ? rounds : Math.max(2, rounds);
  const config = benchConfig();
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
      const queues = sides.map((side) => side.taskQueue);
      // A side at a commit with the archive sweep created its queue's Schedule; a side before it, none.
      await deleteArchiveSchedules(config, queues).catch((error: unknown) =>
        log(`could not delete the compare run's archive sweep schedules: ${String(error)}`),
      );
      log('ending the compare run’s open workflows (one batch terminate)');
      await terminateOpenWorkflows(config, queues, `bench-compare-${runId}`, 120_000).then(
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
    const kafka = benchKafka(config);
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
                ...built.processEnv,
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
            startApiChild(
              `${side.name}-api`,
              built.api.entry,
              { ...built.processEnv, ...sideEnv },
              built.api.nodeArgs,
              side.dir,
            ).then((proc) => {
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
      log('compare: counting each side’s order runs still open (visibility)');
      await Promise.all(
        sides.map(async (side) => {
          side.endedOrderRuns = await measureEndedOrderRuns({
            config,
            databaseUrl: side.databaseUrl,
            taskQueue: side.taskQueue,
            placed: (side.system as ReturnType<typeof systemLifecycle>).placed,
          });
        }),
      );
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
      /** Its orderWorkflow runs still open after its turns ÷ orders they ended (0 since v5, 1 before). */
      openExecutionsPerEndedOrder: side.endedOrderRuns?.perEndedOrder ?? null,
      createAccepted202: side.system?.counters.createAccepted202 ?? 0,
      transitionAccepted202: side.system?.counters.transitionAccepted202 ?? 0,
      verification,
      cpuMsPerLifecycleByPart: cpuPerLifecycle(side.measured.cpu, lifecycles),
      /** How the side was built and run: its scripts/build.ts (compiled, its V8 flags) or tsx. */
      builtWith: built.builtWith,
      workerNodeArgs: built.worker.nodeArgs,
      apiNodeArgs: built.api.nodeArgs,
      processEnv: built.processEnv,
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
    stack,
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
        'open runs per ended order',
        orDash(baseFigures.openExecutionsPerEndedOrder),
        orDash(headFigures.openExecutionsPerEndedOrder),
        '',
      ],
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
