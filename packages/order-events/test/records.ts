// Test records of ordering.orders as the service publishes them (CloudEvents binary mode), with
// a valid payload of any event type made from its generated schema.
import { randomUUID } from 'node:crypto';
import { type OrderEventType, PAYLOAD_SCHEMAS } from '../src/generated/order-events.js';
import type { KafkaRecord } from '../src/parse.js';

interface Schema {
  type?: string;
  const?: unknown;
  enum?: unknown[];
  format?: string;
  pattern?: string;
  minimum?: number;
  minItems?: number;
  items?: Schema;
  properties?: Record<string, Schema>;
}

/** A value of each pattern the event schemas use. */
const PATTERN_EXAMPLES: Record<string, string> = {
  '^[A-Z]{3}$': 'EUR',
  '^[A-Z]{2}$': 'DE',
  '^ORD-[0-9]{8}$': 'ORD-00000042',
  '^[a-f0-9]{64}$': 'a'.repeat(64),
};

/** A valid instance of `schema`, every optional field filled in. */
export function exampleOf(schema: Schema): unknown {
  if (schema.const !== undefined) return schema.const;
  if (schema.enum !== undefined) return schema.enum[0];
  switch (schema.type) {
    case 'string':
      if (schema.format === 'uuid') return randomUUID();
      if (schema.format === 'date-time') return new Date().toISOString();
      if (schema.pattern !== undefined) {
        const example = PATTERN_EXAMPLES[schema.pattern];
        if (example === undefined) throw new Error(`no example of pattern ${schema.pattern}`);
        return example;
      }
      return 'x';
    case 'integer':
    case 'number':
      return Math.max(schema.minimum ?? 1, 1);
    case 'boolean':
      return true;
    case 'array':
      return Array.from({ length: Math.max(schema.minItems ?? 1, 1) }, () => exampleOf(schema.items ?? {}));
    case 'object':
      return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([name, sub]) => [name, exampleOf(sub)]));
    default:
      throw new Error(`no example of ${JSON.stringify(schema)}`);
  }
}

export function payloadOf(type: OrderEventType, orderId: string = randomUUID()): Record<string, unknown> {
  return { ...(exampleOf(PAYLOAD_SCHEMAS[type] as Schema) as Record<string, unknown>), orderId };
}

/** A record of `payload` (an object, or raw text) with the headers the service sends, overridden by `headers` (undefined drops one). */
export function recordOf(
  type: string,
  payload: Record<string, unknown> | string,
  headers: Record<string, string | undefined> = {},
): KafkaRecord & { headers: Record<string, Buffer> } {
  const orderId = typeof payload === 'string' ? randomUUID() : String(payload.orderId);
  const all: Record<string, string | undefined> = {
    ce_specversion: '1.0',
    ce_id: randomUUID(),
    ce_type: type,
    ce_source: '/acme/ordering/order-service',
    ce_time: new Date().toISOString(),
    ce_subject: orderId,
    'content-type': 'application/json',
    ...headers,
  };
  const present = Object.entries(all).filter((entry): entry is [string, string] => entry[1] !== undefined);
  return {
    key: Buffer.from(orderId),
    value: Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload)),
    headers: Object.fromEntries(present.map(([name, value]) => [name, Buffer.from(value)])),
  };
}
