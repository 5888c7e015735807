// Watches a Kafka topic from "now" on, for the benchmark: when each CloudEvent (by ce_id) is
// first seen, how many times it was seen, and which events each order key received.
import { randomUUID } from 'node:crypto';
import type { Kafka } from 'kafkajs';

export interface SeenEvent {
  ceId: string;
  ceType: string;
  orderId: string;
  /** performance.now() when this process first received it. */
  firstSeenAt: number;
  copies: number;
}

export interface EventWatch {
  /** Resolves with the time the event was first seen (immediately if it already was). */
  seen(ceId: string): Promise<number>;
  /** Every event of the topic seen since the watch started, by ce_id. */
  byCeId: Map<string, SeenEvent>;
  /** Events per order key. */
  ofOrder(orderId: string): SeenEvent[];
  /** Waits until everything written to the topic so far has been consumed (or the timeout passes); false on timeout. */
  caughtUp(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}

export async function watchTopic(kafka: Kafka, topic: string): Promise<EventWatch> {
  const admin = kafka.admin();
  await admin.connect();
  const watermarks = async () =>
    new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)]));
  const startAt = await watermarks().catch(async (error: unknown) => {
    await admin.disconnect();
    throw error;
  });
  const consumed = new Map(startAt);

  const byCeId = new Map<string, SeenEvent>();
  const byOrder = new Map<string, SeenEvent[]>();
  const waiters = new Map<string, ((at: number) => void)[]>();
  let progress: (() => void) | undefined;

  // Fetches gather up to 50 ms of events: the broker serves a few fetches a second rather than
  // one per event, and the benchmark's own reading costs the machine less. Times seen are late by
  // at most that much.
  const consumer = kafka.consumer({
    groupId: `order-bench-${randomUUID()}`,
    minBytes: 256 * 1024,
    maxWaitTimeInMs: 50,
  });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: false });
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  await consumer.run({
    partitionsConsumedConcurrently: startAt.size,
    eachBatch: async ({ batch }) => {
      const now = performance.now();
      const from = startAt.get(batch.partition) ?? 0;
      for (const message of batch.messages) {
        if (Number(message.offset) < from) continue;
        const header = (name: string) => message.headers?.[name]?.toString() ?? '';
        const ceId = header('ce_id');
        const known = byCeId.get(ceId);
        if (known !== undefined) {
          known.copies++;
          continue;
        }
        const event: SeenEvent = {
          ceId,
          ceType: header('ce_type'),
          orderId: message.key?.toString() ?? '',
          firstSeenAt: now,
          copies: 1,
        };
        byCeId.set(ceId, event);
        const list = byOrder.get(event.orderId) ?? [];
        list.push(event);
        byOrder.set(event.orderId, list);
        for (const resolve of waiters.get(ceId) ?? []) resolve(now);
        waiters.delete(ceId);
      }
      if (batch.messages.length > 0) {
        consumed.set(batch.partition, Math.max(consumed.get(batch.partition) ?? 0, Number(batch.lastOffset()) + 1));
      }
      progress?.();
    },
  });
  await joined;
  // The group is new: start each partition exactly where the topic ended before the load.
  for (const [partition, offset] of startAt) consumer.seek({ topic, partition, offset: String(offset) });

  return {
    byCeId,
    ofOrder: (orderId) => byOrder.get(orderId) ?? [],
    seen(ceId) {
      const known = byCeId.get(ceId);
      if (known !== undefined) return Promise.resolve(known.firstSeenAt);
      return new Promise((resolve) => {
        const list = waiters.get(ceId) ?? [];
        list.push(resolve);
        waiters.set(ceId, list);
      });
    },
    async caughtUp(timeoutMs) {
      const target = await watermarks();
      const deadline = Date.now() + timeoutMs;
      const behind = () => [...target].some(([partition, high]) => (consumed.get(partition) ?? 0) < high);
      while (behind()) {
        const left = deadline - Date.now();
        if (left <= 0) return false;
        // Woken by the next batch, or re-checked after a while.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.min(left, 500));
          progress = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      }
      return true;
    },
    async close() {
      await consumer.disconnect();
      await admin.disconnect();
    },
  };
}
