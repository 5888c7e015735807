// The one Ajv setup, for the API and the Kafka command handler: bodies and messages are taken
// as sent (a "5" is not a 5); path and query strings are coerced, with defaults filled in.
import { Ajv, type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import type { Violation } from '../domain/order.js';

const OPTIONS = { allErrors: true, strict: false, removeAdditional: false } as const;

export function createExactAjv(): Ajv {
  return addFormats.default(new Ajv({ ...OPTIONS, coerceTypes: false }));
}

export function createCoercingAjv(): Ajv {
  return addFormats.default(new Ajv({ ...OPTIONS, coerceTypes: true, useDefaults: true }));
}

/** Ajv's errors as violations naming each offending field (`/items/1/productId`), after `prefix`. */
export function violationsOf(errors: readonly ErrorObject[] | null | undefined, prefix = ''): Violation[] {
  return (errors ?? []).map((issue) => {
    const params = issue.params as { missingProperty?: string; additionalProperty?: string };
    const child = params.missingProperty ?? params.additionalProperty;
    return {
      field: `${prefix}${`${issue.instancePath}${child === undefined ? '' : `/${child}`}` || '/'}`,
      code: issue.keyword,
      message: issue.message ?? 'is invalid',
    };
  });
}
