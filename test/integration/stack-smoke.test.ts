// Each service of the local stack is the real thing.
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import pg from 'pg';
import { describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { orderIdForCart } from '../../src/ids.js';
import { connectOrderWorkflowClient } from '../../src/temporal/client.js';
import { newCreateOrder } from '../support/orders.js';

const env = () => inject('env');

describe('local stack', () => {
  it('PostgreSQL: a SQL round trip on the migrated database', async () => {
    const client = new pg.Client({ connectionString: env().DATABASE_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ version: string; tables: string[] }>(
        `SELECT version() AS version,
                array_agg(table_name::text ORDER BY table_name) AS tables
           FROM information_schema.tables WHERE table_schema = 'public'`,
      );
      expect(rows[0]?.version).toMatch(/^PostgreSQL \d+/);
      expect(rows[0]?.tables).toEqual(expect.arrayContaining(['order_events', 'order_items', 'orders']));
    } finally {
      await client.end();
    }
  });

  it('Kafka: produce, then consume through a consumer group', async () => {
    const kafka = new Kafka({
      clientId: 'smoke',
      brokers: env().KAFKA_BROKERS!.split(','),
      logLevel: logLevel.NOTHING,
    });
    const topic = `smoke-${randomUUID()}`;
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    const consumer = kafka.consumer({ groupId: `smoke-${randomUUID()}` });
    try {
      await producer.connect();
      await producer.send({ topic, acks: -1, messages: [{ key: 'k', value: 'hello' }] });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      const received = await new Promise<string>((resolve) => {
        void consumer.run({ eachMessage: async ({ message }) => resolve(message.value?.toString() ?? '') });
      });
      expect(received).toBe('hello');
    } finally {
      await consumer.disconnect();
      await producer.disconnect();
      await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
      await admin.disconnect();
    }
  });

  it('Temporal: the order workflow runs on a real worker on the dev server', async () => {
    const workflows = await connectOrderWorkflowClient(loadConfig(env()));
    try {
      const command = newCreateOrder();
      const orderId = orderIdForCart(command.cartId);
      const result = await workflows.startOrder(orderId, command, 'test:stack-smoke', 30_000);
      expect(result).toMatchObject({ created: true, order: { orderId, status: 'CREATED' } });
      const completed = await workflows.transition(orderId, { command: 'complete', payload: {} }, 'test', 30_000);
      expect(completed).toMatchObject({ kind: 'done', result: { changed: true, order: { status: 'COMPLETED' } } });
    } finally {
      await workflows.close();
    }
  });
});
