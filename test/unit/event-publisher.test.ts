// The publisher's recovery: a send that never settles, or fails, must not stop publishing for
// good (one send at a time means one stuck send would hold every later publish of the worker).
import { trace } from '@opentelemetry/api';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventPublisher } from '../../src/kafka/index.js';

type KafkaLike = Parameters<typeof createEventPublisher>[0];

interface FakeProducer {
  connects: number;
  disconnects: number;
  sent: string[];
}

/** Producers whose sendBatch does what `behaviour(producerNumber)` says: hang, fail, or succeed. */
function fakeKafka(behaviour: (producer: number) => 'hang' | 'fail' | 'ok') {
  const producers: FakeProducer[] = [];
  const kafka = {
    producer() {
      const number = producers.length;
      const state: FakeProducer = { connects: 0, disconnects: 0, sent: [] };
      producers.push(state);
      return {
        async connect() {
          state.connects += 1;
        },
        async disconnect() {
          state.disconnects += 1;
        },
        sendBatch({ topicMessages }: { topicMessages: { messages: { key: string }[] }[] }) {
          const mode = behaviour(number);
          if (mode === 'hang') return new Promise(() => undefined);
          if (mode === 'fail') return Promise.reject(new Error('There is no leader for this topic-partition'));
          for (const { messages } of topicMessages) state.sent.push(...messages.map(({ key }) => key));
          return Promise.resolve([]);
        },
      };
    },
  } as unknown as KafkaLike;
  return { kafka, producers };
}

const silent = { info() {}, warn() {}, error() {} };
const message = (key: string) => ({ key, value: '{}', headers: {} });

describe('event publisher recovery', () => {
  it('fails a send that never settles at its deadline, then publishes through a new producer', async () => {
    const { kafka, producers } = fakeKafka((producer) => (producer === 0 ? 'hang' : 'ok'));
    const publisher = await createEventPublisher(kafka, silent, { sendTimeoutMs: 50 });
    await expect(publisher.publish('t', message('a'))).rejects.toThrow(/send timed out after 50 ms/);
    await publisher.publish('t', message('b'));
    await publisher.publish('t', message('c'));
    expect(producers).toHaveLength(2);
    expect(producers[0]!.disconnects).toBe(1);
    expect(producers[1]!.sent).toEqual(['b', 'c']);
    await publisher.close();
  });

  it('replaces the producer after a failed send; publishes queued behind it are not held', async () => {
    const { kafka, producers } = fakeKafka((producer) => (producer < 2 ? 'fail' : 'ok'));
    const publisher = await createEventPublisher(kafka, silent, { sendTimeoutMs: 1_000 });
    const results = await Promise.allSettled([
      publisher.publish('t', message('a')),
      publisher.publish('t', message('b')),
    ]);
    expect(results.map(({ status }) => status)).toEqual(['rejected', 'rejected']);
    // 'a' went alone (the flush starts at once), 'b' in the next batch, each on its own producer.
    await publisher.publish('t', message('c'));
    expect(producers.map(({ connects, disconnects }) => [connects, disconnects])).toEqual([
      [1, 1],
      [1, 1],
      [1, 0],
    ]);
    expect(producers[2]!.sent).toEqual(['c']);
    await expect(results[1]).toMatchObject({
      reason: expect.objectContaining({ message: expect.stringMatching(/no leader/) }),
    });
  });

  it('connects at creation, so a broker that cannot be reached fails the start', async () => {
    const kafka = {
      producer: () => ({
        connect: () => Promise.reject(new Error('SASL SCRAM SHA512 authentication failed')),
        disconnect: () => Promise.resolve(),
      }),
    } as unknown as KafkaLike;
    await expect(createEventPublisher(kafka, silent)).rejects.toThrow(/authentication failed/);
  });
});

describe('event publisher spans', () => {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  beforeAll(() => {
    trace.setGlobalTracerProvider(provider);
  });
  afterAll(async () => {
    trace.disable();
    await provider.shutdown();
  });

  it('makes a send span per message only when tracing is on (off: no span work at all)', async () => {
    const { kafka } = fakeKafka(() => 'ok');
    const untraced = await createEventPublisher(kafka, silent);
    await untraced.publish('ordering.orders', message('a'));
    expect(exporter.getFinishedSpans()).toHaveLength(0);
    const traced = await createEventPublisher(kafka, silent, { traced: true });
    await traced.publish('ordering.orders', message('b'));
    expect(exporter.getFinishedSpans().map((span) => span.name)).toEqual(['send ordering.orders']);
    await Promise.all([untraced.close(), traced.close()]);
  });
});
