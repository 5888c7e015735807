// An order event from a Kafka record: the CloudEvents 1.0 Kafka protocol binding in binary
// content mode (attributes as `ce_` headers, the JSON payload as the value), validated against
// the JSON Schemas of the service's asyncapi.yaml. A malformed record is refused with an error
// naming the header or the payload field at fault.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import {
  HEADERS_SCHEMA,
  ORDER_EVENT_TYPES,
  type OrderEventHeaders,
  type OrderEventPayloads,
  type OrderEventType,
  PAYLOAD_SCHEMAS,
} from './generated/order-events.js';

/** Why a record is not an order event: stable codes, also the `dlq_reason` of its dead letter. */
export const OrderEventErrorCode = {
  missingHeader: 'MISSING_HEADER',
  unsupportedSpecVersion: 'UNSUPPORTED_SPECVERSION',
  unknownType: 'UNKNOWN_TYPE',
  invalidHeader: 'INVALID_HEADER',
  invalidJson: 'INVALID_JSON',
  invalidPayload: 'INVALID_PAYLOAD',
} as const;
export type OrderEventErrorCode = (typeof OrderEventErrorCode)[keyof typeof OrderEventErrorCode];

export class OrderEventError extends Error {
  override readonly name = 'OrderEventError';
  constructor(
    readonly code: OrderEventErrorCode,
    /** The header (`ce_type`) or payload field (`data/items/0/quantity`) at fault. */
    readonly field: string,
    detail: string,
  ) {
    super(`${field}: ${detail}`);
  }
}

/** A Kafka record as kafkajs gives it (and as the equivalent in any client would). */
export interface KafkaRecord {
  key: Buffer | string | null;
  value: Buffer | string | null;
  headers?: Record<string, Buffer | string | (Buffer | string)[] | undefined>;
}

/** One order event: its CloudEvents attributes, its typed payload, and where it was read. */
export type OrderEvent<T extends OrderEventType = OrderEventType> = {
  [K in T]: {
    type: K;
    /** ce_id: the same on every redelivery of this event. */
    id: string;
    source: string;
    time: string;
    /** ce_subject: the orderId. */
    subject: string;
    /** The W3C trace context the event was committed in, when the service traced. */
    traceparent?: string;
    tracestate?: string;
    data: OrderEventPayloads[K];
    headers: OrderEventHeaders;
  };
}[T];

// ajv-formats is CommonJS: under Node's ESM interop its plugin is `.default`.
const ajv = addFormats.default(new Ajv({ allErrors: false, strict: false }));

const validateHeaders = ajv.compile(HEADERS_SCHEMA);
const payloadValidators = new Map<OrderEventType, ValidateFunction>();
function payloadValidatorOf(type: OrderEventType): ValidateFunction {
  let validate = payloadValidators.get(type);
  if (validate === undefined) {
    validate = ajv.compile(PAYLOAD_SCHEMAS[type]);
    payloadValidators.set(type, validate);
  }
  return validate;
}

const isOrderEventType = (type: string): type is OrderEventType =>
  (ORDER_EVENT_TYPES as readonly string[]).includes(type);

/** A header's value as text (the binding's headers are UTF-8), the first when repeated. */
function headerText(record: KafkaRecord, name: string): string | undefined {
  const value = record.headers?.[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

/** `field: what is wrong`, from Ajv's first error, under `prefix` (a header, or `data`). */
function fieldOf(error: ErrorObject | undefined, prefix: string): { field: string; detail: string } {
  if (error === undefined) return { field: prefix, detail: 'invalid' };
  const path = error.instancePath.split('/').filter(Boolean);
  if (error.keyword === 'required') path.push((error.params as { missingProperty: string }).missingProperty);
  const field = [prefix, ...path].filter(Boolean).join('/');
  return { field, detail: error.message ?? error.keyword };
}

/**
 * The order event a Kafka record carries, validated: its headers against the document's
 * header schema, its value against its payload schema, and `ce_subject` against the payload's
 * orderId. Throws an OrderEventError naming the field at fault.
 */
export function parseOrderEvent(record: KafkaRecord): OrderEvent {
  const specVersion = headerText(record, 'ce_specversion');
  if (specVersion === undefined) {
    throw new OrderEventError(OrderEventErrorCode.missingHeader, 'ce_specversion', 'missing');
  }
  if (specVersion !== '1.0') {
    throw new OrderEventError(
      OrderEventErrorCode.unsupportedSpecVersion,
      'ce_specversion',
      `CloudEvents ${JSON.stringify(specVersion.slice(0, 20))} is not supported (1.0 is)`,
    );
  }
  const type = headerText(record, 'ce_type');
  if (type === undefined) throw new OrderEventError(OrderEventErrorCode.missingHeader, 'ce_type', 'missing');
  if (!isOrderEventType(type)) {
    throw new OrderEventError(
      OrderEventErrorCode.unknownType,
      'ce_type',
      `${JSON.stringify(type.slice(0, 100))} is not an event type of ordering.orders`,
    );
  }
  const headers: Record<string, string> = {};
  for (const name of Object.keys(record.headers ?? {})) {
    const text = headerText(record, name);
    if (text !== undefined) headers[name] = text;
  }
  if (!validateHeaders(headers)) {
    const error = validateHeaders.errors?.[0];
    const { field, detail } = fieldOf(error, '');
    throw new OrderEventError(
      error?.keyword === 'required' ? OrderEventErrorCode.missingHeader : OrderEventErrorCode.invalidHeader,
      field,
      detail,
    );
  }
  let data: unknown;
  try {
    data = JSON.parse(record.value === null ? '' : record.value.toString());
  } catch (error) {
    throw new OrderEventError(OrderEventErrorCode.invalidJson, 'data', (error as Error).message);
  }
  const validatePayload = payloadValidatorOf(type);
  if (!validatePayload(data)) {
    const { field, detail } = fieldOf(validatePayload.errors?.[0], 'data');
    throw new OrderEventError(OrderEventErrorCode.invalidPayload, field, detail);
  }
  const valid = headers as unknown as OrderEventHeaders;
  const orderId = (data as { orderId: string }).orderId;
  if (valid.ce_subject !== orderId) {
    throw new OrderEventError(
      OrderEventErrorCode.invalidHeader,
      'ce_subject',
      `is not the payload's orderId ${orderId}`,
    );
  }
  return {
    type,
    id: valid.ce_id,
    source: valid.ce_source,
    time: valid.ce_time,
    subject: valid.ce_subject,
    ...(valid.ce_traceparent === undefined ? {} : { traceparent: valid.ce_traceparent }),
    ...(valid.ce_tracestate === undefined ? {} : { tracestate: valid.ce_tracestate }),
    data,
    headers: valid,
  } as OrderEvent;
}
