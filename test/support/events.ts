// A consumer of ordering.orders for tests: reads the topic through a consumer group of its
// own and keeps every event, so tests can wait for an order's events and inspect them.
import { randomUUID } from 'node:crypto';
import { Kafka, logLevel } from 'kafkajs';
import { ensureTopics, ORDER_EVENTS_PARTITIONS } from '../../src/kafka/index.js';

export interface SeenEvent {
  key: string;
  partition: number;
  headers: Record<string, string>;
  value: string;
  payload: Record<string, unknown>;
}

/** Collects the events of `topic`: an environment's ordering.orders (test/support/stack.ts topicsOf). */
export async function collectOrderEvents(brokers: string[], topic: string) {
  const kafka = new Kafka({ clientId: 'order-tests', brokers, logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `order-tests-${randomUUID()}` });
  const events: SeenEvent[] = [];
  // On a clean clone the environment's topic may not exist yet (its worker creates it at start):
  // subscribing to a missing topic fails, so it is created as the worker would create it.
  await ensureTopics(kafka, [{ topic, numPartitions: ORDER_EVENTS_PARTITIONS }]);
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ message, partition }) => {
      const headers: Record<string, string> = {};
      for (const [name, value] of Object.entries(message.headers ?? {})) headers[name] = String(value);
      const value = message.value?.toString('utf8') ?? '';
      events.push({ key: message.key?.toString('utf8') ?? '', partition, headers, value, payload: JSON.parse(value) });
    },
  });

  const ofOrder = (orderId: string) => events.filter((event) => event.key === orderId);
  return {
    events,
    ofOrder,
    /** Waits until the order has at least `count` events on the topic. */
    async waitFor(orderId: string, count: number, timeoutMs = 30_000): Promise<SeenEvent[]> {
      const deadline = Date.now() + timeoutMs;
      while (ofOrder(orderId).length < count) {
        if (Date.now() > deadline) {
          throw new Error(`order ${orderId}: ${ofOrder(orderId).length} of ${count} events after ${timeoutMs} ms`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return ofOrder(orderId);
    },
    close: () => consumer.disconnect(),
  };
}
