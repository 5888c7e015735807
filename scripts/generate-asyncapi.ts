// Writes asyncapi.yaml (AsyncAPI 3) from the TypeBox schemas the code validates and publishes
// with, so the document cannot drift from the code: `npm run generate:asyncapi`.
// test/unit/asyncapi.test.ts fails when the checked-in file differs from what this produces.
// What is ours beyond the Acme event catalog (src/contracts/catalog) is marked `x-beyond-catalog`.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { type TSchema, Type } from '@sinclair/typebox';
import { parse, stringify } from 'yaml';
import { DeadLetterHeader, DeadLetterReason } from '../src/commands/command-handler.js';
import {
  BEYOND_CATALOG_EVENT_SCHEMAS,
  COMMAND_MESSAGES,
  CreateOrder,
  PUBLISHED_EVENT_SCHEMAS,
} from '../src/contracts/schemas.js';
import { LIFECYCLE, PUBLIC_COMMAND_NAMES } from '../src/domain/lifecycle.js';
import { ErrorCode } from '../src/domain/order.js';
import {
  ORDER_COMMANDS_DLQ_PARTITIONS,
  ORDER_COMMANDS_DLQ_TOPIC,
  ORDER_COMMANDS_PARTITIONS,
  ORDER_COMMANDS_TOPIC,
  ORDER_EVENTS_PARTITIONS,
  ORDER_EVENTS_TOPIC,
} from '../src/kafka/index.js';
import { MAX_TRACESTATE_LENGTH } from '../src/tracing.js';

export const ASYNCAPI_PATH = fileURLToPath(new URL('../asyncapi.yaml', import.meta.url));

/**
 * The version of this document. 1.2.0: additive over 1.1.0 (the catalog head's eight lifecycle
 * events, the lifecycle commands, CreateOrder's optional deliveryAddress and deliveryMethod);
 * 1.3.0: additive over 1.2.0 (CustomerDataErased, ours). Nothing of 1.1.0 was removed or changed.
 */
export const ASYNCAPI_VERSION = '1.3.0';

const CATALOG = '../src/contracts/catalog/';
const readCatalog = (file: string) => readFileSync(new URL(`${CATALOG}${file}`, import.meta.url), 'utf8');
type CatalogSchema = { properties?: Record<string, unknown> };

/** The catalog's head AsyncAPI of the Order Service: the messages it has are the catalog's. */
const HEAD_CATALOG = parse(readCatalog('order-service.asyncapi.head.yml')) as {
  components: { messages: Record<string, unknown>; schemas: Record<string, CatalogSchema> };
};

/** The catalog v1.0.0 JSON schemas of the messages that have one (the head AsyncAPI may list fewer fields). */
const V1_CATALOG_FILES: Record<string, string> = {
  CreateOrder: 'create-order.command.schema.json',
  CancelOrder: 'cancel-order.command.schema.json',
  OrderCreated: 'order-created.event.schema.json',
  OrderCompleted: 'order-completed.event.schema.json',
  OrderCancelled: 'order-cancelled.event.schema.json',
};

/** Whether the catalog has a message of this name. */
export const inCatalog = (name: string) => Object.hasOwn(HEAD_CATALOG.components.messages, name);

/** The payload fields of a catalog message that the catalog has nowhere (neither in v1.0.0 nor in its head). */
export function fieldsBeyondCatalog(name: string, payload: TSchema): string[] {
  const file = V1_CATALOG_FILES[name];
  const theirs = new Set([
    ...Object.keys(HEAD_CATALOG.components.schemas[name]?.properties ?? {}),
    ...Object.keys(file === undefined ? {} : ((JSON.parse(readCatalog(file)) as CatalogSchema).properties ?? {})),
  ]);
  return Object.keys(payload.properties ?? {}).filter((field) => !theirs.has(field));
}

/** `x-beyond-catalog` and a description saying where a message stands against the catalog. */
function catalogStanding(name: string, payload: TSchema | null): Record<string, unknown> {
  if (payload === null) {
    return {
      description: 'Ours, beyond the Acme event catalog, which has no dead-letter channel.',
      'x-beyond-catalog': true,
    };
  }
  if (!inCatalog(name) && Object.hasOwn(BEYOND_CATALOG_EVENT_SCHEMAS, name)) {
    return {
      description:
        "Ours, beyond the Acme event catalog: its Order Service has no such event. Published on ordering.orders beside the catalog's events, through the same outbox (deduplicate by ce_id).",
      'x-beyond-catalog': true,
    };
  }
  if (!inCatalog(name)) {
    return {
      description:
        'Ours, beyond the Acme event catalog: its Order Service has no such message (its commands are CreateOrder and CancelOrder only).',
      'x-beyond-catalog': true,
    };
  }
  const extra = fieldsBeyondCatalog(name, payload);
  const where = name in V1_CATALOG_FILES ? 'catalog v1.0.0' : "catalog's head AsyncAPI";
  if (extra.length === 0) {
    return { description: `As in the Acme event ${where}.`, 'x-beyond-catalog': false };
  }
  const fields = extra.map((field) => `\`${field}\``).join(' and ');
  const optional = extra.some((field) => (payload.required as string[] | undefined)?.includes(field))
    ? ''
    : 'optional ';
  return {
    description: `As in the Acme event ${where}; the ${optional}${fields} ${extra.length === 1 ? 'is' : 'are'} ours, beyond the catalog.`,
    'x-beyond-catalog': false,
    'x-beyond-catalog-fields': extra,
  };
}

