// The Acme event catalog is the contract: its v1.0.0 schemas for the commands, OrderCreated,
// OrderCompleted, OrderCancelled and GetOrder, and its head AsyncAPI for the eight lifecycle
// events added since. Ours must say exactly what they say, save for the tightening keywords
// that bound hostile input (requests only) and the additions of ours named here.
import { readFileSync } from 'node:fs';
import type { TSchema } from '@sinclair/typebox';
import { describe, expect, it } from 'vitest';
import {
  CancelOrder,
  COMMAND_MESSAGES,
  CreateOrder,
  EVENT_SCHEMAS,
  Order,
  OrderCancelled,
  OrderCompleted,
  OrderCreated,
  TIGHTENING_KEYWORDS,
  V1_EVENT_TYPES,
} from '../../src/contracts/schemas.js';
import { HEAD_EVENT_TYPES, headAsyncApi, headCatalogSchemas } from '../support/catalog.js';

const catalog = (file: string) =>
  JSON.parse(readFileSync(new URL(`../../src/contracts/catalog/${file}`, import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;

type Schema = { properties: Record<string, Record<string, unknown>>; required: string[] } & Record<string, unknown>;

/**
 * Plain JSON of a schema without the `ignored` keywords (by default the tightening ones), TypeBox's
 * markers, or the JSON Schema dialect.
 */
function comparable(schema: unknown, ignored: readonly string[] = TIGHTENING_KEYWORDS): unknown {
  if (Array.isArray(schema)) return schema.map((item) => comparable(item, ignored));
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (ignored.includes(key) || key === '$schema') continue;
    out[key] = comparable(value, ignored);
  }
  // The catalog lists `required` in its own order; the set is what matters.
  if (Array.isArray(out.required)) out.required = [...(out.required as string[])].sort();
  return out;
}

const json = (schema: TSchema) => JSON.parse(JSON.stringify(schema)) as unknown;

/** The optional fields CreateOrder has beyond the catalog v1.0.0 (the head AsyncAPI has none either). */
const CREATE_ORDER_EXTENSIONS = ['deliveryAddress', 'deliveryMethod'];

/** The channel of the head AsyncAPI at `address`, by its message names. */
const headMessagesOf = (address: string) =>
  Object.keys(Object.values(headAsyncApi.channels).find((channel) => channel.address === address)?.messages ?? {});

describe('contracts follow the Acme event catalog v1.0.0', () => {
  it.each([
    ['CancelOrder', CancelOrder, 'cancel-order.command.schema.json'],
    ['OrderCreated', OrderCreated, 'order-created.event.schema.json'],
    ['OrderCompleted', OrderCompleted, 'order-completed.event.schema.json'],
    ['OrderCancelled', OrderCancelled, 'order-cancelled.event.schema.json'],
  ])('%s equals its catalog schema', (_name, ours, file) => {
    expect(comparable(json(ours))).toEqual(comparable(catalog(file)));
  });

  it('CreateOrder equals its catalog schema plus our optional deliveryAddress and deliveryMethod', () => {
    const ours = comparable(json(CreateOrder)) as Schema;
    const v1Properties = Object.fromEntries(
      Object.entries(ours.properties).filter(([name]) => !CREATE_ORDER_EXTENSIONS.includes(name)),
    );
    expect({ ...ours, properties: v1Properties }).toEqual(comparable(catalog('create-order.command.schema.json')));
    expect(Object.keys(ours.properties)).toEqual(expect.arrayContaining(CREATE_ORDER_EXTENSIONS));
    // Optional: a v1.0.0 client's command stays valid.
    for (const name of CREATE_ORDER_EXTENSIONS) expect(ours.required).not.toContain(name);
  });

  it("CreateOrder's additions take the shapes of the head catalog's delivery address and method", () => {
    const ours = json(CreateOrder) as Schema;
    const address = headCatalogSchemas.OrderDeliveryAddressChanged as Schema;
    const theirs = address.properties.deliveryAddress as unknown as Schema;
    const deliveryAddress = ours.properties.deliveryAddress as unknown as Schema;
    expect(Object.keys(deliveryAddress.properties).sort()).toEqual(Object.keys(theirs.properties).sort());
    expect([...deliveryAddress.required].sort()).toEqual([...theirs.required].sort());
    const method = (headCatalogSchemas.OrderFulfilmentStarted as Schema).properties.deliveryMethod;
    expect(ours.properties.deliveryMethod?.enum).toEqual(method?.enum);
  });

  it('the GetOrder response is the catalog response plus extras, its statuses those of the head lifecycle', () => {
    const response = (catalog('get-order.query.schema.json').properties as Record<string, Record<string, unknown>>)
      .response as unknown as Schema;
    const ours = comparable(json(Order)) as Schema;
    for (const [name, schema] of Object.entries(response.properties)) {
      if (name === 'status') continue;
      expect(ours.properties[name], name).toEqual(comparable(schema));
    }
    expect(ours.required).toEqual(expect.arrayContaining(response.required));
    // The catalog's three statuses, and the others of the head's lifecycle (OrderStatusChanged).
    const changed = (headCatalogSchemas.OrderStatusChanged as Schema).properties;
    const headStatuses = new Set([
      ...((changed.previousStatus?.enum ?? []) as string[]),
      ...((changed.newStatus?.enum ?? []) as string[]),
    ]);
    const status = ours.properties.status as { type: string; enum: string[] };
    expect(status.type).toBe(response.properties.status?.type);
    expect(status.enum).toEqual(expect.arrayContaining(response.properties.status?.enum as string[]));
    expect([...status.enum].sort()).toEqual([...headStatuses].sort());
  });

  it('tightens requests against hostile input', () => {
    expect(CreateOrder.additionalProperties).toBe(false);
    expect(CreateOrder.properties.items.maxItems).toBeGreaterThan(0);
  });
});

describe("contracts follow the Acme event catalog's head AsyncAPI (order-service.asyncapi.head.yml)", () => {
  // Events are ours to publish, not input to bound: every keyword of the catalog counts, its
  // maxLength and additionalProperties included.
  const EXACT: readonly string[] = [];

  it.each(HEAD_EVENT_TYPES)('%s equals components.schemas.%s', (name) => {
    expect(headCatalogSchemas[name], name).toBeDefined();
    expect(comparable(json(EVENT_SCHEMAS[name]), EXACT)).toEqual(comparable(headCatalogSchemas[name], EXACT));
  });

  it('has our events on ordering.orders: its eight lifecycle events and the three of v1.0.0', () => {
    const events = headMessagesOf('ordering.orders');
    expect([...events].sort()).toEqual(Object.keys(EVENT_SCHEMAS).sort());
    expect([...events].sort()).toEqual([...V1_EVENT_TYPES, ...HEAD_EVENT_TYPES].sort());
  });

  it('has commands on ordering.commands that we all accept (CreateOrder, CancelOrder)', () => {
    const accepted = ['CreateOrder', ...Object.keys(COMMAND_MESSAGES)];
    const commands = headMessagesOf('ordering.commands');
    expect(commands.length).toBeGreaterThan(0);
    expect(accepted).toEqual(expect.arrayContaining(commands));
  });

  it.each(V1_EVENT_TYPES)('%s of v1.0.0 also satisfies the head: its fields and required ones at least', (name) => {
    const ours = json(EVENT_SCHEMAS[name]) as Schema;
    const theirs = headCatalogSchemas[name] as Schema;
    expect(Object.keys(ours.properties)).toEqual(expect.arrayContaining(Object.keys(theirs.properties)));
    expect(ours.required).toEqual(expect.arrayContaining(theirs.required));
    expect(theirs.additionalProperties).not.toBe(false);
  });
});
