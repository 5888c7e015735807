// The options of `npm run bench` (bench/run.ts): the command line, the BENCH_* variables that
// stand in for it, and the defaults (--quick's or the full run's). --help prints them and exits.
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { WORKER_NODE_FLAGS } from '../../scripts/build.js';
import { parseStackName } from './stack.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const USAGE = `usage: npm run bench -- [--quick] [--orders N] [--concurrency C] [--topology AxW,...] [--output FILE]
  --quick            a short run of every part, as npm test's smoke run takes it: the defaults become
                     --orders 50 --concurrency 8 --listing-rows 20000 --open-loop-seconds 5
                     --open-orders 150,300 --open-order-transitions 20 --tracing-orders 20
                     --archive-orders 2000 (each still overridable)
  --orders, -n       measured lifecycles per phase (env BENCH_ORDERS; default 1000)
  --concurrency, -c  lifecycles in flight (env BENCH_CONCURRENCY; default 64)
  --topology, -t     the order service's topologies, each measured in turn: A API processes x W worker
                     processes on one task queue, requests round robin over the APIs (env BENCH_TOPOLOGY;
                     default 1x1,2x2); the first is the one bare Temporal takes turns with and the top-level
                     JSON fields describe
  --warmup           unmeasured lifecycles of each subject before measuring (env BENCH_WARMUP; default = concurrency)
  --rounds           the order service and bare Temporal take turns, in this many chunks each
                     (env BENCH_ROUNDS; default orders/500, 1 to 4), so drifting background load hits both alike
  --open-loop-seconds  how long each open-loop level runs, for each subject (default 20)
  --open-orders      levels of open orders for the transitions among them (default 1000,5000; 0 leaves them out)
  --open-order-transitions  confirms on random old orders at each level (default 200)
  --tracing-orders   lifecycles of each of two 1x1 services, tracing off and exporting every span over OTLP
                     to a receiver in the bench, taking turns (default orders/2)
  --skip-tracing     leave that comparison out
  --listing-rows     orders bulk-loaded for the reads (env BENCH_LISTING_ROWS; default 1000000; 0 leaves them out)
  --listing-archived of those orders, how many (the oldest, all ended) are archived into the archive tables
                     before the reads, as the sweep archives them (default 0): the hot table keeps the rest
  --archive-orders   ended orders, all due, bulk-loaded for the archive sweep, which a worker of its own then
                     archives (env BENCH_ARCHIVE_ORDERS; default 100000, --quick 2000; 0 leaves it out)
  --output, -o       JSON results (default bench/results/latest.json)
  --database-url     order database of the run (env BENCH_DATABASE_URL; default .../orders_bench, created if missing)
  --skip-baselines   only the order service (for quick tuning loops; no ratios)
  --worker-tsx       run the order worker and the API through tsx instead of compiled, to compare
  --bundle-at-start  the same, and it bundles its workflows when it starts (no WORKFLOW_BUNDLE_PATH), to compare
  --compare REF      only this: the order service (1 API + 1 worker) at git commit REF ("base", built in a temporary
                     worktree the way REF builds itself, on its own migrated database) against the working tree
                     ("head"), taking turns (ABBA) at --orders/--concurrency; prints head ÷ base
                     (default output bench/results/compare.json)
  --reads-only N     only this: the reads at --listing-rows, N times in a row on one API process (the bulk
                     load once), each run's p50/p99 and plans under \`readRuns\` (default output
                     bench/results/reads.json)
  --stack            dev (the default profile: the Temporal CLI's dev server, one Kafka broker) or cluster (the
                     cluster profile: Temporal's services on PostgreSQL, three brokers; scripts/stack-cluster.sh),
                     which the run starts; every subject runs on it (env STACK_PROFILE=cluster; default dev)
  --profile          run the first topology's first order worker with --cpu-prof (into the results' folder) and
                     draw its profile as <output stem>.worker.svg next to the results
env: BENCH_WORKER_NODE_OPTIONS replaces the workers' V8 flags (WORKER_NODE_FLAGS); BENCH_API_NODE_OPTIONS`;

