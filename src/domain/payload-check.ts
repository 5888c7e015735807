// Checks a value against the JSON Schema of a command's payload, inside the workflow sandbox,
// where Ajv (code generation) and TypeBox do not belong. It knows the keywords the transition
// table's schemas use and refuses a schema with any other (test/unit/lifecycle.test.ts runs it
// beside Ajv on the same inputs). Pure.

export interface PayloadSchema {
  type?: 'object' | 'string' | 'integer' | 'number' | 'boolean' | 'array';
  description?: string;
  properties?: Readonly<Record<string, PayloadSchema>>;
  required?: readonly string[];
  additionalProperties?: false;
  enum?: readonly string[];
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: 'uuid' | 'date-time';
  minimum?: number;
  maximum?: number;
  items?: PayloadSchema;
  minItems?: number;
  maxItems?: number;
}

export interface PayloadViolation {
  /** JSON pointer of the offending value, `/` for the payload itself. */
  field: string;
  code: string;
  message: string;
}

/** The violations in one line, for messages an operator reads (the CLI shows only the message). */
export const describeViolations = (violations: readonly PayloadViolation[]) =>
  violations.map((violation) => `${violation.field} ${violation.message}`).join('; ');

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Every way `value` breaks `schema`; empty when it matches. */
export function checkPayload(schema: PayloadSchema, value: unknown, path = ''): PayloadViolation[] {
  const at = path || '/';
  const violation = (code: string, message: string): PayloadViolation[] => [{ field: at, code, message }];
  switch (schema.type) {
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value))
        return violation('type', 'must be object');
      const record = value as Record<string, unknown>;
      const properties = schema.properties ?? {};
      const found: PayloadViolation[] = [];
      for (const name of schema.required ?? []) {
        if (!Object.hasOwn(record, name)) {
          found.push({ field: `${path}/${name}`, code: 'required', message: `must have property ${name}` });
        }
      }
      for (const [name, child] of Object.entries(record)) {
        const childSchema = Object.hasOwn(properties, name) ? properties[name] : undefined;
        if (childSchema === undefined) {
          if (schema.additionalProperties === false) {
            found.push({ field: `${path}/${name}`, code: 'additionalProperties', message: 'is not allowed' });
          }
          continue;
        }
        found.push(...checkPayload(childSchema, child, `${path}/${name}`));
      }
      return found;
    }
    case 'string': {
      if (typeof value !== 'string') return violation('type', 'must be string');
      if (schema.enum !== undefined && !schema.enum.includes(value)) {
        return violation('enum', `must be one of ${schema.enum.join(', ')}`);
      }
      const length = [...value].length;
      if (schema.minLength !== undefined && length < schema.minLength) {
        return violation('minLength', `must have at least ${schema.minLength} characters`);
      }
      if (schema.maxLength !== undefined && length > schema.maxLength) {
        return violation('maxLength', `must have at most ${schema.maxLength} characters`);
      }
      if (schema.pattern !== undefined && !new RegExp(schema.pattern, 'u').test(value)) {
        return violation('pattern', `must match ${schema.pattern}`);
      }
      if (schema.format === 'uuid' && !UUID.test(value)) return violation('format', 'must be a uuid');
      if (schema.format === 'date-time' && (!DATE_TIME.test(value) || Number.isNaN(Date.parse(value)))) {
        return violation('format', 'must be an RFC 3339 date-time');
      }
      return [];
    }
    case 'integer':
    case 'number': {
      if (typeof value !== 'number' || !Number.isFinite(value)) return violation('type', `must be ${schema.type}`);
      if (schema.type === 'integer' && !Number.isInteger(value)) return violation('type', 'must be integer');
      if (schema.minimum !== undefined && value < schema.minimum)
        return violation('minimum', `must be ≥ ${schema.minimum}`);
      if (schema.maximum !== undefined && value > schema.maximum)
        return violation('maximum', `must be ≤ ${schema.maximum}`);
      return [];
    }
    case 'boolean':
      return typeof value === 'boolean' ? [] : violation('type', 'must be boolean');
    case 'array': {
      if (!Array.isArray(value)) return violation('type', 'must be array');
      if (schema.minItems !== undefined && value.length < schema.minItems) {
        return violation('minItems', `must have at least ${schema.minItems} items`);
      }
      if (schema.maxItems !== undefined && value.length > schema.maxItems) {
        return violation('maxItems', `must have at most ${schema.maxItems} items`);
      }
      const items = schema.items;
      return items === undefined ? [] : value.flatMap((item, index) => checkPayload(items, item, `${path}/${index}`));
    }
    default:
      throw new Error(`payload schema at ${at} has no type this checker knows`);
  }
}
