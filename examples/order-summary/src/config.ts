// The example's settings, from its environment: the only reader of process.env here.
export interface SummaryConfig {
  /** Where the projection (and the kit's deduplication store) lives: the consumer's own database. */
  databaseUrl: string;
  brokers: string[];
  /** The environment's ordering.orders (the service's KAFKA_TOPIC_PREFIX before it). */
  topic: string;
  groupId: string;
  /** The PostgreSQL schema of the projection; the kit's store goes in `<schema>_consumer`. */
  schema: string;
}

export function loadSummaryConfig(env: Record<string, string | undefined> = process.env): SummaryConfig {
  return {
    databaseUrl: env.ORDER_SUMMARY_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/orders',
    brokers: (env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
    topic: `${env.KAFKA_TOPIC_PREFIX ?? ''}ordering.orders`,
    groupId: env.ORDER_SUMMARY_GROUP ?? 'order-summary',
    schema: env.ORDER_SUMMARY_SCHEMA ?? 'order_summary',
  };
}
