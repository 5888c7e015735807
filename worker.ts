// Entry point of the Temporal worker: builds its dependencies from the config, runs the
// order workflows and activities, and on SIGTERM/SIGINT lets running activities finish
// before closing its dependencies in reverse order.
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { LogLevel, LogMetadata } from '@temporalio/common';
import { NativeConnection, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from './src/activities/index.js';
import { type Config, loadConfig } from './src/config.js';
import { createDatabase } from './src/db/index.js';
import {
  createEventPublisher,
  createKafka,
  ensureTopics,
  ORDER_EVENTS_PARTITIONS,
  ORDER_EVENTS_TOPIC,
} from './src/kafka/index.js';
import { createLogger, type Logger } from './src/logger.js';
import { startOutboxSweeper } from './src/outbox-sweeper.js';

export const WORKFLOWS_PATH = fileURLToPath(new URL('./src/workflows/index.ts', import.meta.url));

export interface OrderWorker {
  worker: Worker;
  /** Republishes events left unpublished past OUTBOX_SWEEP_AFTER_MS; returns how many. */
  sweepOutbox(): Promise<number>;
  /** Runs until shutdown is requested, then closes the worker's dependencies. */
  run(): Promise<void>;
  shutdown(): void;
}

export async function createOrderWorker(
  config: Config,
  logger: Logger,
  workflowCode: Pick<WorkerOptions, 'workflowsPath' | 'workflowBundle'> = { workflowsPath: WORKFLOWS_PATH },
): Promise<OrderWorker> {
  const db = createDatabase(config, logger);
  const kafka = createKafka(config, logger);
  await ensureTopics(kafka, [{ topic: ORDER_EVENTS_TOPIC, numPartitions: ORDER_EVENTS_PARTITIONS }]);
  const publisher = await createEventPublisher(kafka);
  const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
  const worker = await Worker.create({
    connection,
    namespace: config.TEMPORAL_NAMESPACE,
    taskQueue: config.TEMPORAL_TASK_QUEUE,
    ...workflowCode,
    activities: createActivities({ db, publisher, eventSource: config.EVENT_SOURCE }),
    maxConcurrentActivityTaskExecutions: config.WORKER_MAX_CONCURRENT_ACTIVITIES,
    maxConcurrentWorkflowTaskExecutions: config.WORKER_MAX_CONCURRENT_WORKFLOW_TASKS,
    // Running activities get this long to finish after a shutdown is requested.
    shutdownGraceTime: '20 seconds',
  });
  const sweeper = startOutboxSweeper({
    db,
    publisher,
    eventSource: config.EVENT_SOURCE,
    logger,
    intervalMs: config.OUTBOX_SWEEP_INTERVAL_MS,
    olderThanMs: config.OUTBOX_SWEEP_AFTER_MS,
  });
  return {
    worker,
    sweepOutbox: sweeper.sweep,
    async run() {
      try {
        await worker.run();
      } finally {
        await sweeper.stop();
        await connection.close();
        await publisher.close();
        await db.close();
      }
    },
    shutdown: () => worker.shutdown(),
  };
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
  const logger = createLogger(config, 'worker');
  // The runtime turns SIGTERM/SIGINT into worker.shutdown(): activities in flight may finish.
  Runtime.install({ logger: temporalLogger(logger), shutdownSignals: ['SIGTERM', 'SIGINT'] });
  const orderWorker = await createOrderWorker(config, logger);
  logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE }, 'worker polling');
  await orderWorker.run();
  logger.info('worker stopped');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    console.error('order worker failed:', error);
    process.exit(1);
  });
}
