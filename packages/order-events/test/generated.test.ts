// The kit's types and schemas are generated from the service's asyncapi.yaml: the checked-in
// file is what the generator produces now, and it has every event of ordering.orders.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { ASYNCAPI_PATH, GENERATED_PATH, renderGenerated } from '../scripts/generate.js';
import { ASYNCAPI_VERSION, HEADERS_SCHEMA, ORDER_EVENT_TYPES, PAYLOAD_SCHEMAS } from '../src/generated/order-events.js';

const asyncApi = parse(readFileSync(ASYNCAPI_PATH, 'utf8'));

describe('src/generated/order-events.ts', () => {
  it('is what scripts/generate.ts produces from asyncapi.yaml now (run `npm run generate -w @acme/order-events`)', () => {
    expect(readFileSync(GENERATED_PATH, 'utf8')).toBe(renderGenerated());
  });

  it('has the twelve events of ordering.orders (the catalog’s eleven and CustomerDataErased) with the schemas of the document', () => {
    expect(ORDER_EVENT_TYPES).toHaveLength(12);
    expect(ORDER_EVENT_TYPES).toEqual(Object.keys(asyncApi.channels.orderEvents.messages));
    expect(ASYNCAPI_VERSION).toBe(asyncApi.info.version);
    for (const type of ORDER_EVENT_TYPES) {
      expect(PAYLOAD_SCHEMAS[type], type).toEqual(asyncApi.components.schemas[type]);
      // The common headers schema is each event's, ce_type aside.
      const { ce_type: ceType, ...headers } = asyncApi.components.messages[type].headers.properties;
      expect(ceType.const).toBe(type);
      expect({
        ...HEADERS_SCHEMA,
        properties: { ...(HEADERS_SCHEMA.properties as object), ce_type: undefined },
      }).toEqual({
        ...asyncApi.components.messages[type].headers,
        properties: { ...headers, ce_type: undefined },
      });
    }
  });

  it('fails on a document it cannot express instead of dropping a rule', () => {
    const text = readFileSync(ASYNCAPI_PATH, 'utf8').replace(
      /(\n {4}OrderCompleted:\n {6}title: OrderCompleted\n)/,
      '$1      oneOf: []\n',
    );
    expect(text).not.toBe(readFileSync(ASYNCAPI_PATH, 'utf8'));
    expect(() => renderGenerated(text)).toThrow(/OrderCompleted: JSON Schema keyword oneOf is not supported/);
  });
});
