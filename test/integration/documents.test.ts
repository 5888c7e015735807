// The contracts as documents, against the running service: the OpenAPI document it serves is
// valid OpenAPI 3 and describes the order routes, and every event on ordering.orders is valid
// against its payload (and headers) in asyncapi.yaml.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Validator } from '@seriousme/openapi-schema-validator';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import { CreateOrder, ErrorBody, Order, PUBLISHED_EVENT_SCHEMAS } from '../../src/contracts/schemas.js';
import { LIFECYCLE, ORDER_STATUSES } from '../../src/domain/lifecycle.js';
import { validateCreateOrder } from '../../src/domain/order.js';
import { api } from '../support/api.js';
import { newCreateOrder } from '../support/orders.js';
import { topicsOf } from '../support/stack.js';

const json = (schema: unknown) => JSON.parse(JSON.stringify(schema));

describe('OpenAPI document at /docs/json', () => {
  let spec: any;

  beforeAll(async () => {
    const response = await fetch(`${inject('apiUrl')}/docs/json`);
    expect(response.status).toBe(200);
    const raw = (await response.json()) as Record<string, unknown>;
    const validator = new Validator();
    const result = await validator.validate(raw);
    expect(result.errors ?? [], JSON.stringify(result.errors)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toMatch(/^3\./);
    spec = validator.resolveRefs();
  });

  it('is valid OpenAPI 3 with a bearer security scheme', () => {
    expect(spec.openapi).toMatch(/^3\./);
    expect(spec.components.securitySchemes.bearer).toEqual({ type: 'http', scheme: 'bearer' });
  });

  const operations = [
    ['post', '/orders'],
    ['get', '/orders/{orderId}'],
    ['post', '/orders/{orderId}/cancel'],
    ['post', '/orders/{orderId}/complete'],
    ['post', '/orders/{orderId}/resume'],
    ['get', '/orders/{orderId}/history'],
  ] as const;

  it.each(operations)('lists %s %s, bearer-protected, with its error responses', (method, path) => {
    const operation = spec.paths[path]?.[method];
    expect(operation, `${method} ${path}`).toBeDefined();
    expect(operation.security).toEqual([{ bearer: [] }]);
    for (const status of ['400', '401', '403', '404', '409', '500']) {
      expect(operation.responses[status]?.content['application/json'].schema, status).toMatchObject(json(ErrorBody));
    }
    if (path.includes('{orderId}')) {
      expect(operation.parameters).toContainEqual(
        expect.objectContaining({
          name: 'orderId',
          in: 'path',
          required: true,
          schema: expect.objectContaining({ format: 'uuid' }),
        }),
      );
    }
  });

  it('describes the request and response bodies with the contract schemas', () => {
    const body = (method: string, path: string) => spec.paths[path][method].requestBody?.content['application/json'];
    const response = (method: string, path: string, status: string) =>
      spec.paths[path][method].responses[status]?.content['application/json'].schema;

    expect(body('post', '/orders').schema).toMatchObject(json(CreateOrder));
    expect(spec.paths['/orders'].post.requestBody.required).toBe(true);
    expect(response('post', '/orders', '201')).toMatchObject({
      type: 'object',
      required: json(Order).required,
      properties: expect.objectContaining({ orderId: expect.objectContaining({ format: 'uuid' }) }),
    });
    expect(response('post', '/orders', '202')).toMatchObject({ required: ['orderId', 'status', 'message'] });

    expect(body('post', '/orders/{orderId}/cancel').schema).toMatchObject(json(LIFECYCLE.cancel.payloadSchema));
    for (const [method, path] of operations.slice(1).filter(([, path]) => !path.endsWith('/history'))) {
      expect(response(method, path, '200'), `${method} ${path}`).toMatchObject({
        required: json(Order).required,
        properties: expect.objectContaining({
          status: { type: 'string', enum: [...ORDER_STATUSES] },
        }),
      });
    }
    expect(spec.paths['/orders/{orderId}/complete'].post.requestBody).toBeUndefined();
  });

  it('states the rules the API enforces that JSON Schema can say', () => {
    const createOrder = spec.paths['/orders'].post.requestBody.content['application/json'].schema;
    expect(createOrder.properties.items).toMatchObject({ minItems: 1, maxItems: 500 });

    const parameters = spec.paths['/orders'].get.parameters as { name: string; required?: boolean }[];
    const limit = parameters.find((parameter) => parameter.name === 'limit');
    expect(limit).toMatchObject({ in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 } });
    // A parameter with a default is not required: the API fills it in.
    expect(parameters.filter((parameter) => parameter.required === true)).toEqual([]);
    for (const name of ['createdFrom', 'createdTo']) {
      expect(
        parameters.find((parameter) => parameter.name === name),
        name,
      ).toMatchObject({
        schema: { format: 'date-time' },
        description: expect.stringContaining('any offset'),
      });
    }
  });

  it('lists every status a route can answer: 414 for an overlong id, 413 and 415 for a POST body', () => {
    for (const [path, methods] of Object.entries<Record<string, any>>(spec.paths)) {
      for (const [method, operation] of Object.entries<any>(methods)) {
        const statuses = Object.keys(operation.responses);
        if (path.includes('{orderId}')) expect(statuses, `${method} ${path}`).toContain('414');
        if (method === 'post') expect(statuses, `${method} ${path}`).toEqual(expect.arrayContaining(['413', '415']));
      }
    }
  });

  it('gives POST /orders an example that the API would accept', () => {
    const example = spec.paths['/orders'].post.requestBody.content['application/json'].example;
    const ajv = addFormats.default(new Ajv({ strict: false }));
    expect(ajv.validate(json(CreateOrder), example), ajv.errorsText()).toBe(true);
    expect(validateCreateOrder(example)).toEqual([]);
  });
});

