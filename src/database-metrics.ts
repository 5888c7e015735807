// The worker's PostgreSQL metrics, on the Temporal runtime's meter (its Prometheus endpoint at
// WORKER_METRICS_ADDRESS, beside the SDK's): the same names as the API's /metrics (src/api/metrics.ts).
import type { MetricMeter } from '@temporalio/common';
import type { PoolCounts, StatementObserver } from './db/index.js';

export const STATEMENT_DURATION_METRIC = 'db_statement_duration_seconds';

/** Seconds: a statement of this service takes 1–50 ms; the top buckets catch waits and timeouts. */
export const STATEMENT_SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];

/**
 * For the runtime's Prometheus exporter (`histogramBucketOverrides`): without it, a histogram of
 * the runtime's gets millisecond buckets from 50 up, and every statement would fall in the first.
 */
export const DATABASE_HISTOGRAM_BUCKETS: Record<string, number[]> = {
  [STATEMENT_DURATION_METRIC]: STATEMENT_SECONDS_BUCKETS,
};

/** How often the pool's counts are read into the gauges (the exporter's own period is 1 s). */
const POOL_READ_INTERVAL_MS = 1_000;

export function createDatabaseMetrics(meter: MetricMeter) {
  const duration = meter.createHistogram(
    STATEMENT_DURATION_METRIC,
    'float',
    '',
    'PostgreSQL statement latency by statement name (the db function that ran it; begin/commit/rollback) and outcome',
  );
  const connections = meter.createGauge(
    'db_pool_connections',
    'int',
    '',
    'Connections of the PostgreSQL pool (at most DATABASE_POOL_MAX): in_use (checked out) or idle',
  );
  const waiting = meter.createGauge(
    'db_pool_waiting_clients',
    'int',
    '',
    'Callers waiting for a PostgreSQL connection because all DATABASE_POOL_MAX are in use',
  );
  const statements: StatementObserver = {
    observe: (statement, seconds, outcome) => duration.record(seconds, { statement, outcome }),
  };
  return {
    statements,
    /** Reads the pool into the gauges every second until the returned function is called. */
    watchPool(counts: () => PoolCounts): () => void {
      const read = () => {
        const now = counts();
        connections.set(now.inUse, { state: 'in_use' });
        connections.set(now.idle, { state: 'idle' });
        waiting.set(now.waiting);
      };
      read();
      const timer = setInterval(read, POOL_READ_INTERVAL_MS);
      timer.unref();
      return () => clearInterval(timer);
    },
  };
}
