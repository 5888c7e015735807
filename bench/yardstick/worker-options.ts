// The yardstick worker's settings. FROZEN on 2026-12-04: the order worker's effective options
// that day with the default configuration (worker.ts `orderWorkerOptions(loadConfig())`, the
// defaults of src/config.ts: WORKER_MAX_CONCURRENT_ACTIVITIES 100,
// WORKER_MAX_CONCURRENT_WORKFLOW_TASKS 40, WORKER_MAX_CACHED_WORKFLOWS 100,
// WORKER_WORKFLOW_TASK_POLLERS 10, WORKER_NON_STICKY_POLL_RATIO 0.2,
// WORKER_ACTIVITY_TASK_POLLERS 10) and its V8 flags (scripts/build.ts WORKER_NODE_FLAGS), copied
// here as values. They do not follow the order worker any more: whatever it becomes, the yardstick
// stays as it was, so `ratioToYardstick` compares runs across months. Change nothing here (see
// workflow.ts): test/unit/yardstick-frozen.test.ts fails on any edit.
import type { WorkerOptions } from '@temporalio/worker';

export const YARDSTICK_WORKER_OPTIONS = {
  maxConcurrentActivityTaskExecutions: 100,
  maxConcurrentWorkflowTaskExecutions: 40,
  maxCachedWorkflows: 100,
  workflowTaskPollerBehavior: { type: 'simple-maximum', maximum: 10 },
  nonStickyToStickyPollRatio: 0.2,
  activityTaskPollerBehavior: { type: 'simple-maximum', maximum: 10 },
  shutdownGraceTime: '20 seconds',
} as const satisfies Partial<WorkerOptions>;

/** Node options of the yardstick's worker process (the bench adds `--import tsx` to run it). */
export const YARDSTICK_NODE_FLAGS: readonly string[] = [
  '--enable-source-maps',
  '--max-semi-space-size=2',
  '--max-old-space-size=128',
];
