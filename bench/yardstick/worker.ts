// The yardstick's worker process: bench/yardstick/workflow.ts from its prebuilt bundle
// (BENCH_WORKFLOW_BUNDLE, written by bundle.ts), activities that return at once, and the frozen
// options of worker-options.ts. Self-contained: it imports nothing of ours outside
// bench/yardstick/ (test/unit/yardstick-frozen.test.ts), and reads only these variables itself:
// TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE, WORKER_METRICS_ADDRESS (the SDK's
// Prometheus metrics, where the bench sees its pollers start) and BENCH_WORKFLOW_BUNDLE.
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { YardstickActivities } from './definitions.js';
import { YARDSTICK_WORKER_OPTIONS } from './worker-options.js';

const activities: YardstickActivities = {
  persistOrder: async () => ({ status: 'CREATED' }),
  publishOrderEvent: async () => {},
  persistTransition: async (_orderId, ending) => ({
    status: ending.command === 'complete' ? 'COMPLETED' : 'CANCELLED',
  }),
  publishOrderEvents: async () => {},
};

function setting(name: string, fallback?: string): string {
  const value = process.env[name];
  if (value !== undefined && value !== '') return value;
  if (fallback === undefined) throw new Error(`${name} must be set`);
  return fallback;
}

async function main() {
  const bundle = setting('BENCH_WORKFLOW_BUNDLE');
  Runtime.install({
    logger: new DefaultLogger('WARN'),
    shutdownSignals: ['SIGTERM', 'SIGINT'],
    telemetryOptions: {
      metrics: {
        prometheus: { bindAddress: setting('WORKER_METRICS_ADDRESS', '127.0.0.1:9464'), countersTotalSuffix: true },
      },
    },
  });
  const connection = await NativeConnection.connect({ address: setting('TEMPORAL_ADDRESS', '127.0.0.1:7233') });
  const worker = await Worker.create({
    connection,
    namespace: setting('TEMPORAL_NAMESPACE', 'default'),
    taskQueue: setting('TEMPORAL_TASK_QUEUE'),
    workflowBundle: { codePath: bundle },
    activities,
    ...YARDSTICK_WORKER_OPTIONS,
  });
  await worker.run();
  await connection.close();
}

main().catch((error: unknown) => {
  console.error('yardstick worker failed:', error);
  process.exit(1);
});