interface KafkaEvent {
  topic: string;
  partition: number;
  offset: string;
  key: string;
  headers: Record<string, string>;
  value: string;
}

const asyncapi = parse(readFileSync(new URL('../../asyncapi.yaml', import.meta.url), 'utf8')) as any;
const ajv = addFormats.default(new Ajv({ allErrors: true, strict: false }));
/** Resolves the document's local `$ref`s (the payloads point at components/schemas). */
const deref = (node: any): any =>
  typeof node?.$ref === 'string'
    ? deref(
        node.$ref
          .replace(/^#\//, '')
          .split('/')
          .reduce((at: any, key: string) => at[key], asyncapi),
      )
    : node;

/** Payload and header validators of each message of the channel at `address`, by message name (= ce_type). */
function messageValidators(address: string): Map<string, { payload: ValidateFunction; headers: ValidateFunction }> {
  const channel = Object.values<any>(asyncapi.channels).find((candidate) => candidate.address === address);
  const validators = new Map<string, { payload: ValidateFunction; headers: ValidateFunction }>();
  for (const [name, reference] of Object.entries<any>(channel.messages)) {
    const message = deref(reference);
    validators.set(name, { payload: ajv.compile(deref(message.payload)), headers: ajv.compile(message.headers) });
  }
  return validators;
}

const kafkaHeaders = (headers: Record<string, unknown> | undefined) =>
  Object.fromEntries(Object.entries(headers ?? {}).map(([name, value]) => [name, String(value)]));

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('events on ordering.orders', () => {
  const validators = messageValidators('ordering.orders');
  const seen: KafkaEvent[] = [];
  const consumed = new Map<number, bigint>();
  let kafka: Kafka;
  let consumer: ReturnType<Kafka['consumer']>;

  beforeAll(async () => {
    kafka = new Kafka({
      clientId: 'documents-test',
      brokers: inject('env').KAFKA_BROKERS!.split(','),
      logLevel: logLevel.NOTHING,
    });
    consumer = kafka.consumer({ groupId: `documents-test-${randomUUID()}` });
    await consumer.connect();
    await consumer.subscribe({ topic: topicsOf(inject('env')).events, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ topic, partition, message }) => {
        seen.push({
          topic,
          partition,
          offset: message.offset,
          key: message.key?.toString('utf8') ?? '',
          headers: kafkaHeaders(message.headers),
          value: message.value?.toString('utf8') ?? '',
        });
        consumed.set(partition, BigInt(message.offset) + 1n);
      },
    });
  });

  afterAll(async () => {
    await consumer?.disconnect();
  });

  function problemsOf(event: KafkaEvent): string[] {
    const type = event.headers.ce_type ?? '(no ce_type)';
    const validate = validators.get(type);
    if (validate === undefined) return [`${type}: not a message of ordering.orders in asyncapi.yaml`];
    const problems: string[] = [];
    let payload: any;
    try {
      payload = JSON.parse(event.value);
    } catch {
      return [`${type}: value is not JSON`];
    }
    if (!validate.payload(payload)) problems.push(`payload: ${ajv.errorsText(validate.payload.errors)}`);
    if (!validate.headers(event.headers)) problems.push(`headers: ${ajv.errorsText(validate.headers.errors)}`);
    if (event.key !== payload?.orderId || event.headers.ce_subject !== payload?.orderId) {
      problems.push(`key ${event.key} and ce_subject ${event.headers.ce_subject} must be the orderId`);
    }
    return problems.map((problem) => `${event.partition}@${event.offset} ${type}: ${problem}`);
  }

  it('of orders created, completed and cancelled here, validate against asyncapi.yaml', async () => {
    const completed = await api('POST', '/orders', newCreateOrder());
    const cancelled = await api(
      'POST',
      '/orders',
      newCreateOrder({ items: [{ productId: randomUUID(), quantity: 3, unitPrice: 700 }], total: 2100 }),
    );
    expect(completed.status).toBe(201);
    expect(cancelled.status).toBe(201);
    expect((await api('POST', `/orders/${completed.body.orderId}/complete`)).status).toBe(200);
    expect((await api('POST', `/orders/${cancelled.body.orderId}/cancel`, { reason: 'FRAUD' })).status).toBe(200);

    const ofOrder = (orderId: string) => seen.filter((event) => event.key === orderId);
    await waitUntil(
      () => ofOrder(completed.body.orderId).length >= 3 && ofOrder(cancelled.body.orderId).length >= 3,
      'the events of both orders',
    );
    const mine = [...ofOrder(completed.body.orderId), ...ofOrder(cancelled.body.orderId)];
    expect(mine.map((event) => event.headers.ce_type)).toEqual([
      'OrderCreated',
      'OrderCompleted',
      'OrderStatusChanged',
      'OrderCreated',
      'OrderCancelled',
      'OrderStatusChanged',
    ]);
    expect(mine.flatMap(problemsOf)).toEqual([]);
  });

  it('every event on the topic so far (this run and before) validates against asyncapi.yaml', async () => {
    const admin = kafka.admin();
    await admin.connect();
    const ends = await admin.fetchTopicOffsets(topicsOf(inject('env')).events).finally(() => admin.disconnect());
    await waitUntil(
      () => ends.every(({ partition, high }) => (consumed.get(partition) ?? 0n) >= BigInt(high)),
      'the consumer to reach the end of ordering.orders',
      60_000,
    );
    expect(seen.length).toBeGreaterThanOrEqual(4);
    const types = new Set(seen.map((event) => event.headers.ce_type));
    for (const type of ['OrderCreated', 'OrderCompleted', 'OrderCancelled']) expect(types).toContain(type);
    for (const type of types) expect(Object.keys(PUBLISHED_EVENT_SCHEMAS)).toContain(type);
    expect(seen.flatMap(problemsOf)).toEqual([]);
  });
});

