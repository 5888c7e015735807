// Prometheus metrics of the API process, in a registry of its own (no global default registry).
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { STATEMENT_DURATION_METRIC, STATEMENT_SECONDS_BUCKETS } from '../database-metrics.js';
import type { PoolCounts, StatementObserver } from '../db/index.js';

export interface ApiMetricsSources {
  /** Order events stored but not yet published. */
  outboxBacklog: () => Promise<number>;
  /** The process's PostgreSQL pool right now. */
  databasePool: () => PoolCounts;
}

export function createApiMetrics({ outboxBacklog, databasePool }: ApiMetricsSources) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const statementDuration = new Histogram({
    name: STATEMENT_DURATION_METRIC,
    help: 'PostgreSQL statement latency by statement name (the db function that ran it; begin/commit/rollback) and outcome',
    labelNames: ['statement', 'outcome'] as const,
    buckets: STATEMENT_SECONDS_BUCKETS,
    registers: [registry],
  });
  const statements: StatementObserver = {
    observe: (statement, seconds, outcome) => statementDuration.observe({ statement, outcome }, seconds),
  };
  return {
    registry,
    statements,
    httpDuration: new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by route, method and status',
      labelNames: ['route', 'method', 'status'] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    ordersCreated: new Counter({
      name: 'orders_created_total',
      help: 'Orders created through this API process (201 answers)',
      registers: [registry],
    }),
    orderTransitions: new Counter({
      name: 'order_transitions_total',
      help: 'Orders completed or cancelled through this API process, by new status',
      labelNames: ['status'] as const,
      registers: [registry],
    }),
    outboxBacklog: new Gauge({
      name: 'order_outbox_backlog',
      help: 'Order events stored but not yet published to Kafka',
      registers: [registry],
      async collect() {
        this.set(await outboxBacklog());
      },
    }),
    databasePoolConnections: new Gauge({
      name: 'db_pool_connections',
      help: 'Connections of the PostgreSQL pool (at most DATABASE_POOL_MAX): in_use (checked out) or idle',
      labelNames: ['state'] as const,
      registers: [registry],
      collect() {
        const counts = databasePool();
        this.set({ state: 'in_use' }, counts.inUse);
        this.set({ state: 'idle' }, counts.idle);
      },
    }),
    databasePoolWaiting: new Gauge({
      name: 'db_pool_waiting_clients',
      help: 'Callers waiting for a PostgreSQL connection because all DATABASE_POOL_MAX are in use',
      registers: [registry],
      collect() {
        this.set(databasePool().waiting);
      },
    }),
  };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;
