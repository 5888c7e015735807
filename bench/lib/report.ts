// The full run's figures (bench/run.ts), from what its phases measured: each topology's and
// subject's, the first topology against bare Temporal and the yardstick, the targets; the results
// file they make (bench/README.md describes its fields), each process's log next to it, and the
// report printed on the terminal.
import { mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Config } from '../../src/config.js';
import { YARDSTICK_NODE_FLAGS } from '../yardstick/worker-options.js';
import { cpuPerLifecycle } from './cpu.js';
import {
  lifecyclesOf,
  machineCpuMs,
  machineFacts,
  orDash,
  processCpuMs,
  ratioOf,
  type Summary,
  summarize,
  table,
} from './figures.js';
import {
  type FullRun,
  type OpenLoopLevel,
  type Proc,
  processNames,
  type TopologyRun,
  type Tracing,
  type TracingFigures,
} from './full-run.js';
import type { OpenOrdersLevel } from './open-orders.js';
import type { BenchOptions } from './options.js';
import type { Outage } from './outages.js';
import { ENDING_COMMANDS, endingShares } from './plan.js';
import type { Profiled } from './profile.js';
import { stackFacts } from './stack.js';
import { round } from './stats.js';
import type { Verification } from './verify.js';

/**
 * The service's default sweep interval (src/config.ts): a sweep longer than it has the next one
 * buffered behind it (the Schedule's overlap policy), so archival falls behind.
 */
const ARCHIVE_SWEEP_INTERVAL_DEFAULT_MS = 3_600_000;

/** How the run was asked to run, and when: what the results tell besides the figures. */
export interface RunFacts {
  options: BenchOptions;
  /** Names the run's task queues. */
  runId: string;
  /** The services' LOG_LEVEL. */
  logLevel: string;
  /** Date.now() at the start, and the load average then. */
  started: number;
  loadAverageBefore: number[];
}

