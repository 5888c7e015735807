// Entry point of the API process: builds its dependencies from the config, serves, and
// closes them in reverse order on SIGTERM/SIGINT.
import { pathToFileURL } from 'node:url';
import { buildApp } from './api/app.js';
import { createApiMetrics } from './api/metrics.js';
import {
  type Config,
  codecCorsOrigins,
  describeDatabaseConnection,
  describeKafkaConnection,
  describeTemporalConnection,
  jwtSettingsOf,
  loadConfig,
  parseApiKeys,
  payloadKeysOf,
  temporalConnectionOf,
} from './config.js';
import { createDatabase } from './db/index.js';
import { countUnpublishedEvents } from './db/orders-repository.js';
import { within } from './deadline.js';
import { createEventPublisher, createKafka, createKafkaProbe, orderTopics } from './kafka/index.js';
import { createLogger } from './logger.js';
import { createCustomerErasure } from './orders/customer-erasure.js';
import { createOrderService } from './orders/order-service.js';
import { reach, startFailureLine, temporalTlsProblem } from './startup.js';
import { startTelemetry } from './telemetry.js';
import { connectOrderWorkflowClient } from './temporal/client.js';
import { createPayloadCodec, warnIfPayloadsInClearText } from './temporal/payload-codec.js';

export async function startServer(config: Config) {
  // First: pg's instrumentation must be in place before the pool loads `pg`.
  const telemetry = await startTelemetry(config, 'order-api');
  const logger = createLogger(config, 'api');
  // Made before the pool, which reports each statement's latency to them; they read the pool when scraped.
  const metrics = createApiMetrics({
    outboxBacklog: () => countUnpublishedEvents(db),
    databasePool: () => db.poolCounts(),
  });
  const db = createDatabase(config, logger, metrics.statements);
  await reach(describeDatabaseConnection(config), db.ping);
  warnIfPayloadsInClearText(config, logger);
  const workflows = await reach(describeTemporalConnection(config), () => connectOrderWorkflowClient(config), {
    explain: () => temporalTlsProblem(temporalConnectionOf(config)),
  });
  const orders = createOrderService({
    db,
    workflows,
    createTimeoutMs: config.CREATE_ORDER_TIMEOUT_MS,
    transitionWaitMs: config.TRANSITION_WAIT_MS,
  });
  // The API only probes Kafka (readiness), but a wrong address or credential is found now, not at the first probe.
  const kafka = createKafka(config, logger);
  const kafkaProbe = createKafkaProbe(kafka);
  await reach(describeKafkaConnection(config), kafkaProbe.ping);
  // The API publishes one kind of event itself: CustomerDataErased, right after an erasure commits
  // (the worker's outbox sweeper publishes what this producer could not).
  const publisher = await reach(describeKafkaConnection(config), () =>
    createEventPublisher(kafka, logger, { traced: telemetry.enabled }),
  );
  const erasure = createCustomerErasure({
    db,
    logger,
    outbox: {
      publisher,
      topic: orderTopics(config.KAFKA_TOPIC_PREFIX).events,
      eventSource: config.EVENT_SOURCE,
      // The worker's counters (order_events_published_total) count the lifecycle's events; these few are logged.
      metrics: { published: () => undefined, failed: () => undefined },
    },
  });
  const payloadKeys = payloadKeysOf(config);
  const app = await buildApp({
    orders,
    erasure,
    logger,
    apiKeys: parseApiKeys(config.API_KEYS),
    jwt: jwtSettingsOf(config),
    bodyLimit: config.BODY_LIMIT_BYTES,
    rateLimitPerMinute: config.RATE_LIMIT_PER_MINUTE,
    metrics,
    readiness: () => unavailableOf({ postgresql: db.ping, temporal: workflows.ping, kafka: kafkaProbe.ping }),
    tracing: telemetry.fastifyPlugin,
    codec: {
      codec: payloadKeys === undefined ? undefined : createPayloadCodec(payloadKeys),
      corsOrigins: codecCorsOrigins(config),
    },
  });
  await app.listen({ host: config.HOST, port: config.PORT });
  return {
    app,
    logger,
    /** Stops accepting, drains in-flight requests, then closes Temporal and PostgreSQL. */
    async close() {
      await app.close();
      await publisher.close();
      await kafkaProbe.close();
      await workflows.close();
      await db.close();
      await telemetry.shutdown();
    },
  };
}

/** Runs every check at once, each bounded; returns the names of those that failed. */
async function unavailableOf(checks: Record<string, () => Promise<void>>): Promise<string[]> {
  const names = Object.keys(checks);
  const results = await Promise.allSettled(
    Object.entries(checks).map(([name, check]) => within(2_000, `readiness of ${name}`, check())),
  );
  return names.filter((_, index) => results[index]?.status === 'rejected');
}

async function main() {
  const server = await startServer(loadConfig());
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    server.logger.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        server.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    console.error(startFailureLine('order API', error));
    process.exit(1);
  });
}
