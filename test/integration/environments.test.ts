// Environments on one shared stack: the test suite's orders live in its own Temporal namespace
// and on its own topics (TEMPORAL_NAMESPACE, KAFKA_TOPIC_PREFIX), so `npm start`, `npm test` and
// `npm run bench` never see each other's orders, events, commands or workflows.
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { Kafka, logLevel } from 'kafkajs';
import { describe, expect, inject, it } from 'vitest';
import type { Order } from '../../src/contracts/schemas.js';
import { workflowIdForOrder } from '../../src/ids.js';
import { ORDER_EVENTS_TOPIC } from '../../src/kafka/index.js';
import { api } from '../support/api.js';
import { newCreateOrder } from '../support/orders.js';
import { topicsOf } from '../support/stack.js';
import { useStackClients } from '../support/stack-clients.js';

const stack = useStackClients();

/** The keys of every message on `topic` up to its end now; none when the topic does not exist. */
async function keysOnTopic(topic: string): Promise<Set<string>> {
  const kafka = new Kafka({
    clientId: 'environment-test',
    brokers: inject('env').KAFKA_BROKERS!.split(','),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  const exists = (await admin.listTopics()).includes(topic);
  const ends = exists ? await admin.fetchTopicOffsets(topic) : [];
  await admin.disconnect();
  const keys = new Set<string>();
  const remaining = new Map(ends.filter((end) => end.high !== '0').map((end) => [end.partition, BigInt(end.high)]));
  if (remaining.size === 0) return keys;
  const consumer = kafka.consumer({ groupId: `environment-test-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve) => {
    void consumer.run({
      eachMessage: async ({ partition, message }) => {
        keys.add(message.key?.toString() ?? '');
        if (BigInt(message.offset) + 1n >= (remaining.get(partition) ?? 0n)) remaining.delete(partition);
        if (remaining.size === 0) resolve();
      },
    });
  });
  await consumer.disconnect();
  return keys;
}

describe('the test environment on the shared stack', () => {
  it("keeps its orders' events off ordering.orders and its workflows out of the default namespace", async () => {
    const env = inject('env');
    expect(topicsOf(env).events).toBe(`test.${ORDER_EVENTS_TOPIC}`);
    const created = await api<Order>('POST', '/orders', newCreateOrder());
    expect(created.status).toBe(201);
    const { orderId } = created.body;

    // Its own topic has the event; the catalog's topic, which real consumers read, does not.
    await stack.events.waitFor(orderId, 1);
    expect(await keysOnTopic(ORDER_EVENTS_TOPIC)).not.toContain(orderId);

    // Its own namespace has the workflow; the operators' default namespace does not.
    expect((await stack.temporal.workflow.getHandle(workflowIdForOrder(orderId)).describe()).status.name).toBe(
      'RUNNING',
    );
    const operators = new Client({ connection: await Connection.connect({ address: env.TEMPORAL_ADDRESS! }) });
    try {
      await expect(operators.workflow.getHandle(workflowIdForOrder(orderId)).describe()).rejects.toBeInstanceOf(
        WorkflowNotFoundError,
      );
    } finally {
      await operators.connection.close();
    }
    await api('POST', `/orders/${orderId}/complete`);
  });
});