/** The message payloads, by the name of their TypeBox schema (and of their component schema). */
export const PAYLOAD_SCHEMAS: Record<string, TSchema> = {
  CreateOrder,
  ...COMMAND_MESSAGES,
  ...PUBLISHED_EVENT_SCHEMAS,
};

type EventName = keyof typeof PUBLISHED_EVENT_SCHEMAS;

/** Plain JSON: TypeBox's symbol-keyed markers dropped, no object shared between two places. */
const json = (schema: TSchema): Record<string, unknown> => JSON.parse(JSON.stringify(schema));

const KAFKA_BINDING = '0.5.0';

const eventHeaders = (type: string) =>
  Type.Object(
    {
      ce_specversion: Type.Literal('1.0', { description: 'CloudEvents specification version' }),
      ce_id: Type.String({
        format: 'uuid',
        description: 'Event id, the same on every redelivery of this event: deduplicate by it',
      }),
      ce_type: Type.Literal(type, { description: 'The event type, the name of this message' }),
      ce_source: Type.String({
        description: 'The publishing service (EVENT_SOURCE), by default /acme/ordering/order-service',
      }),
      ce_time: Type.String({ format: 'date-time', description: 'When it happened: equals the payload timestamp' }),
      ce_subject: Type.String({ format: 'uuid', description: 'The orderId' }),
      ce_traceparent: Type.Optional(
        Type.String({
          pattern: '^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$',
          description:
            'W3C traceparent: the CloudEvents distributed-tracing extension in binary mode. The trace context ' +
            'the event was committed in, for consumers to continue the trace; absent when the producer did not trace',
        }),
      ),
      ce_tracestate: Type.Optional(
        Type.String({
          maxLength: MAX_TRACESTATE_LENGTH,
          description: 'W3C tracestate of that trace context (distributed-tracing extension); only with ce_traceparent',
        }),
      ),
      'content-type': Type.Literal('application/json'),
    },
    { description: 'CloudEvents 1.0 Kafka protocol binding, binary content mode' },
  );

const commandHeaders = (type: string) =>
  Type.Object(
    {
      ce_type: Type.Literal(type, { description: 'Which command the message carries' }),
      ce_specversion: Type.Optional(Type.Literal('1.0')),
      ce_id: Type.Optional(Type.String({ description: 'Id of the command, given by its sender' })),
      ce_source: Type.Optional(Type.String({ description: 'The sending service' })),
      ce_time: Type.Optional(Type.String({ format: 'date-time' })),
      'content-type': Type.Optional(Type.Literal('application/json')),
    },
    { description: 'CloudEvents 1.0 Kafka protocol binding, binary content mode: ce_type names the command' },
  );

const H = DeadLetterHeader;
const deadLetterHeaders = Type.Object(
  {
    [H.reason]: Type.Unsafe<string>({
      type: 'string',
      enum: [...new Set([...Object.values(DeadLetterReason), ...Object.values(ErrorCode)])],
      description:
        'Stable code of why the command could not be served (the HTTP error codes, plus what is wrong with the message itself)',
    }),
    [H.message]: Type.String({ description: 'Human-readable detail of the failure' }),
    [H.details]: Type.Optional(
      Type.String({
        description:
          'JSON array of {field, code, message} when the command broke field rules, as in the HTTP error body',
      }),
    ),
    [H.originalTopic]: Type.String({ description: 'Topic the command was read from' }),
    [H.originalPartition]: Type.String({ pattern: '^[0-9]+$', description: 'Its partition' }),
    [H.originalOffset]: Type.String({ pattern: '^[0-9]+$', description: 'Its offset' }),
    [H.failedAt]: Type.String({ format: 'date-time', description: 'When the service gave up on it' }),
    [H.consumerGroup]: Type.String({ description: 'Consumer group of the service that dead-lettered it' }),
  },
  {
    description:
      'Why the command was dead-lettered, on top of the original message headers (ce_type, ...), kept as received',
    additionalProperties: true,
  },
);

