// Writes src/generated/order-events.ts from the service's asyncapi.yaml (the document the
// service generates from the schemas it publishes with): the eleven event types of the
// ordering.orders channel, their payload interfaces, and the JSON Schemas of their headers and
// payloads that the validators compile. `npm run generate -w @acme/order-events`;
// test/generated.test.ts fails when the checked-in file differs from what this produces.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parse } from 'yaml';

export const ASYNCAPI_PATH = fileURLToPath(new URL('../../../asyncapi.yaml', import.meta.url));
export const GENERATED_PATH = fileURLToPath(new URL('../src/generated/order-events.ts', import.meta.url));
const BIOME = fileURLToPath(new URL('../../../node_modules/.bin/biome', import.meta.url));

/** The JSON Schema keywords the event schemas use (the generator refuses others rather than drop them). */
interface JsonSchema {
  type?: 'object' | 'string' | 'integer' | 'number' | 'boolean' | 'array';
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  enum?: (string | number)[];
  const?: string | number;
  description?: string;
  [keyword: string]: unknown;
}

interface AsyncApi {
  info: { version: string };
  channels: Record<string, { address: string; messages: Record<string, { $ref: string }> }>;
  components: {
    messages: Record<string, { summary: string; headers: JsonSchema; payload: { $ref: string } }>;
    schemas: Record<string, JsonSchema>;
  };
}

const KNOWN_KEYWORDS = new Set([
  'type',
  'properties',
  'required',
  'items',
  'enum',
  'const',
  'description',
  'title',
  'format',
  'pattern',
  'minimum',
  'maximum',
  'minLength',
  'maxLength',
  'minItems',
  'maxItems',
  'uniqueItems',
  'additionalProperties',
]);

const literal = (value: string | number) =>
  typeof value === 'string' ? `'${value.replace(/'/g, "\\'")}'` : String(value);

const doc = (description: string | undefined) =>
  description === undefined ? '' : `/** ${description.replace(/\*\//g, '*\\/')} */\n`;

/** The TypeScript type of a JSON Schema. */
export function typeOf(schema: JsonSchema, where: string): string {
  for (const keyword of Object.keys(schema)) {
    if (!KNOWN_KEYWORDS.has(keyword)) throw new Error(`${where}: JSON Schema keyword ${keyword} is not supported`);
  }
  if (schema.const !== undefined) return literal(schema.const);
  if (schema.enum !== undefined) return schema.enum.map(literal).join(' | ');
  switch (schema.type) {
    case 'string':
      return 'string';
    case 'integer':
    case 'number':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'array':
      return `Array<${typeOf(schema.items ?? {}, `${where}/items`)}>`;
    case 'object': {
      const required = new Set(schema.required ?? []);
      const fields = Object.entries(schema.properties ?? {}).map(
        ([name, property]) =>
          `${doc(property.description)}${/^[A-Za-z_$][\w$]*$/.test(name) ? name : `'${name}'`}${required.has(name) ? '' : '?'}: ${typeOf(property, `${where}/${name}`)};`,
      );
      return `{\n${fields.join('\n')}\n}`;
    }
    default:
      throw new Error(`${where}: a schema without a type`);
  }
}

/** The channel whose address is ordering.orders, and its messages with their payload and headers schemas. */
export function eventsOf(asyncApi: AsyncApi) {
  const channel = Object.values(asyncApi.channels).find((candidate) => candidate.address === 'ordering.orders');
  if (channel === undefined) throw new Error('asyncapi.yaml has no channel ordering.orders');
  return Object.values(channel.messages).map(({ $ref }) => {
    const name = $ref.split('/').pop()!;
    const message = asyncApi.components.messages[name];
    if (message === undefined) throw new Error(`asyncapi.yaml: ${$ref} does not resolve`);
    const payload = asyncApi.components.schemas[message.payload.$ref.split('/').pop()!];
    if (payload === undefined) throw new Error(`asyncapi.yaml: ${message.payload.$ref} does not resolve`);
    return { name, summary: message.summary, headers: message.headers, payload, address: channel.address };
  });
}

