// The trace an event was committed in, from its CloudEvents distributed-tracing attributes
// (ce_traceparent, ce_tracestate). OpenTelemetry's API only: with no SDK installed every span
// is a no-op, and the consumer decides whether and how to export.
import {
  type Context,
  context,
  createTraceState,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from '@opentelemetry/api';
import type { OrderEvent } from './parse.js';

const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
const tracer = trace.getTracer('@acme/order-events');

/** The remote parent the event's ce_traceparent names; undefined without one (or an all-zero one). */
export function traceContextOf(event: Pick<OrderEvent, 'traceparent' | 'tracestate'>): Context | undefined {
  const match = TRACEPARENT.exec(event.traceparent ?? '');
  if (match === null) return undefined;
  const [, traceId, spanId, flags] = match as unknown as [string, string, string, string];
  if (/^0+$/.test(traceId) || /^0+$/.test(spanId)) return undefined;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId,
    spanId,
    traceFlags: Number.parseInt(flags, 16) & 1,
    isRemote: true,
    ...(event.tracestate === undefined ? {} : { traceState: createTraceState(event.tracestate) }),
  });
}

/**
 * Runs `handle` inside a CONSUMER span `process <topic>` (messaging semantic conventions), child
 * of the event's trace when it has one, so the handler's own spans and logs join the order's trace.
 */
export async function inEventTrace<T>(
  event: OrderEvent,
  where: { topic: string; partition: number; offset: string; consumerGroup: string },
  handle: () => Promise<T>,
): Promise<T> {
  const parent = traceContextOf(event) ?? context.active();
  const span: Span = tracer.startSpan(
    `process ${where.topic}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': 'kafka',
        'messaging.operation.name': 'process',
        'messaging.operation.type': 'process',
        'messaging.destination.name': where.topic,
        'messaging.destination.partition.id': String(where.partition),
        'messaging.kafka.offset': Number(where.offset),
        'messaging.consumer.group.name': where.consumerGroup,
        'messaging.message.id': event.id,
        'cloudevents.event_id': event.id,
        'cloudevents.event_type': event.type,
        'cloudevents.event_subject': event.subject,
      },
    },
    parent,
  );
  try {
    return await context.with(trace.setSpan(parent, span), handle);
  } catch (error) {
    span.recordException(error instanceof Error ? error : String(error));
    span.setStatus({ code: SpanStatusCode.ERROR, message: 'the event was not handled' });
    throw error;
  } finally {
    span.end();
  }
}
