// The yardstick's worker (bench/yardstick/workflow.ts, prebuilt bundle at BENCH_WORKFLOW_BUNDLE),
// a process of its own like the order worker and the bare one, with the same options and V8 flags.
import { runBaselineWorker } from '../lib/baseline-worker.js';
import type { YardstickActivities } from './definitions.js';

const activities: YardstickActivities = {
  persistOrder: async () => ({ status: 'CREATED' }),
  publishOrderEvent: async () => {},
  persistTransition: async (_orderId, ending) => ({
    status: ending.command === 'complete' ? 'COMPLETED' : 'CANCELLED',
  }),
  publishOrderEvents: async () => {},
};

runBaselineWorker('yardstick worker', activities);