/** The headers schema common to every event, `ce_type` an enum of them; throws when the events' schemas differ otherwise. */
export function headersSchemaOf(events: ReturnType<typeof eventsOf>): JsonSchema {
  const withoutType = ({ properties, ...rest }: JsonSchema) =>
    JSON.stringify({ ...rest, properties: { ...properties, ce_type: undefined } });
  const [first, ...others] = events;
  if (first === undefined) throw new Error('asyncapi.yaml: ordering.orders has no messages');
  for (const { name, headers } of [first, ...others]) {
    if (withoutType(headers) !== withoutType(first.headers)) {
      throw new Error(`asyncapi.yaml: the headers of ${name} differ from those of ${first.name} beyond ce_type`);
    }
    if (headers.properties?.ce_type?.const !== name)
      throw new Error(`asyncapi.yaml: ce_type of ${name} is not ${name}`);
  }
  const { const: _one, ...ceType } = first.headers.properties?.ce_type ?? {};
  return {
    ...first.headers,
    properties: { ...first.headers.properties, ce_type: { ...ceType, enum: events.map(({ name }) => name) } },
  };
}

/** The text of src/generated/order-events.ts, formatted as Biome formats it. */
export function renderGenerated(asyncApiText = readFileSync(ASYNCAPI_PATH, 'utf8')): string {
  const asyncApi = parse(asyncApiText) as AsyncApi;
  const events = eventsOf(asyncApi);
  const names = events.map(({ name }) => name);
  const [first] = events;
  if (first === undefined) throw new Error('asyncapi.yaml: ordering.orders has no messages');
  const headerFields = typeOf(
    { ...first.headers, properties: { ...first.headers.properties, ce_type: { type: 'string' } } },
    'headers',
  ).replace('ce_type: string;', 'ce_type: OrderEventType;');
  const source = [
    '// Generated by packages/order-events/scripts/generate.ts from asyncapi.yaml: do not edit.',
    '// Regenerate with `npm run generate -w @acme/order-events` (test/generated.test.ts checks it is current).',
    '',
    `/** The version of the service's AsyncAPI document these types were generated from. */`,
    `export const ASYNCAPI_VERSION = ${literal(asyncApi.info.version)};`,
    '',
    '/** The topic of order lifecycle events (before any environment prefix). */',
    `export const ORDER_EVENTS_TOPIC = ${literal(first.address)};`,
    '',
    '/** Every event type of the topic, as its `ce_type` header names it. */',
    `export const ORDER_EVENT_TYPES = [${names.map(literal).join(', ')}] as const;`,
    'export type OrderEventType = (typeof ORDER_EVENT_TYPES)[number];',
    '',
    ...events.map(({ name, summary, payload }) => `${doc(summary)}export interface ${name} ${typeOf(payload, name)}\n`),
    '/** The payload of each event type. */',
    `export interface OrderEventPayloads {\n${names.map((name) => `${name}: ${name};`).join('\n')}\n}`,
    '',
    `${doc(first.headers.description)}export interface OrderEventHeaders ${headerFields}`,
    '',
    '/**',
    ' * The JSON Schema of the Kafka headers of every event type (CloudEvents binary mode): the',
    " * document's header schema of each event, the same for all but ce_type, which must name a type.",
    ' */',
    `export const HEADERS_SCHEMA: Record<string, unknown> = ${JSON.stringify(headersSchemaOf(events))};`,
    '',
    '/** The JSON Schema of the payload (the Kafka value) of each event type. */',
    `export const PAYLOAD_SCHEMAS: Record<OrderEventType, Record<string, unknown>> = ${JSON.stringify(
      Object.fromEntries(events.map(({ name, payload }) => [name, payload])),
    )};`,
    '',
  ].join('\n');
  return execFileSync(BIOME, ['format', `--stdin-file-path=${GENERATED_PATH}`], { input: source, encoding: 'utf8' });
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  writeFileSync(GENERATED_PATH, renderGenerated());
  console.log(`wrote ${GENERATED_PATH}`);
}