/** A topology's figures in the results; its ratios to bare Temporal's (only the first took turns with it). */
function topologyFiguresOf(run: TopologyRun, position: number, bare: Summary | undefined) {
  const figures = summarize(run.measured.samples);
  const verification = run.verification as Verification;
  const rssOf = (proc: Proc) => round(proc.peakRssMb(), 0);
  return {
    topology: run.topology.label,
    apis: run.topology.apis,
    workers: run.topology.workers,
    /** Only the first topology takes turns with bare Temporal; the others' ratios are to the same bare figure. */
    interleavedWithBareTemporal: position === 0 && bare !== undefined,
    lifecyclesPerSec: figures.perSec,
    overallPerSec: figures.overallPerSec,
    ratioToBareTemporal: ratioOf(figures.perSec, bare?.perSec) ?? null,
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
}

/** An open-loop level's figures in the results: the order service's, and bare Temporal's at the same rate. */
function openLoopFiguresOf({ loadPercent, ratePerSec, system: own, bare: baseline }: OpenLoopLevel) {
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
}

/** Failed lifecycles of every part of the run, in the order the parts ran. */
function failuresOf(run: FullRun): string[] {
  return [
    ...Object.values(run.subjects).flatMap((value) => value.samples.failures),
    ...run.runs.slice(1).flatMap((topologyRun) => topologyRun.measured.samples.failures),
    ...run.openLoop.flatMap((entry) => [...entry.system.failures, ...entry.bare.failures]),
    ...run.openOrderFailures,
    ...(run.tracing.off?.failures ?? []),
    ...(run.tracing.exported?.failures ?? []),
  ];
}

/** The fewest and the most open orders measured, and how transition p99 and worker RSS grew from one to the other. */
function openOrdersGrowthOf(openOrders: OpenOrdersLevel[]) {
  const fewestOpen = openOrders[0];
  const mostOpen = openOrders.at(-1);
  const openOrdersP99Growth =
    openOrders.length > 1 ? ratioOf(mostOpen?.transitionP99Ms, fewestOpen?.transitionP99Ms) : undefined;
  const openOrdersRssGrowth =
    openOrders.length > 1 ? ratioOf(mostOpen?.workerRssMb, fewestOpen?.workerRssMb) : undefined;
  return { fewestOpen, mostOpen, openOrdersP99Growth, openOrdersRssGrowth };
}

/**
 * Everything the results and the report compute from what the run measured: each subject's
 * summary, each topology's and open-loop level's figures, and the first topology against bare
 * Temporal and against the yardstick.
 */
export function figuresOf(run: FullRun) {
  const { subjects } = run;
  const summary: Record<string, Summary | undefined> = Object.fromEntries(
    Object.entries(subjects).map(([name, value]) => [name, summarize(value.samples)]),
  );
  const bare = summary.bareTemporal;
  const topologyResults = run.runs.map((topologyRun, position) => topologyFiguresOf(topologyRun, position, bare));
  const primary = topologyResults[0];
  const primaryRun = run.runs[0];
  if (primary === undefined || primaryRun === undefined) throw new Error('no topology was measured');
  const sys = summary.system as Summary;
  const yardstick = summary.yardstick;
  const openLoopResults = run.openLoop.map(openLoopFiguresOf);
  // Every part that placed orders: the topologies and the tracing comparison.
  const verified = [
    ...topologyResults,
    ...[run.tracing.off, run.tracing.exported].flatMap((figures) =>
      figures === undefined ? [] : [figures.verification],
    ),
  ];
  const cpuMsPerLifecycle = machineCpuMs(subjects.system);
  const bareCpuMsPerLifecycle = machineCpuMs(subjects.bareTemporal);
  // The first topology's largest API and worker (its only ones in 1x1).
  const apiRssMb = Math.max(...primary.apiRssMb);
  const workerRssMb = Math.max(...primary.workerRssMb);
  const { bareWorker, yardstickWorker } = run.baselines;
  const yardstickWorkerRssMb = yardstickWorker === undefined ? undefined : round(yardstickWorker.peakRssMb(), 0);
  // The order worker against the yardstick's (issue 19's budget: CPU ≤ 1.3×, peak RSS ≤ 1.1× and < 250 MB).
  const workerCpuMsPerLifecycle = processCpuMs(subjects.system, 'worker');
  const yardstickWorkerCpuMsPerLifecycle = processCpuMs(subjects.yardstick, 'worker');
  return {
    summary,
    bare,
    ratioToBare: (value: number) => ratioOf(value, bare?.perSec),
    topologyResults,
    primary,
    primaryRun,
    sys,
    failures: failuresOf(run),
    yardstick,
    ratioToYardstick: ratioOf(sys.perSec, yardstick?.perSec),
    cpuMsPerLifecycle,
    bareCpuMsPerLifecycle,
    cpuToBare: ratioOf(cpuMsPerLifecycle, bareCpuMsPerLifecycle),
    openLoopResults,
    openLoopAtHalf: openLoopResults.find((entry) => entry.loadPercent === 50),
    ...openOrdersGrowthOf(run.openOrders),
    listingWorstP99:
      run.listing === undefined ? undefined : Math.max(...Object.values(run.listing.queries).map(({ p99Ms }) => p99Ms)),
    lost: verified.reduce((sum, verification) => sum + verification.lost, 0),
    duplicated: verified.reduce((sum, verification) => sum + verification.duplicated, 0),
    ratio: ratioOf(sys.perSec, bare?.perSec),
    createToBareStartP99: ratioOf(sys.startP99Ms, bare?.startP99Ms),
    transitionP50ToBare: ratioOf(sys.transitionP50Ms, bare?.transitionP50Ms),
    transitionP99ToBare: ratioOf(sys.transitionP99Ms, bare?.transitionP99Ms),
    apiRssMb,
    workerRssMb,
    bareWorkerRssMb: bareWorker === undefined ? undefined : round(bareWorker.peakRssMb(), 0),
    yardstickWorkerRssMb,
    workerCpuMsPerLifecycle,
    yardstickWorkerCpuMsPerLifecycle,
    workerCpuToYardstick: ratioOf(workerCpuMsPerLifecycle, yardstickWorkerCpuMsPerLifecycle),
    workerRssToYardstick: ratioOf(workerRssMb, yardstickWorkerRssMb),
    openExecutionsPerEndedOrder: run.endedOrderRuns?.perEndedOrder ?? undefined,
    archive: run.archive,
  };
}
export type RunFigures = ReturnType<typeof figuresOf>;

/** The processes' own output, for a look after the run (bench/results is git-ignored), next to the results; lines of each. */
export function writeProcessLogs(run: FullRun, output: string): Record<string, number> {
  mkdirSync(dirname(output), { recursive: true });
  const logs: Record<string, number> = {};
  const outputs: [string, string[] | undefined][] = [];
  for (const topologyRun of run.runs) {
    const names = processNames(topologyRun.topology);
    for (const [index, api] of topologyRun.apis.entries()) outputs.push([names.api(index), api.output]);
    for (const [index, worker] of topologyRun.workers.entries()) outputs.push([names.worker(index), worker.output]);
  }
  outputs.push(
    ['bare-worker', run.baselines.bareWorker?.output],
    ['yardstick-worker', run.baselines.yardstickWorker?.output],
    ['archive-worker', run.archiveWorker?.output],
  );
  for (const [name, lines] of outputs) {
    if (lines === undefined) continue;
    logs[name] = lines.length;
    writeFileSync(join(dirname(output), `${basename(output, '.json')}.${name}.log`), `${lines.join('\n')}\n`);
  }
  return logs;
}

/** Each target of the run, and whether it was met (null: not measured). */
function targetsOf(figures: RunFigures) {
  const {
    ratioToYardstick,
    workerCpuToYardstick,
    workerRssToYardstick,
    openLoopAtHalf,
    mostOpen,
    fewestOpen,
    openOrdersP99Growth,
    openOrdersRssGrowth,
    listingWorstP99,
    cpuToBare,
    ratio,
    createToBareStartP99,
    transitionP50ToBare,
    transitionP99ToBare,
    lost,
    duplicated,
    apiRssMb,
    workerRssMb,
    openExecutionsPerEndedOrder,
    archive,
  } = figures;
  return {
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
    openExecutionsPerEndedOrder: {
      target: '= 0 (a run ends with its order)',
      met: openExecutionsPerEndedOrder === undefined ? null : openExecutionsPerEndedOrder === 0,
    },
    archiveLostAndDuplicated: {
      target: '= 0 (every due order archived exactly once)',
      met: archive === undefined ? null : archive.lost === 0 && archive.duplicated === 0,
    },
    archiveSweepWithinInterval: {
      target: `the sweep of the due orders ends within ARCHIVE_SWEEP_INTERVAL_MS (${ARCHIVE_SWEEP_INTERVAL_DEFAULT_MS / 60_000} min, the default)`,
      met: archive === undefined ? null : archive.sweepSeconds * 1000 <= ARCHIVE_SWEEP_INTERVAL_DEFAULT_MS,
    },
  };
}

/** The settings the run measured with: the worker's, the database pool's, the endings, how the processes ran. */
function settingsOf(config: Config, { options, logLevel }: RunFacts) {
  return {
    databaseUrl: options.databaseUrl,
    logLevel,
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
    prebuiltWorkflowBundle: !options.bundleAtStart,
    workerFlags: options.workerFlags.join(' '),
    /** Frozen with the yardstick (bench/yardstick/worker-options.ts); BENCH_WORKER_NODE_OPTIONS does not change them. */
    yardstickWorkerFlags: YARDSTICK_NODE_FLAGS.join(' '),
    workerRuns: options.throughTsx ? 'node --import tsx src/worker.ts' : 'compiled (dist/worker.mjs)',
  };
}

/** The results file's contents: the first topology's figures at the top, then every part's. */
export function resultOf(
  run: FullRun,
  figures: RunFigures,
  facts: RunFacts,
  logs: Record<string, number>,
  profiled: Profiled,
) {
  const { listing, openOrders, tracing, subjects, outages } = run;
  const { orders, concurrency, warmup, rounds } = facts.options;
  const { runId, started, loadAverageBefore } = facts;
  const {
    summary,
    bare,
    primary,
    sys,
    failures,
    yardstick,
    ratioToYardstick,
    ratio,
    cpuMsPerLifecycle,
    bareCpuMsPerLifecycle,
    cpuToBare,
    workerCpuMsPerLifecycle,
    yardstickWorkerCpuMsPerLifecycle,
    workerCpuToYardstick,
    openLoopResults,
    createToBareStartP99,
    transitionP50ToBare,
    transitionP99ToBare,
    apiRssMb,
    workerRssMb,
    bareWorkerRssMb,
    yardstickWorkerRssMb,
    workerRssToYardstick,
    lost,
    duplicated,
    topologyResults,
  } = figures;
  const verification = primary.verification;
  return {
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
    /**
     * Running orderWorkflow executions on the run's queue ÷ orders the first topology's closed
     * loop ended (0 since v5; 1 when each ended order's run waited for its archival).
     */
    openExecutionsPerEndedOrder: figures.openExecutionsPerEndedOrder ?? null,
    endedOrderRuns: run.endedOrderRuns ?? null,
    /** The archive sweep over `archive.orders` due orders (--archive-orders): orders archived per second of the sweep. */
    archivePerSec: figures.archive?.archivePerSec ?? null,
    archiveLost: figures.archive?.lost ?? null,
    archiveDuplicated: figures.archive?.duplicated ?? null,
    /** CPU of the Temporal server (and of the worker) during the sweep, per archived order. */
    temporalCpuMsPerArchivedOrder: figures.archive?.temporalCpuMsPerArchivedOrder ?? null,
    workerCpuMsPerArchivedOrder: figures.archive?.workerCpuMsPerArchivedOrder ?? null,
    archive: figures.archive ?? null,
    /** Over every topology of the run and the tracing comparison (the archive sweep's: archiveLost, archiveDuplicated). */
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
    targets: targetsOf(figures),
    date: new Date().toISOString(),
    /** Names the run's Temporal task queues (orders-bench-<runId>, orders-bench-bare-<runId>), to look at its histories. */
    runId,
    durationSec: round((Date.now() - started) / 1000, 0),
    machine: machineFacts(loadAverageBefore),
    /** The stack every subject ran on: the dev server and one broker, or the cluster profile (--stack). */
    stack: stackFacts(),
    settings: settingsOf(run.config, facts),
  };
}

/** A target's mark in the report. */
const mark = (met: boolean | null) => (met === null ? 'n/a' : met ? 'met' : 'NOT MET');

/** The lifecycles table's rows: each topology of the order service, then the yardstick and the bare subjects. */
function subjectRows(figures: RunFigures): (string | number)[][] {
  const { topologyResults, summary, ratioToBare, bareWorkerRssMb, yardstickWorkerRssMb } = figures;
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
  return rows;
}

type RunResult = ReturnType<typeof resultOf>;

/** The lifecycles table, what its columns mean, and each topology's transitions against bare Temporal's. */
function printLifecycles(figures: RunFigures, result: RunResult, { orders, concurrency, rounds }: BenchOptions): void {
  const { topologyResults, bare, primary } = figures;
  const { machine } = result;
  console.log(
    `\nOrder lifecycles: ${orders} per subject and topology, concurrency ${concurrency}, ${rounds} round(s); ` +
      `topologies (APIs x workers) ${topologyResults.map((run) => run.topology).join(', ')}; ` +
      `${machine.nproc} × ${machine.cpuModel}, node ${machine.node}, load ${machine.loadAverageBefore.join(' ')}\n`,
  );
  console.log(table(subjectRows(figures)));
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
}

/** Lost, duplicated and failed, topology by topology and for the whole run. */
function printVerification(figures: RunFigures): void {
  const { topologyResults, lost, duplicated, failures } = figures;
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
}

function printOpenLoop({ openLoopResults }: RunFigures): void {
  if (openLoopResults.length === 0) return;
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

function printOpenOrders(openOrders: OpenOrdersLevel[]): void {
  if (openOrders.length === 0) return;
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

function printTracing(tracing: Tracing, result: RunResult): void {
  if (tracing.off === undefined || tracing.exported === undefined) return;
  console.log('\nTracing (two 1x1 services taking turns; exported: every span over OTLP to a receiver in the bench):');
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

/** The ended orders' open runs, and the archive sweep: its pace, its CPU per archived order, lost and duplicated. */
function printEndedOrders(run: FullRun, { targets }: RunResult): void {
  const { endedOrderRuns, archive } = run;
  if (endedOrderRuns !== undefined) {
    console.log(
      `ended orders: ${endedOrderRuns.openRuns} order runs open for ${endedOrderRuns.endedOrders} ended by the closed loop, ` +
        `${orDash(endedOrderRuns.perEndedOrder)} per ended order = 0 ${mark(targets.openExecutionsPerEndedOrder.met)}`,
    );
  }
  if (archive === undefined) return;
  const half = archive.progress.find((sample) => sample.archived >= archive.orders / 2);
  const halves =
    half === undefined || half.seconds <= 0 || half.seconds >= archive.sweepSeconds
      ? ''
      : ` (first half ${round(half.archived / half.seconds, 1)}/s, ` +
        `second ${round((archive.archived - half.archived) / (archive.sweepSeconds - half.seconds), 1)}/s, from its progress)`;
  console.log(
    `archive sweep: ${archive.archived} of ${archive.orders} due orders (loaded in ${archive.loadSeconds} s) archived in ` +
      `${archive.sweepSeconds} s, ${archive.archivePerSec}/s${halves}, pages of ${archive.batchSize}; ` +
      `CPU ms per archived order: Temporal ${orDash(archive.temporalCpuMsPerArchivedOrder)}, ` +
      `worker ${orDash(archive.workerCpuMsPerArchivedOrder)}, PostgreSQL ${orDash(archive.cpuMsPerArchivedOrderByPart.postgres)}; ` +
      `lost ${archive.lost}, duplicated ${archive.duplicated} ${mark(targets.archiveLostAndDuplicated.met)}; ` +
      `within the default sweep interval ${mark(targets.archiveSweepWithinInterval.met)}` +
      (archive.skipped + archive.unpublished + archive.eventsUnpublished > 0
        ? `; skipped ${archive.skipped}, events left to the outbox ${archive.unpublished}, still unpublished ${archive.eventsUnpublished}`
        : ''),
  );
}

function printListing(listing: FullRun['listing']): void {
  if (listing === undefined) return;
  const figures = Object.entries(listing.queries)
    .map(([name, { p50Ms, p99Ms }]) => `${name} ${p50Ms} / ${p99Ms}`)
    .join(', ');
  const met = Object.values(listing.queries).every(({ p99Ms }) => p99Ms <= 25);
  console.log(
    `listing over ${listing.rows} orders (loaded in ${listing.loadSeconds} s), ${listing.readers} readers, ` +
      `p50 / p99 ms: ${figures}; every p99 ≤ 25 ms ${mark(met)}; plans in the results file`,
  );
}

/** Each target of the first topology, its figure and whether it was met. */
function printTargets(figures: RunFigures, { targets }: RunResult): void {
  const {
    primary,
    ratioToYardstick,
    workerCpuMsPerLifecycle,
    workerCpuToYardstick,
    workerRssToYardstick,
    openLoopAtHalf,
    openOrdersP99Growth,
    openOrdersRssGrowth,
    cpuMsPerLifecycle,
    cpuToBare,
    ratio,
    createToBareStartP99,
    transitionP50ToBare,
    transitionP99ToBare,
    apiRssMb,
    workerRssMb,
  } = figures;
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
}

/** Each subject's and topology's CPU per lifecycle, part by part. */
function printCpu({ primary, topologyResults }: RunFigures, result: RunResult): void {
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
}

/** The first failures, the outages (the figures are then not comparable), the profile drawn. */
function printWarnings({ failures }: RunFigures, outages: Outage[], profiled: Profiled): void {
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
}

/** The report on the terminal: every part's figures, the targets, what went wrong. */
export function printReport(
  run: FullRun,
  figures: RunFigures,
  result: RunResult,
  profiled: Profiled,
  options: BenchOptions,
) {
  printLifecycles(figures, result, options);
  printVerification(figures);
  printOpenLoop(figures);
  printOpenOrders(run.openOrders);
  printTracing(run.tracing, result);
  console.log('');
  printListing(run.listing);
  printEndedOrders(run, result);
  printTargets(figures, result);
  printCpu(figures, result);
  printWarnings(figures, run.outages, profiled);
  console.log(`\nresults: ${options.output}`);
}
