// Validators compiled from the catalog's own schema files (not from our TypeBox copies),
// so the tests check what consumers were promised: the v1.0.0 JSON schemas, and for the events
// the catalog added later, the `components.schemas` of its head AsyncAPI.
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';

const ajv = addFormats.default(new Ajv({ allErrors: true, strict: false }));
const read = (file: string) => readFileSync(new URL(`../../src/contracts/catalog/${file}`, import.meta.url), 'utf8');
const load = (file: string) => JSON.parse(read(file));

/** The catalog's head AsyncAPI of the Order Service (the v1.0.0 one plus eight lifecycle events). */
export const headAsyncApi = parse(read('order-service.asyncapi.head.yml')) as {
  info: { version: string };
  channels: Record<string, { address: string; messages: Record<string, { $ref: string }> }>;
  components: { messages: Record<string, unknown>; schemas: Record<string, object> };
};
/** Its schemas, by name. */
export const headCatalogSchemas = headAsyncApi.components.schemas;

/** The events of the head AsyncAPI beyond v1.0.0 (whose OrderCreated, OrderCompleted, OrderCancelled stay v1.0.0's). */
export const HEAD_EVENT_TYPES = [
  'OrderConfirmed',
  'OrderAmended',
  'OrderPlacedOnHold',
  'OrderHoldReleased',
  'OrderFulfilmentStarted',
  'OrderStatusChanged',
  'OrderDeliveryAddressChanged',
  'OrderArchived',
] as const;

const head = (name: (typeof HEAD_EVENT_TYPES)[number]) => {
  const schema = headCatalogSchemas[name];
  if (schema === undefined) throw new Error(`the head AsyncAPI has no components.schemas.${name}`);
  return ajv.compile(schema);
};

export const catalogValidators = {
  OrderCreated: ajv.compile(load('order-created.event.schema.json')),
  OrderCompleted: ajv.compile(load('order-completed.event.schema.json')),
  OrderCancelled: ajv.compile(load('order-cancelled.event.schema.json')),
  ...(Object.fromEntries(HEAD_EVENT_TYPES.map((name) => [name, head(name)])) as Record<
    (typeof HEAD_EVENT_TYPES)[number],
    ReturnType<typeof ajv.compile>
  >),
  GetOrderResponse: ajv.compile(load('get-order.query.schema.json').properties.response),
};

export function expectValid(name: keyof typeof catalogValidators, value: unknown): void {
  const validate = catalogValidators[name];
  if (!validate(value)) {
    throw new Error(`${name} does not match the catalog: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value)}`);
  }
}
