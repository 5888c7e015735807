// Entry point of the Temporal worker: builds its dependencies from the config, runs the
// order workflows and activities, and on SIGTERM/SIGINT lets running activities finish
// before closing its dependencies in reverse order.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { LogLevel, LogMetadata } from '@temporalio/common';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry';
import {
  type ActivityInterceptorsFactory,
  type InjectedSinks,
  NativeConnection,
  Runtime,
  Worker,
  type WorkerDeploymentOptions,
  type WorkerOptions,
  type WorkflowBundle,
} from '@temporalio/worker';
import { createActivities } from './activities/index.js';
import { workerBuildId } from './build-id.js';
import { startCommandGateway } from './commands/command-gateway.js';
import {
  type Config,
  describeDatabaseConnection,
  describeKafkaConnection,
  describeTemporalConnection,
  loadConfig,
  temporalConnectionOf,
} from './config.js';
import { createDatabaseMetrics, DATABASE_HISTOGRAM_BUCKETS } from './database-metrics.js';
import { createDatabase } from './db/index.js';
import {
  createEventPublisher,
  createKafka,
  ensureTopics,
  ORDER_COMMANDS_DLQ_PARTITIONS,
  ORDER_COMMANDS_PARTITIONS,
  ORDER_EVENTS_PARTITIONS,
  orderTopics,
} from './kafka/index.js';
import { createLogger, type Logger } from './logger.js';
import { createPublishMetrics, startOutboxSweeper } from './outbox.js';
import { reach, startFailureLine, temporalTlsProblem } from './startup.js';
import { startTelemetry, type Telemetry } from './telemetry.js';
import { archiveScheduleOptions, connectTemporal, dataConverterOf, ensureArchiveSchedule } from './temporal/client.js';
import { countOpenRunsByVersion, VERSION_NAMES } from './temporal/order-runs.js';
import { warnIfPayloadsInClearText } from './temporal/payload-codec.js';
import { ORDER_WORKFLOW_VERSIONS } from './workflows/definitions.js';

export const WORKFLOWS_PATH = fileURLToPath(new URL('./workflows/index.ts', import.meta.url));

/**
 * Bundled with the order workflows only when tracing is on: OpenTelemetry's workflow
 * interceptors. They continue the caller's trace inside the workflow and hand their spans to the
 * worker through the `exporter` sink; they add no command, so histories replay the same with them
 * or without. Off, they are not there at all: bundled always, they doubled the worker's CPU per
 * lifecycle (issue 19). package.json `overrides` keeps one @opentelemetry/api for them and us:
 * with the copy they pin (<1.10) beside ours, the workflow's code would not see their context
 * (an older global is not compatible with a newer API) and transitions would lose their
 * request's trace.
 */
export const ORDER_WORKFLOW_INTERCEPTOR_MODULES = [
  createRequire(import.meta.url).resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors'),
];

/** The traced twin of a prebuilt bundle, written beside it by scripts/build-workflows.ts: `x.js` → `x.traced.js`. */
export function tracedBundlePath(bundlePath: string): string {
  return `${bundlePath.replace(/\.js$/, '')}.traced.js`;
}

/** The workflow code a worker runs. */
export type OrderWorkflowCode =
  /** Prebuilt (WORKFLOW_BUNDLE_PATH): the untraced bundle, its traced twin beside it; the worker picks one at start. */
  | { bundlePath: string }
  /** Bundled at start from the sources, the tracing interceptors added when tracing is on. */
  | { workflowsPath: string }
  /** Bundled by the caller (tests): used as it is, so it must match whether tracing is on. */
  | { workflowBundle: WorkflowBundle };

