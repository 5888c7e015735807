// Validators compiled from the catalog's own schema files (not from our TypeBox copies),
// so the tests check what consumers were promised.
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';

const ajv = addFormats.default(new Ajv({ allErrors: true, strict: false }));
const load = (file: string) =>
  JSON.parse(readFileSync(new URL(`../../src/contracts/catalog/${file}`, import.meta.url), 'utf8'));

export const catalogValidators = {
  OrderCreated: ajv.compile(load('order-created.event.schema.json')),
  OrderCompleted: ajv.compile(load('order-completed.event.schema.json')),
  OrderCancelled: ajv.compile(load('order-cancelled.event.schema.json')),
  GetOrderResponse: ajv.compile(load('get-order.query.schema.json').properties.response),
};

export function expectValid(name: keyof typeof catalogValidators, value: unknown): void {
  const validate = catalogValidators[name];
  if (!validate(value)) {
    throw new Error(`${name} does not match the catalog: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value)}`);
  }
}