/** "OrderCreated" → "Order Created". */
const titleOf = (name: string) => name.replace(/(?<=[a-z])(?=[A-Z])/g, ' ');

/** The text ending with a full stop (the catalog v1.0.0 descriptions have none, its head's have one). */
const sentence = (text: string) => (text.endsWith('.') ? text : `${text}.`);

/** Each event, titled after its name, with its schema's description as summary. */
const EVENTS = Object.fromEntries(
  (Object.entries(PUBLISHED_EVENT_SCHEMAS) as [EventName, TSchema][]).map(([name, schema]) => [
    name,
    { title: titleOf(name), summary: sentence(schema.description ?? name) },
  ]),
) as Record<EventName, { title: string; summary: string }>;

/** CreateOrder, then each command of the transition table, by its ce_type. */
const COMMANDS: Record<string, { title: string; summary: string; key: string }> = {
  CreateOrder: {
    title: 'Create Order',
    summary: 'Create a new order from a checked-out cart (as POST /orders).',
    key: 'The cartId (recommended; not required)',
  },
  ...Object.fromEntries(
    PUBLIC_COMMAND_NAMES.map((name) => {
      const command = LIFECYCLE[name];
      const type = command.commandType as string;
      const route = command.http === null ? '' : ` (as ${command.http.method} /orders/{orderId}${command.http.path})`;
      return [
        type,
        {
          title: titleOf(type),
          summary: `${command.summary}${route}.`,
          key: 'The orderId (recommended; not required)',
        },
      ];
    }),
  ),
};

const ref = (path: string) => ({ $ref: `#/${path}` });