/** The worker options that carry the workflow code, for tracing on or off. */
export function workflowCodeOptions(
  code: OrderWorkflowCode,
  traced: boolean,
): Pick<WorkerOptions, 'workflowsPath' | 'workflowBundle'> & { workflowModules: string[] } {
  if ('workflowsPath' in code) {
    return { workflowsPath: code.workflowsPath, workflowModules: traced ? ORDER_WORKFLOW_INTERCEPTOR_MODULES : [] };
  }
  if ('workflowBundle' in code) return { workflowBundle: code.workflowBundle, workflowModules: [] };
  const codePath = traced ? tracedBundlePath(code.bundlePath) : code.bundlePath;
  if (!existsSync(codePath)) {
    throw new Error(
      `WORKFLOW_BUNDLE_PATH: ${codePath} does not exist (tracing ${traced ? 'on' : 'off'}); ` +
        '`npm run build:workflows -- <path>` writes both bundles',
    );
  }
  return { workflowBundle: { codePath }, workflowModules: [] };
}

/** The sink the bundled interceptors call: their spans, with the workflow's id, go to the worker's exporter. */
export function orderWorkflowSinks(
  telemetry: Pick<Telemetry, 'exportWorkflowSpans'>,
): InjectedSinks<OpenTelemetrySinks> {
  return {
    exporter: {
      export: {
        fn: (info, spans) =>
          telemetry.exportWorkflowSpans(spans, {
            'workflow.id': info.workflowId,
            'temporal.workflow.run_id': info.runId,
            'temporal.workflow.type': info.workflowType,
          }),
      },
    },
  };
}

export interface OrderWorker {
  /** Runs until shutdown is requested, then closes the worker's dependencies. */
  run(): Promise<void>;
  shutdown(): void;
}

/** Tuning of the order worker, shared with the benchmark's bare-Temporal worker (bench/bare-worker.ts). */
export function orderWorkerOptions(config: Config) {
  return {
    maxConcurrentActivityTaskExecutions: config.WORKER_MAX_CONCURRENT_ACTIVITIES,
    maxConcurrentWorkflowTaskExecutions: config.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
    maxCachedWorkflows: config.WORKER_MAX_CACHED_WORKFLOWS,
    // The SDK's defaults (10 and 0.2; 10). More pollers cut create latency under load by a quarter,
    // but cost worker memory and did not raise throughput on 2 cores (bench/README.md).
    workflowTaskPollerBehavior: {
      type: 'simple-maximum',
      maximum: Math.min(config.WORKER_WORKFLOW_TASK_POLLERS, config.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS),
    },
    nonStickyToStickyPollRatio: config.WORKER_NON_STICKY_POLL_RATIO,
    activityTaskPollerBehavior: {
      type: 'simple-maximum',
      maximum: Math.min(config.WORKER_ACTIVITY_TASK_POLLERS, config.WORKER_MAX_CONCURRENT_ACTIVITIES),
    },
    // Running activities get this long to finish after a shutdown is requested.
    shutdownGraceTime: '20 seconds',
  } satisfies Partial<WorkerOptions>;
}

/**
 * The worker's place in its Temporal Worker Deployment. With TEMPORAL_WORKER_VERSIONING on,
 * Temporal routes each workflow task to a build by version: a new build gets work once an
 * operator makes it current (README, Deploying). AUTO_UPGRADE: an order lives for months and does
 * not continue-as-new at each deploy, so a PINNED run would keep its first build alive for as
 * long; instead each run moves to the current build at its next workflow task, and the workflow
 * code's `patched()` branches keep it replaying the history older builds wrote (Temporal's
 * advice: PINNED for short workflows, AUTO_UPGRADE with patching for long ones). Off, the worker
 * still names its deployment and build, and takes any task of its queue (unversioned).
 */
export function orderWorkerDeployment(config: Config): WorkerDeploymentOptions {
  const { buildId, known } = workerBuildId(config);
  const version = { deploymentName: config.TEMPORAL_DEPLOYMENT_NAME, buildId };
  if (!config.TEMPORAL_WORKER_VERSIONING) return { useWorkerVersioning: false, version };
  if (!known) {
    throw new Error(
      `TEMPORAL_BUILD_ID: empty, and no build-info.json nor git commit to make one (${buildId}); ` +
        'with TEMPORAL_WORKER_VERSIONING on, every build needs an id of its own: set it, or run the worker that `npm run build` compiles',
    );
  }
  return { useWorkerVersioning: true, version, defaultVersioningBehavior: 'AUTO_UPGRADE' };
}