describe('dead letters on ordering.commands.dlq', () => {
  it('carry the headers asyncapi.yaml promises, with the command as it was sent', async () => {
    const { headers: validate } = messageValidators('ordering.commands.dlq').get('DeadLetteredCommand')!;
    // The test environment's topics (KAFKA_TOPIC_PREFIX); asyncapi.yaml names them without it.
    const topics = topicsOf(inject('env'));
    const kafka = new Kafka({
      clientId: 'documents-test',
      brokers: inject('env').KAFKA_BROKERS!.split(','),
      logLevel: logLevel.NOTHING,
    });
    const letters: { headers: Record<string, string>; key: string; value: string }[] = [];
    const consumer = kafka.consumer({ groupId: `documents-test-${randomUUID()}` });
    const producer = kafka.producer();
    try {
      await consumer.connect();
      await consumer.subscribe({ topic: topics.deadLetters, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ message }) => {
          letters.push({
            headers: kafkaHeaders(message.headers),
            key: message.key?.toString('utf8') ?? '',
            value: message.value?.toString('utf8') ?? '',
          });
        },
      });
      await producer.connect();
      const key = randomUUID();
      const value = '{"orderId": "not JSON after all';
      const [sent] = await producer.send({
        topic: topics.commands,
        messages: [{ key, value, headers: { ce_type: 'CompleteOrder', ce_id: key } }],
      });

      const mine = () =>
        letters.filter(
          (letter) =>
            letter.headers.dlq_original_partition === String(sent!.partition) &&
            letter.headers.dlq_original_offset === sent!.baseOffset,
        );
      await waitUntil(() => mine().length > 0, 'the dead letter of the malformed command');
      for (const letter of mine()) {
        expect(validate(letter.headers), ajv.errorsText(validate.errors)).toBe(true);
        expect(letter).toMatchObject({ key, value, headers: { ce_type: 'CompleteOrder', ce_id: key } });
        expect(letter.headers.dlq_reason).toBe('MALFORMED_JSON');
        expect(letter.headers.dlq_original_topic).toBe(topics.commands);
      }
    } finally {
      await producer.disconnect();
      await consumer.disconnect();
    }
  });
});