/** N API processes and M worker processes of the order service, on the run's one task queue. */
export interface Topology {
  /** `<apis>x<workers>`, e.g. 2x2. */
  label: string;
  apis: number;
  workers: number;
}

export type BenchOptions = ReturnType<typeof parseBenchOptions>;

function readCommandLine() {
  return parseArgs({
    options: {
      orders: { type: 'string', short: 'n' },
      concurrency: { type: 'string', short: 'c' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      output: { type: 'string', short: 'o' },
      'database-url': { type: 'string' },
      'skip-baselines': { type: 'boolean', default: false },
      'bundle-at-start': { type: 'boolean', default: false },
      'worker-tsx': { type: 'boolean', default: false },
      topology: { type: 'string', short: 't' },
      'listing-rows': { type: 'string' },
      'listing-archived': { type: 'string' },
      'archive-orders': { type: 'string' },
      'open-loop-seconds': { type: 'string' },
      'open-orders': { type: 'string' },
      'open-order-transitions': { type: 'string' },
      'tracing-orders': { type: 'string' },
      'skip-tracing': { type: 'boolean', default: false },
      compare: { type: 'string' },
      'reads-only': { type: 'string' },
      stack: { type: 'string' },
      profile: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  }).values;
}

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return value;
}

/** `1x1,2x2` → the topologies, in the order given, repeats dropped. */
function parseTopologies(raw: string): Topology[] {
  const topologies: Topology[] = [];
  for (const part of raw.split(',').map((item) => item.trim())) {
    if (part === '') continue;
    const match = /^(\d+)\s*[x×]\s*(\d+)$/i.exec(part);
    const apis = Number(match?.[1]);
    const workers = Number(match?.[2]);
    if (match === null || apis < 1 || workers < 1) {
      throw new Error(`--topology takes APIsxWORKERS[,...] such as 1x1,2x2 (each at least 1); got "${part}"`);
    }
    const label = `${apis}x${workers}`;
    if (!topologies.some((known) => known.label === label)) topologies.push({ label, apis, workers });
  }
  if (topologies.length === 0) throw new Error(`--topology names no topology: "${raw}"`);
  return topologies;
}

/** `1000,5000` → the levels of open orders, 0 left out. */
function parseOpenOrderLevels(raw: string | undefined, quick: boolean): number[] {
  const levels = (raw ?? (quick ? '150,300' : '1000,5000'))
    .split(',')
    .map((part) => Number(part.trim()))
    .filter((level) => level !== 0);
  if (levels.some((level) => !Number.isInteger(level) || level < 0)) {
    throw new Error(`--open-orders takes whole numbers such as 1000,5000; got "${raw}"`);
  }
  return levels;
}

/** Orders bulk-loaded for the listing measurements (bench/lib/listing.ts); 0 leaves them out. */
function parseListingRows(raw: string | undefined, quick: boolean): number {
  const listingRows = Number(raw ?? (quick ? 20_000 : 1_000_000));
  if (!Number.isInteger(listingRows) || listingRows < 0)
    throw new Error(`--listing-rows must be a whole number, got "${raw}"`);
  return listingRows;
}

/** Due orders the archive sweep phase archives (bench/lib/ended-orders.ts); 0 leaves it out. */
function parseArchiveOrders(raw: string | undefined, quick: boolean): number {
  const archiveOrders = Number(raw ?? (quick ? 2_000 : 100_000));
  if (!Number.isInteger(archiveOrders) || archiveOrders < 0)
    throw new Error(`--archive-orders must be a whole number, got "${raw}"`);
  return archiveOrders;
}

/** The run's options; with --help, the usage printed and the process ended. Checked in the order listed. */
export function parseBenchOptions() {
  const args = readCommandLine();
  if (args.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = args.quick === true;
  const orders = positiveInt('--orders', args.orders ?? process.env.BENCH_ORDERS, quick ? 50 : 1000);
  const concurrency = positiveInt('--concurrency', args.concurrency ?? process.env.BENCH_CONCURRENCY, quick ? 8 : 64);
  /** How long each open-loop level lasts for each subject. */
  const openLoopSeconds = positiveInt('--open-loop-seconds', args['open-loop-seconds'], quick ? 5 : 20);
  const openOrderLevels = parseOpenOrderLevels(args['open-orders'], quick);
  const tracingOrders = args['skip-tracing']
    ? 0
    : positiveInt('--tracing-orders', args['tracing-orders'], quick ? 20 : Math.max(1, Math.round(orders / 2)));
  const openOrderTransitions = positiveInt(
    '--open-order-transitions',
    args['open-order-transitions'],
    quick ? 20 : 200,
  );
  const warmup = positiveInt('--warmup', args.warmup ?? process.env.BENCH_WARMUP, concurrency);
  const roundsGiven = args.rounds ?? process.env.BENCH_ROUNDS;
  const rounds = positiveInt('--rounds', roundsGiven, Math.max(1, Math.min(4, Math.floor(orders / 500))));
  const topologies = parseTopologies(args.topology || process.env.BENCH_TOPOLOGY || '1x1,2x2');
  const listingRows = parseListingRows(args['listing-rows'] ?? process.env.BENCH_LISTING_ROWS, quick);
  const listingArchived =
    args['listing-archived'] === undefined ? 0 : positiveInt('--listing-archived', args['listing-archived'], 0);
  if (listingArchived >= listingRows && listingArchived > 0)
    throw new Error('--listing-archived must be below --listing-rows (some orders stay hot)');
  const archiveOrders = parseArchiveOrders(args['archive-orders'] ?? process.env.BENCH_ARCHIVE_ORDERS, quick);
  /** --compare: the git ref whose order service the working tree's is compared with (nothing else runs then). */
  const compareRef = args.compare;
  if (compareRef !== undefined && compareRef.trim() === '')
    throw new Error('--compare needs a git ref, e.g. HEAD or a5118ca');
  /** --reads-only: how many times the reads run, alone (nothing else runs then). */
  const readRuns = args['reads-only'] === undefined ? 0 : positiveInt('--reads-only', args['reads-only'], 1);
  if (readRuns > 0 && listingRows === 0) throw new Error('--reads-only needs --listing-rows above 0');
  const defaultOutput =
    compareRef !== undefined
      ? 'bench/results/compare.json'
      : readRuns > 0
        ? 'bench/results/reads.json'
        : 'bench/results/latest.json';
  const output = resolve(args.output ?? join(ROOT, defaultOutput));
  return {
    /** The stack every subject of the run measures (bench/lib/stack.ts). */
    stack: parseStackName(args.stack ?? process.env.STACK_PROFILE),
    orders,
    concurrency,
    openLoopSeconds,
    openOrderLevels,
    openOrderTransitions,
    tracingOrders,
    warmup,
    rounds,
    /** Whether --rounds (or BENCH_ROUNDS) was given: --compare takes it as it is, else at least 2. */
    roundsGiven: roundsGiven !== undefined,
    topologies,
    listingRows,
    listingArchived,
    archiveOrders,
    compareRef,
    readRuns,
    output,
    /** --profile: the first order worker runs with V8's CPU profiler, its profile drawn as a flame graph. */
    profile: args.profile === true,
    databaseUrl:
      args['database-url'] ?? process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/orders_bench',
    skipBaselines: args['skip-baselines'] === true,
    /** --worker-tsx or --bundle-at-start: the order worker and the API through tsx, not compiled. */
    throughTsx: args['worker-tsx'] === true || args['bundle-at-start'] === true,
    bundleAtStart: args['bundle-at-start'] === true,
    /**
     * V8 flags of both workers (the order worker and the bare one): those the worker runs with
     * (WORKER_NODE_FLAGS); BENCH_WORKER_NODE_OPTIONS replaces them, to compare.
     */
    workerFlags: (process.env.BENCH_WORKER_NODE_OPTIONS ?? WORKER_NODE_FLAGS.join(' ')).split(/\s+/).filter(Boolean),
  };
}
