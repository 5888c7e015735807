// The full run's shared state (bench/run.ts): the stack's clients, the processes alive, the task
// queues, and every figure measured so far, which its phases add to and bench/lib/report.ts reads.
import type { Config } from '../../src/config.js';
import type { createKafka } from '../../src/kafka/index.js';
import type { AppProcess } from '../../test/support/processes.js';
import type { spawnChild } from './child.js';
import type { ArchiveFigures, EndedOrderRuns } from './ended-orders.js';
import type { EventWatch } from './events.js';
import { emptyMeasured, type Measured } from './figures.js';
import type { measureListing } from './listing.js';
import type { OpenOrdersLevel } from './open-orders.js';
import type { Topology } from './options.js';
import type { Outage, watchOutages } from './outages.js';
import type { bareTemporalLifecycle, Samples, systemLifecycle, yardstickLifecycle } from './phases.js';
import type { Verification } from './verify.js';

/** A process of the run: an API, an order worker, the bare worker. */
export type Proc = Pick<AppProcess, 'child' | 'output' | 'peakRssMb' | 'stop'>;
export type Api = Proc & { url: string };
/** A process the bench spawned itself (bench/lib/child.ts): the bare and yardstick workers, the compiled services. */
export type Child = Awaited<ReturnType<typeof spawnChild>>;

/** Names of a topology's processes for their logs: `api`, `worker` in 1x1 (as before topologies), else `2x2.api-1`… */
export function processNames(topology: Topology) {
  const name = (kind: string, index: number) =>
    topology.label === '1x1' ? kind : `${topology.label}.${kind}-${index + 1}`;
  return { api: (index: number) => name('api', index), worker: (index: number) => name('worker', index) };
}

/** One topology of the order service, once measured. */
export interface TopologyRun {
  topology: Topology;
  measured: Measured;
  apis: Api[];
  workers: Proc[];
  system: ReturnType<typeof systemLifecycle>;
  verification?: Verification;
  /** CPU seconds each API and each worker used over its life (start and warm-up included), read before it stopped. */
  cpuSec?: { apis: number[]; workers: number[] };
}

/** The bare-Temporal and yardstick workers and their clients (none with --skip-baselines). */
export interface Baselines {
  bareWorker?: Child;
  bareClient?: Awaited<ReturnType<typeof bareTemporalLifecycle>>;
  yardstickWorker?: Child;
  yardstickClient?: Awaited<ReturnType<typeof yardstickLifecycle>>;
  /** Set once they are stopped (after the first topology's turns, or at the end). */
  stopped?: Promise<unknown>;
}

/** One open-loop level: its rate, and the order service's and bare Temporal's samples at it. */
export interface OpenLoopLevel {
  loadPercent: number;
  ratePerSec: number;
  system: Samples;
  bare: Samples;
}

export interface TracingFigures {
  perSec: number;
  createP99Ms: number;
  cpuMsPerLifecycle: number | null;
  verification: Verification;
  failures: string[];
}
/** Tracing exported vs off: each service's figures, and what the receiver got. */
export interface Tracing {
  off?: TracingFigures;
  exported?: TracingFigures;
  spansExported?: number;
  exportRequests?: number;
}

/** The run's task queues: every topology on the same one (one after the other), each other service on its own. */
export function taskQueuesOf(id: string) {
  return {
    orders: `orders-bench-${id}`,
    bare: `orders-bench-bare-${id}`,
    yardstick: `orders-bench-yardstick-${id}`,
    tracing: { off: `orders-bench-tracing-off-${id}`, exported: `orders-bench-tracing-on-${id}` },
    archive: `orders-bench-archive-${id}`,
  };
}

/** What the phases of the full run share: the stack's clients, the processes alive, and every figure so far. */
export interface FullRun {
  config: Config;
  kafka: ReturnType<typeof createKafka>;
  events: EventWatch;
  outageWatch: ReturnType<typeof watchOutages>;
  /** The workflow bundles' folder, removed at the end. */
  scratch: string;
  /** Run at the end and on SIGINT/SIGTERM: the compiled services removed. */
  cleanups: (() => void)[];
  /** --profile: profiles written before this are not the run's. */
  profileStartedAt: number;
  queues: ReturnType<typeof taskQueuesOf>;
  /** Environment of the order service's processes. */
  env: Record<string, string>;
  /** The order service's processes alive now, to stop on the way out. */
  alive: Set<Proc>;
  baselines: Baselines;
  /** The bare subjects, and `system`: the first topology (the top-level figures of the results). */
  subjects: Record<string, Measured>;
  runs: TopologyRun[];
  openLoop: OpenLoopLevel[];
  openOrders: OpenOrdersLevel[];
  openOrderFailures: string[];
  tracing: Tracing;
  listing?: Awaited<ReturnType<typeof measureListing>>;
  /** The first topology's order runs still open once its closed loop ended its orders. */
  endedOrderRuns?: EndedOrderRuns;
  /** The archive sweep over --archive-orders due orders, and the worker that ran it (for its log). */
  archive?: ArchiveFigures;
  archiveWorker?: Proc;
  outages: Outage[];
}

/** The figures of subject `name`, made when it is first measured (that order is the results'). */
export function subjectOf(run: FullRun, name: string): Measured {
  run.subjects[name] ??= emptyMeasured();
  return run.subjects[name];
}

/** Stops `procs` and forgets them. */
export const stopProcs = (run: FullRun, procs: Proc[]) =>
  Promise.all(
    procs.map(async (proc) => {
      await proc.stop();
      run.alive.delete(proc);
    }),
  );

/** The bare and yardstick workers and clients, once (after the first topology's turns, or at the end). */
export function stopBaselines({ baselines }: FullRun): Promise<unknown> {
  baselines.stopped ??= Promise.all([
    baselines.bareWorker?.stop(),
    baselines.bareClient?.close(),
    baselines.yardstickWorker?.stop(),
    baselines.yardstickClient?.close(),
  ]);
  return baselines.stopped;
}