export async function createOrderWorker(
  config: Config,
  logger: Logger,
  code: OrderWorkflowCode = { workflowsPath: WORKFLOWS_PATH },
  given?: Telemetry,
): Promise<OrderWorker> {
  const telemetry = given ?? (await startTelemetry(config, 'order-worker'));
  // Checked first: a missing bundle should not wait for PostgreSQL, Kafka and Temporal to answer.
  const { workflowModules, ...workflowCode } = workflowCodeOptions(code, telemetry.enabled);
  const deployment = orderWorkerDeployment(config);
  const databaseMetrics = createDatabaseMetrics(Runtime.instance().metricMeter);
  const db = createDatabase(config, logger, databaseMetrics.statements);
  const stopPoolGauges = databaseMetrics.watchPool(() => db.poolCounts());
  await reach(describeDatabaseConnection(config), db.ping);
  const kafka = createKafka(config, logger);
  const topics = orderTopics(config.KAFKA_TOPIC_PREFIX);
  const kafkaConnection = describeKafkaConnection(config);
  await reach(kafkaConnection, () =>
    ensureTopics(kafka, [
      { topic: topics.events, numPartitions: ORDER_EVENTS_PARTITIONS },
      { topic: topics.commands, numPartitions: ORDER_COMMANDS_PARTITIONS },
      { topic: topics.deadLetters, numPartitions: ORDER_COMMANDS_DLQ_PARTITIONS },
    ]),
  );
  const publisher = await reach(kafkaConnection, () =>
    createEventPublisher(kafka, logger, { traced: telemetry.enabled }),
  );
  // One set of publish counters for the workflow's publishes and the sweeper's.
  const outbox = {
    publisher,
    topic: topics.events,
    eventSource: config.EVENT_SOURCE,
    metrics: createPublishMetrics(Runtime.instance().metricMeter),
  };
  const temporal = temporalConnectionOf(config);
  const connection = await reach(describeTemporalConnection(config), () => NativeConnection.connect(temporal), {
    explain: () => temporalTlsProblem(temporal),
  });
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    // Payloads encrypted outside the workflow sandbox; the workflows see them decrypted.
    dataConverter: dataConverterOf(config),
    ...workflowCode,
    activities: createActivities({ db, ...outbox }),
    // Tracing off: no interceptor, no sink, so no span work anywhere in the worker.
    interceptors: {
      // Only when bundling at start: a prebuilt bundle has them or not; given again, the SDK warns at every start.
      ...(workflowModules.length > 0 ? { workflowModules } : {}),
      activity: telemetry.enabled ? [await tracingActivityInterceptors()] : [],
    },
    ...(telemetry.enabled ? { sinks: orderWorkflowSinks(telemetry) } : {}),
    ...orderWorkerOptions(config),
    workerDeploymentOptions: deployment,
  });
  logger.info(
    {
      deploymentName: deployment.version.deploymentName,
      buildId: deployment.version.buildId,
      workerVersioning: deployment.useWorkerVersioning,
      // Unversioned, a task runs wherever it lands: no behaviour applies.
      versioningBehavior: deployment.defaultVersioningBehavior ?? 'unversioned',
    },
    'worker deployment version',
  );
  await checkTemporalSetup(config, logger);
  warnIfPayloadsInClearText(config, logger);
  const sweeper = startOutboxSweeper({
    db,
    ...outbox,
    logger,
    intervalMs: config.OUTBOX_SWEEP_INTERVAL_MS,
    olderThanMs: config.OUTBOX_SWEEP_AFTER_MS,
  });
  // Commands over Kafka (ordering.commands) go through the same order service as the HTTP routes.
  const commands = await startCommandGateway(config, {
    kafka,
    db,
    deadLetters: publisher,
    topics,
    traced: telemetry.enabled,
    logger,
  });
  return {
    async run() {
      try {
        await worker.run();
      } finally {
        await commands.close();
        await sweeper.stop();
        await connection.close();
        await publisher.close();
        stopPoolGauges();
        await db.close();
        await telemetry.shutdown();
      }
    },
    shutdown: () => {
      void commands.stop();
      worker.shutdown();
    },
  };
}

