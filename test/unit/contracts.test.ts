// The catalog's v1.0.0 schemas are the contract: ours must say exactly what they say, save
// for the tightening keywords that bound hostile input.
import { readFileSync } from 'node:fs';
import type { TSchema } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import {
  CancelOrder,
  CreateOrder,
  Order,
  OrderCancelled,
  OrderCompleted,
  OrderCreated,
  TIGHTENING_KEYWORDS,
} from '../../src/contracts/schemas.js';

const catalog = (file: string) =>
  JSON.parse(readFileSync(new URL(`../../src/contracts/catalog/${file}`, import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;

/** Plain JSON of a schema without the tightening keywords, TypeBox's markers, or the JSON Schema dialect. */
function comparable(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(comparable);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if ((TIGHTENING_KEYWORDS as readonly string[]).includes(key) || key === '$schema') continue;
    out[key] = comparable(value);
  }
  // The catalog lists `required` in its own order; the set is what matters.
  if (Array.isArray(out.required)) out.required = [...(out.required as string[])].sort();
  return out;
}

const json = (schema: TSchema) => JSON.parse(JSON.stringify(schema)) as unknown;

describe('contracts follow the Acme event catalog v1.0.0', () => {
  it.each([
    ['CreateOrder', CreateOrder, 'create-order.command.schema.json'],
    ['CancelOrder', CancelOrder, 'cancel-order.command.schema.json'],
    ['OrderCreated', OrderCreated, 'order-created.event.schema.json'],
    ['OrderCompleted', OrderCompleted, 'order-completed.event.schema.json'],
    ['OrderCancelled', OrderCancelled, 'order-cancelled.event.schema.json'],
  ])('%s equals its catalog schema', (_name, ours, file) => {
    expect(comparable(json(ours))).toEqual(comparable(catalog(file)));
  });

  it('the GetOrder response is the catalog response plus extras', () => {
    const response = (catalog('get-order.query.schema.json').properties as Record<string, Record<string, unknown>>)
      .response as { properties: Record<string, unknown>; required: string[] };
    const ours = comparable(json(Order)) as { properties: Record<string, unknown>; required: string[] };
    for (const [name, schema] of Object.entries(response.properties)) {
      expect(ours.properties[name], name).toEqual(comparable(schema));
    }
    expect(ours.required).toEqual(expect.arrayContaining(response.required));
  });

  it('tightens requests against hostile input', () => {
    expect(CreateOrder.additionalProperties).toBe(false);
    expect(CreateOrder.properties.items.maxItems).toBeGreaterThan(0);
  });
});
