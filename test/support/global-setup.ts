// Integration tests run against the real local stack (scripts/stack.sh, started by `npm test`):
// this setup migrates the test database and runs one worker and one API server on it.

import { DefaultLogger, Runtime } from '@temporalio/worker';
import type { TestProject } from 'vitest/node';
import { bundleOrderWorkflows } from '../../scripts/build-workflows.js';
import { loadConfig } from '../../src/config.js';
import { DATABASE_HISTOGRAM_BUCKETS } from '../../src/database-metrics.js';
import { migrateDatabase } from '../../src/db/migrate.js';
import { createLogger } from '../../src/logger.js';
import { startServer } from '../../src/server.js';
import { createOrderWorker } from '../../src/worker.js';
import { testEnvironment } from './stack.js';

declare module 'vitest' {
  export interface ProvidedContext {
    apiUrl: string;
    env: Record<string, string>;
    workerMetricsUrl: string;
  }
}

// A port per test run, so concurrent runs on one machine do not collide.
const WORKER_METRICS_ADDRESS = `127.0.0.1:${20_000 + (process.pid % 20_000)}`;

interface Stack {
  provided: { apiUrl: string; env: Record<string, string>; workerMetricsUrl: string };
  stop(): Promise<void>;
}

async function startStack(): Promise<Stack> {
  const env = testEnvironment();
  const config = loadConfig(env);
  // A process installs Temporal's runtime once: the projects that use this setup share it.
  Runtime.install({
    logger: new DefaultLogger('WARN'),
    telemetryOptions: {
      metrics: {
        prometheus: {
          bindAddress: WORKER_METRICS_ADDRESS,
          countersTotalSuffix: true,
          histogramBucketOverrides: DATABASE_HISTOGRAM_BUCKETS,
        },
      },
    },
  });
  await migrateDatabase(config.DATABASE_URL);

  // Tracing is off here, as by default: the bundle without OpenTelemetry's interceptors.
  const workflowBundle = await bundleOrderWorkflows({ traced: false });
  const worker = await createOrderWorker(config, createLogger(config, 'worker'), { workflowBundle });
  const running = worker.run();
  const server = await startServer(config);
  const address = server.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('API did not listen on a TCP port');
  return {
    provided: {
      apiUrl: `http://127.0.0.1:${address.port}`,
      env,
      workerMetricsUrl: `http://${WORKER_METRICS_ADDRESS}/metrics`,
    },
    async stop() {
      await server.close();
      worker.shutdown();
      await running;
    },
  };
}

// The integration and browser projects each run this setup (vitest loads the module once per
// project, hence globalThis); one API and one worker serve both.
const registry = globalThis as typeof globalThis & { orderTestStack?: { stack: Promise<Stack>; users: number } };

export default async function setup(project: TestProject) {
  registry.orderTestStack ??= { stack: startStack(), users: 0 };
  const shared = registry.orderTestStack;
  shared.users++;
  const stack = await shared.stack;
  project.provide('apiUrl', stack.provided.apiUrl);
  project.provide('env', stack.provided.env);
  project.provide('workerMetricsUrl', stack.provided.workerMetricsUrl);
  return async () => {
    if (--shared.users === 0) await stack.stop();
  };
}