export function buildAsyncApiDocument(): Record<string, unknown> {
  const messages: Record<string, unknown> = {};
  for (const [name, { title, summary }] of Object.entries(EVENTS) as [EventName, (typeof EVENTS)[EventName]][]) {
    messages[name] = {
      name,
      title,
      summary,
      ...catalogStanding(name, PUBLISHED_EVENT_SCHEMAS[name]),
      contentType: 'application/json',
      headers: json(eventHeaders(name)),
      payload: ref(`components/schemas/${name}`),
      bindings: {
        kafka: {
          key: { type: 'string', format: 'uuid', description: 'The orderId' },
          bindingVersion: KAFKA_BINDING,
        },
      },
    };
  }
  for (const [name, { title, summary, key }] of Object.entries(COMMANDS)) {
    messages[name] = {
      name,
      title,
      summary,
      ...catalogStanding(name, PAYLOAD_SCHEMAS[name] as TSchema),
      contentType: 'application/json',
      headers: json(commandHeaders(name)),
      payload: ref(`components/schemas/${name}`),
      bindings: { kafka: { key: { type: 'string', description: key }, bindingVersion: KAFKA_BINDING } },
    };
  }
  messages.DeadLetteredCommand = {
    name: 'DeadLetteredCommand',
    title: 'Dead-lettered command',
    summary: 'A command of ordering.commands that could not be served, with headers saying why.',
    ...catalogStanding('DeadLetteredCommand', null),
    contentType: 'application/octet-stream',
    headers: json(deadLetterHeaders),
    payload: {
      description: 'The original message value, byte for byte (it may not be JSON at all)',
    },
    bindings: {
      kafka: {
        key: { type: 'string', description: 'The key of the original message' },
        bindingVersion: KAFKA_BINDING,
      },
    },
  };

  const schemas: Record<string, unknown> = {};
  for (const [name, schema] of Object.entries(PAYLOAD_SCHEMAS)) schemas[name] = json(schema);

  const channelMessages = (names: string[]) =>
    Object.fromEntries(names.map((name) => [name, ref(`components/messages/${name}`)]));

  const operation = (action: 'send' | 'receive', channel: string, message: string, title: string, summary: string) => ({
    action,
    title,
    summary,
    channel: ref(`channels/${channel}`),
    messages: [ref(`channels/${channel}/messages/${message}`)],
  });

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Order Service',
      version: ASYNCAPI_VERSION,
      description: [
        'The event-driven interface of the Order Service, the system of record for orders:',
        'the Acme event catalog v1.0.0 (src/contracts/catalog/order-service.asyncapi.yml) and the',
        "eight lifecycle events of the catalog's head AsyncAPI (order-service.asyncapi.head.yml), plus",
        'what is ours beyond the catalog, each message marked `x-beyond-catalog: true`: every command',
        'but CreateOrder and CancelOrder, the event CustomerDataErased, and the dead-letter channel of',
        'commands. CreateOrder has the optional fields of ours listed in `x-beyond-catalog-fields`.',
        '',
        `${ASYNCAPI_VERSION} is additive over 1.2.0: CustomerDataErased, published once per order whose`,
        "customer's personal data was erased (POST /customers/{customerId}/erasure). 1.2.0 was additive over",
        "1.1.0: the new lifecycle events, the new lifecycle commands and CreateOrder's optional",
        'deliveryAddress and deliveryMethod. Nothing was removed or changed; a consumer of 1.1.0 ignores',
        'the event types it does not know.',
        '',
        'Generated from src/contracts/schemas.ts by scripts/generate-asyncapi.ts: the payload schemas',
        'are the very schemas the service validates and publishes with.',
        '',
        'Events are delivered at least once (a publish may be retried): deduplicate by `ce_id`.',
        'The same operations are served over HTTP (OpenAPI at /docs).',
      ].join('\n'),
      contact: { name: 'Ordering Platform', email: 'ordering-platform@acme.test' },
    },
    defaultContentType: 'application/json',
    servers: {
      production: { host: 'broker.acme.test:9092', protocol: 'kafka', description: 'Production Kafka cluster.' },
      local: {
        host: '127.0.0.1:9092',
        protocol: 'kafka',
        description: 'The local stack of scripts/stack.sh (KAFKA_BROKERS).',
      },
    },
    channels: {
      orderCommands: {
        address: ORDER_COMMANDS_TOPIC,
        title: 'Order commands',
        description: [
          'Commands the Order Service consumes, with the validation, idempotency and outcomes of the HTTP routes.',
          'The catalog has CreateOrder and CancelOrder; the other commands are ours (`x-beyond-catalog: true`).',
          'The `ce_type` header says which command a message carries. A command that cannot be served goes to',
          `${ORDER_COMMANDS_DLQ_TOPIC}; offsets are committed once the order workflow has accepted the command.`,
        ].join(' '),
        messages: channelMessages(Object.keys(COMMANDS)),
        bindings: {
          kafka: { topic: ORDER_COMMANDS_TOPIC, partitions: ORDER_COMMANDS_PARTITIONS, bindingVersion: KAFKA_BINDING },
        },
      },
      orderCommandsDeadLetter: {
        address: ORDER_COMMANDS_DLQ_TOPIC,
        title: 'Dead-lettered order commands',
        description:
          'Commands that could not be served (invalid JSON, schema failure, unknown type, unknown order, ' +
          'forbidden transition), as received, with headers saying why.',
        messages: channelMessages(['DeadLetteredCommand']),
        bindings: {
          kafka: {
            topic: ORDER_COMMANDS_DLQ_TOPIC,
            partitions: ORDER_COMMANDS_DLQ_PARTITIONS,
            bindingVersion: KAFKA_BINDING,
          },
        },
      },
      orderEvents: {
        address: ORDER_EVENTS_TOPIC,
        title: 'Order lifecycle events',
        description:
          'Events the Order Service publishes as orders move through their lifecycle. Keyed by orderId ' +
          '(murmur2 partitioner, as the Java client): all events of an order are on one partition, in order.',
        messages: channelMessages(Object.keys(EVENTS)),
        bindings: {
          kafka: { topic: ORDER_EVENTS_TOPIC, partitions: ORDER_EVENTS_PARTITIONS, bindingVersion: KAFKA_BINDING },
        },
      },
    },
    operations: {
      ...Object.fromEntries(
        Object.entries(COMMANDS).map(([name, { title, summary }]) => [
          `receive${name}`,
          operation('receive', 'orderCommands', name, title, summary.replace(/ \(as [^)]*\)/, '')),
        ]),
      ),
      publishDeadLetteredCommand: operation(
        'send',
        'orderCommandsDeadLetter',
        'DeadLetteredCommand',
        'Dead-letter a command',
        'Published when a command of ordering.commands cannot be served.',
      ),
      ...Object.fromEntries(
        (Object.entries(EVENTS) as [EventName, (typeof EVENTS)[EventName]][]).map(([name, { title, summary }]) => [
          `publish${name}`,
          operation('send', 'orderEvents', name, title, summary),
        ]),
      ),
    },
    components: { messages, schemas },
  };
}

const HEADER = [
  '# Generated by scripts/generate-asyncapi.ts from src/contracts/schemas.ts: do not edit.',
  '# Regenerate with `npm run generate:asyncapi` (test/unit/asyncapi.test.ts checks it is current).',
].join('\n');

/** The text of asyncapi.yaml. */
export function renderAsyncApi(): string {
  return `${HEADER}\n${stringify(buildAsyncApiDocument(), { aliasDuplicateObjects: false, lineWidth: 0 })}`;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(ASYNCAPI_PATH, renderAsyncApi());
  console.log(`wrote ${ASYNCAPI_PATH}`);
}
