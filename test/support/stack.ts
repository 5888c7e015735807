// Where the integration tests find the local stack: their own database, Temporal namespace,
// task queue and Kafka topics, so they never touch what `npm start` serves.
import { orderTopics } from '../../src/kafka/index.js';
/** Test tokens: one with every scope (the default of the api() helper), and one per scope. */
export const TOKENS = {
  all: 'test-token-all-scopes-0001',
  create: 'test-token-create-only-0001',
  read: 'test-token-read-only-00001',
  manage: 'test-token-manage-only-001',
} as const;

const API_KEYS = {
  [TOKENS.all]: ['orders:create', 'orders:read', 'orders:manage'],
  [TOKENS.create]: ['orders:create'],
  [TOKENS.read]: ['orders:read'],
  [TOKENS.manage]: ['orders:manage'],
};

/** The topics of a test environment (its KAFKA_TOPIC_PREFIX). */
export const topicsOf = (env: Record<string, string | undefined>) => orderTopics(env.KAFKA_TOPIC_PREFIX ?? '');

export function testEnvironment(): Record<string, string> {
  return {
    DATABASE_URL: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/orders_test',
    TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS ?? '127.0.0.1:7233',
    TEMPORAL_TASK_QUEUE: 'orders-test',
    // An environment of its own on the shared stack: its namespace, topics and consumer groups.
    TEMPORAL_NAMESPACE: 'orders-test',
    KAFKA_TOPIC_PREFIX: 'test.',
    KAFKA_BROKERS: process.env.KAFKA_BROKERS ?? '127.0.0.1:9092',
    PORT: '0',
    LOG_LEVEL: 'warn',
    TRANSITION_WAIT_MS: '10000',
    API_KEYS: JSON.stringify(API_KEYS),
    RATE_LIMIT_PER_MINUTE: '0',
  };
}