/**
 * Brings the archive sweep's Schedule in line with this worker's config (archival runs there,
 * not in a workflow per ended order), and warns when open runs of a workflow version this
 * release no longer runs exist: they cannot move until `npm run ops -- migrate` replaces them.
 */
async function checkTemporalSetup(config: Config, logger: Logger): Promise<void> {
  const temporal = await connectTemporal(config);
  try {
    const schedule = await ensureArchiveSchedule(temporal.client, config);
    const { scheduleId } = archiveScheduleOptions(config);
    logger.info(
      { scheduleId, everyMs: config.ARCHIVE_SWEEP_INTERVAL_MS, archiveAfterMs: config.ARCHIVE_AFTER_MS },
      `archive sweep schedule ${schedule}`,
    );
    const counts = await countOpenRunsByVersion(temporal.client, config.TEMPORAL_TASK_QUEUE);
    const stranded = VERSION_NAMES.filter(
      (version) => !ORDER_WORKFLOW_VERSIONS[version].supported && counts[version] > 0,
    );
    if (stranded.length > 0) {
      logger.warn(
        { openRuns: Object.fromEntries(stranded.map((version) => [version, counts[version]])) },
        `open order runs of workflow versions this release does not run (${stranded.join(', ')}): they are stuck ` +
          'until moved; run `npm run ops -- migrate --from <version>` (README, Deploying)',
      );
    }
  } finally {
    await temporal.close();
  }
}

/**
 * Each activity a span of the workflow's trace, its log lines with trace_id and span_id. Imported
 * only when tracing is on: the package costs ~25 MB of memory once loaded.
 */
async function tracingActivityInterceptors(): Promise<ActivityInterceptorsFactory> {
  const otel = await import('@temporalio/interceptors-opentelemetry');
  return (context) => ({
    inbound: new otel.OpenTelemetryActivityInboundInterceptor(context),
    outbound: new otel.OpenTelemetryActivityOutboundInterceptor(context),
  });
}

/** Routes the Temporal SDK's log lines into pino. */
function temporalLogger(logger: Logger) {
  const at = (level: 'trace' | 'debug' | 'info' | 'warn' | 'error') => (message: string, meta?: LogMetadata) =>
    logger[level](meta ?? {}, message);
  const levels: Record<LogLevel, 'trace' | 'debug' | 'info' | 'warn' | 'error'> = {
    TRACE: 'trace',
    DEBUG: 'debug',
    INFO: 'info',
    WARN: 'warn',
    ERROR: 'error',
  };
  return {
    log: (level: LogLevel, message: string, meta?: LogMetadata) => at(levels[level])(message, meta),
    trace: at('trace'),
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
  };
}

async function main() {
  const config = loadConfig();
  // First: pg's instrumentation must be in place before the pool loads `pg`.
  const telemetry = await startTelemetry(config, 'order-worker');
  const logger = createLogger(config, 'worker');
  // The runtime turns SIGTERM/SIGINT into worker.shutdown(): activities in flight may finish.
  Runtime.install({
    logger: temporalLogger(logger),
    shutdownSignals: ['SIGTERM', 'SIGINT'],
    // The SDK's metrics and the activities' own (events published, publish failures) on one endpoint.
    telemetryOptions: {
      metrics: {
        prometheus: {
          bindAddress: config.WORKER_METRICS_ADDRESS,
          countersTotalSuffix: true,
          histogramBucketOverrides: DATABASE_HISTOGRAM_BUCKETS,
        },
      },
    },
  });
  const orderWorker = await createOrderWorker(
    config,
    logger,
    config.WORKFLOW_BUNDLE_PATH === ''
      ? { workflowsPath: WORKFLOWS_PATH }
      : { bundlePath: config.WORKFLOW_BUNDLE_PATH },
    telemetry,
  );
  logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE }, 'worker polling');
  await orderWorker.run();
  logger.info('worker stopped');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    console.error(startFailureLine('order worker', error));
    process.exit(1);
  });
}
