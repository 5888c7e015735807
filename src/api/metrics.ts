// Prometheus metrics of the API process, in a registry of its own (no global default registry).
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export function createApiMetrics(outboxBacklog: () => Promise<number>) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  return {
    registry,
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
  };
}

export type ApiMetrics = ReturnType<typeof createApiMetrics>;
