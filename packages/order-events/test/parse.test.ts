// Hostile records: each is refused with a stable code and the name of the header or payload
// field at fault; every event type the document has, as the service sends it, is accepted.
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ORDER_EVENT_TYPES } from '../src/generated/order-events.js';
import { OrderEventError, parseOrderEvent } from '../src/parse.js';
import { payloadOf, recordOf } from './records.js';

/** The code and field of the error `parseOrderEvent` throws for `record`. */
function refusal(record: Parameters<typeof parseOrderEvent>[0]) {
  try {
    parseOrderEvent(record);
  } catch (error) {
    expect(error).toBeInstanceOf(OrderEventError);
    const { code, field, message } = error as OrderEventError;
    return { code, field, message };
  }
  throw new Error('the record was accepted');
}

describe('parseOrderEvent', () => {
  it.each(ORDER_EVENT_TYPES)('accepts a %s as the service sends it, typed by ce_type', (type) => {
    const payload = payloadOf(type);
    const traceparent = `00-${'4bf92f3577b34da6a3ce929d0e0e4736'}-${'00f067aa0ba902b7'}-01`;
    const record = recordOf(type, payload, { ce_traceparent: traceparent, ce_tracestate: 'acme=1' });
    const event = parseOrderEvent(record);
    expect(event.type).toBe(type);
    expect(event.id).toBe(record.headers.ce_id!.toString());
    expect(event.subject).toBe(payload.orderId);
    expect(event.data).toEqual(payload);
    expect(event.traceparent).toBe(traceparent);
    expect(event.tracestate).toBe('acme=1');
  });

  it('narrows the payload by type', () => {
    const event = parseOrderEvent(recordOf('OrderStatusChanged', payloadOf('OrderStatusChanged')));
    // A compile-time check as much as a runtime one: `sequence` exists only on OrderStatusChanged.
    if (event.type !== 'OrderStatusChanged') throw new Error('wrong type');
    expect(event.data.sequence).toBe(1);
  });

  it('refuses a record without the CloudEvents headers, naming the missing one', () => {
    const payload = payloadOf('OrderCreated');
    for (const header of ['ce_specversion', 'ce_type', 'ce_id', 'ce_source', 'ce_time', 'ce_subject', 'content-type']) {
      expect(refusal(recordOf('OrderCreated', payload, { [header]: undefined })), header).toEqual({
        code: 'MISSING_HEADER',
        field: header,
        message: expect.stringContaining(header),
      });
    }
    expect(refusal({ key: null, value: JSON.stringify(payload) })).toMatchObject({
      code: 'MISSING_HEADER',
      field: 'ce_specversion',
    });
  });

  it('refuses another CloudEvents version', () => {
    for (const version of ['0.3', '2.0', '1', '']) {
      expect(refusal(recordOf('OrderCreated', payloadOf('OrderCreated'), { ce_specversion: version }))).toMatchObject({
        code: 'UNSUPPORTED_SPECVERSION',
        field: 'ce_specversion',
      });
    }
  });

  it('refuses an event type the document does not have', () => {
    for (const type of ['OrderShipped', 'orderCreated', 'CreateOrder', '']) {
      expect(refusal(recordOf(type, payloadOf('OrderCreated')))).toMatchObject({
        code: 'UNKNOWN_TYPE',
        field: 'ce_type',
      });
    }
  });

  it('refuses malformed headers, naming them', () => {
    const payload = payloadOf('OrderCreated');
    const cases: [Record<string, string>, string][] = [
      [{ ce_id: 'not-a-uuid' }, 'ce_id'],
      [{ ce_time: 'yesterday' }, 'ce_time'],
      [{ ce_traceparent: '00-xyz' }, 'ce_traceparent'],
      [{ 'content-type': 'text/plain' }, 'content-type'],
      // The subject is the order: another order's id is refused.
      [{ ce_subject: randomUUID() }, 'ce_subject'],
    ];
    for (const [headers, field] of cases) {
      expect(refusal(recordOf('OrderCreated', payload, headers)), field).toMatchObject({
        code: 'INVALID_HEADER',
        field,
      });
    }
  });

  it('refuses a payload that is not JSON, or not the schema of its type, naming the field', () => {
    expect(refusal(recordOf('OrderCreated', '{"orderId":'))).toMatchObject({ code: 'INVALID_JSON', field: 'data' });
    expect(refusal({ ...recordOf('OrderCreated', payloadOf('OrderCreated')), value: null })).toMatchObject({
      code: 'INVALID_JSON',
    });
    const created = payloadOf('OrderCreated');
    const cases: [Record<string, unknown>, string][] = [
      [{ ...created, total: '3750' }, 'data/total'],
      [{ ...created, currency: 'euro' }, 'data/currency'],
      [{ ...created, items: [{ sku: 'A', quantity: 0, unitPrice: 1 }] }, 'data/items/0/quantity'],
      [{ ...created, customerId: undefined }, 'data/customerId'],
    ];
    for (const [payload, field] of cases) {
      expect(refusal(recordOf('OrderCreated', payload)), field).toMatchObject({ code: 'INVALID_PAYLOAD', field });
    }
    // A valid OrderCreated is not a valid OrderStatusChanged.
    expect(refusal(recordOf('OrderStatusChanged', created))).toMatchObject({ code: 'INVALID_PAYLOAD' });
    expect(refusal(recordOf('OrderCreated', '[]'))).toMatchObject({ code: 'INVALID_PAYLOAD', field: 'data' });
  });
});
