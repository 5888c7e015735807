// The Python consumer of the README (examples/python-consumer/consumer.py, confluent-kafka and
// jsonschema from PyPI in .stack/python-consumer) on real events of the service: an order's
// records as the service published them are applied, a redelivery is skipped by ce_id, and
// hostile records are refused naming the field, all against the schemas of asyncapi.yaml.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { api } from '../../../test/support/api.js';
import { collectOrderEvents } from '../../../test/support/events.js';
import { newCreateOrder } from '../../../test/support/orders.js';
import { topicsOf } from '../../../test/support/stack.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CONSUMER = fileURLToPath(new URL('../consumer.py', import.meta.url));
const TOPIC = `python-consumer-test.${randomUUID().slice(0, 8)}`;

const env = inject('env');
const brokers = env.KAFKA_BROKERS!;
const kafka = new Kafka({ clientId: 'python-consumer-test', brokers: brokers.split(','), logLevel: logLevel.NOTHING });
let python: string;

beforeAll(async () => {
  python = (await run('bash', ['scripts/ensure-python-consumer.sh'], { cwd: ROOT })).stdout.trim();
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
}, 300_000);

afterAll(async () => {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics: [TOPIC] }).catch(() => undefined);
  await admin.disconnect();
});

describe('the Python consumer of the README', () => {
  it('is the one the README shows', () => {
    const readme = readFileSync(new URL('../../../README.md', import.meta.url), 'utf8');
    expect(
      readme.includes(readFileSync(CONSUMER, 'utf8')),
      'README.md shows examples/python-consumer/consumer.py',
    ).toBe(true);
  });

  it("applies the service's events, skips a redelivery, refuses hostile records naming the field", async () => {
    const events = await collectOrderEvents(brokers.split(','), topicsOf(env).events);
    let published: Awaited<ReturnType<typeof events.waitFor>>;
    try {
      const created = await api('POST', '/orders', newCreateOrder());
      expect(created.status).toBe(201);
      const { orderId } = created.body as { orderId: string };
      expect((await api('POST', `/orders/${orderId}/complete`)).status).toBe(200);
      // OrderCreated, then the completion's OrderCompleted and OrderStatusChanged.
      published = await events.waitFor(orderId, 3);
    } finally {
      await events.close();
    }
    const [first] = published;
    const hostile = (headers: Record<string, string | undefined>, value = first!.value) => ({
      key: first!.key,
      value,
      headers: Object.fromEntries(
        Object.entries({ ...first!.headers, ...headers }).filter(
          (entry): entry is [string, string] => entry[1] !== undefined,
        ),
      ),
    });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({
      topic: TOPIC,
      acks: -1,
      messages: [
        ...published.map(({ key, value, headers }) => ({ key, value, headers })),
        { key: first!.key, value: first!.value, headers: first!.headers },
        hostile({ ce_specversion: '0.3' }),
        hostile({ ce_id: undefined }),
        hostile({}, JSON.stringify({ ...first!.payload, total: 'lots' })),
        hostile({ ce_type: 'OrderShipped' }),
        hostile({}, '{"orderId":'),
      ],
    });
    await producer.disconnect();

    const asyncApi = fileURLToPath(new URL('../../../asyncapi.yaml', import.meta.url));
    const { stdout } = await run(python, [CONSUMER, brokers, TOPIC, `python-consumer-${randomUUID()}`, asyncApi, '9'], {
      timeout: 90_000,
    });
    const outcomes = stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { outcome: string; type: string; ce_id?: string; field?: string });
    expect(outcomes.map(({ outcome, type, field }) => [outcome, type, field ?? null])).toEqual([
      ...published.map((event) => ['applied', event.headers.ce_type, null]),
      ['duplicate', 'OrderCreated', null],
      ['invalid', 'OrderCreated', 'ce_specversion'],
      ['invalid', 'OrderCreated', 'ce_id'],
      ['invalid', 'OrderCreated', 'data/total'],
      ['invalid', 'OrderShipped', 'ce_type'],
      ['invalid', 'OrderCreated', 'data'],
    ]);
    expect(outcomes.slice(0, 3).map((outcome) => outcome.ce_id)).toEqual(published.map((event) => event.headers.ce_id));
  }, 150_000);
});
