// The order-summary consumer: `npm start -w @acme/order-summary-example`. Reads ordering.orders
// through @acme/order-events and keeps the summary in its own PostgreSQL schema.
import { startOrderEventConsumer } from '@acme/order-events';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { loadSummaryConfig } from './config.js';
import { applyToSummary, createSummarySchema } from './projection.js';

const config = loadSummaryConfig();
const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 4 });
await createSummarySchema(pool, config.schema);

const consumer = await startOrderEventConsumer({
  kafka: new Kafka({ clientId: config.groupId, brokers: config.brokers, logLevel: logLevel.WARN }),
  groupId: config.groupId,
  topic: config.topic,
  pool,
  schema: `${config.schema}_consumer`,
  handle: (event, tx) => applyToSummary(event, tx, config.schema),
  onSequenceAnomaly: (anomaly) => console.warn(JSON.stringify({ msg: 'order-summary: sequence anomaly', ...anomaly })),
});
console.info(JSON.stringify({ msg: 'order-summary: consuming', topic: config.topic, groupId: config.groupId }));

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, async () => {
    await consumer.stop();
    await pool.end();
    process.exit(0);
  });
}
