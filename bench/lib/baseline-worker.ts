// The process of the bare-Temporal baseline's worker (bench/bare-worker.ts), run like the order
// worker: its prebuilt workflow bundle at BENCH_WORKFLOW_BUNDLE, the order worker's options (it
// follows our code on purpose; the yardstick has its own, frozen: bench/yardstick/worker.ts), and
// the SDK's Prometheus metrics at WORKER_METRICS_ADDRESS, where the bench sees its pollers start.
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { loadConfig } from '../../src/config.js';
import { dataConverterOf } from '../../src/temporal/client.js';
import { orderWorkerOptions } from '../../src/worker.js';

export function runBaselineWorker(name: string, activities: object): void {
  const main = async () => {
    const bundle = process.env.BENCH_WORKFLOW_BUNDLE;
    if (bundle === undefined) throw new Error('BENCH_WORKFLOW_BUNDLE: path of the prebuilt workflow bundle');
    const config = loadConfig();
    Runtime.install({
      logger: new DefaultLogger('WARN'),
      shutdownSignals: ['SIGTERM', 'SIGINT'],
      telemetryOptions: {
        metrics: { prometheus: { bindAddress: config.WORKER_METRICS_ADDRESS, countersTotalSuffix: true } },
      },
    });
    const connection = await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
    const worker = await Worker.create({
      connection,
      namespace: config.TEMPORAL_NAMESPACE,
      taskQueue: config.TEMPORAL_TASK_QUEUE,
      workflowBundle: { codePath: bundle },
      dataConverter: dataConverterOf(config),
      activities,
      ...orderWorkerOptions(config),
    });
    await worker.run();
    await connection.close();
  };
  main().catch((error: unknown) => {
    console.error(`${name} failed:`, error);
    process.exit(1);
  });
}
