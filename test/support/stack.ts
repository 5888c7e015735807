// Where the integration tests find the local stack: its own database and task queue, so
// they never touch what `npm start` serves.
export function testEnvironment(): Record<string, string> {
  return {
    DATABASE_URL: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/orders_test',
    TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
    TEMPORAL_TASK_QUEUE: 'orders-test',
    KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
    PORT: '0',
    LOG_LEVEL: 'warn',
    TRANSITION_WAIT_MS: '10000',
  };
}
