// What the service's own code needs of OpenTelemetry: the trace context of the active span as
// W3C headers (stored with each event, sent as ce_traceparent), a context from stored headers,
// the attributes operators filter by, and log correlation. Only the API package: when the SDK
// is not started (no OTLP endpoint) every call here is a cheap no-op.
import { type Context, context, propagation, ROOT_CONTEXT, type Span, trace } from '@opentelemetry/api';

/** A span's W3C trace context, as the headers `traceparent` and `tracestate` carry it. */
export interface TraceContext {
  traceparent: string;
  tracestate?: string;
}

const TRACEPARENT = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;
/** All-zero trace and span ids are invalid (W3C Trace Context). */
const ZERO_IDS = /^00-(0{32}-[0-9a-f]{16}|[0-9a-f]{32}-0{16})-/;
/** tracestate is printable ASCII: list members of key=value, comma-separated. */
const TRACESTATE = /^[\x20-\x7e]+$/;
/** W3C allows 32 list members of up to 256 characters; more than this is not worth storing. */
export const MAX_TRACESTATE_LENGTH = 512;

/** The active span's context, or undefined when there is none (tracing off, or outside any span). */
export function activeTraceContext(): TraceContext | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return traceContextFrom(carrier.traceparent, carrier.tracestate);
}

/** A well-formed trace context from header values, or undefined: a malformed one is dropped, never stored. */
export function traceContextFrom(traceparent: unknown, tracestate: unknown): TraceContext | undefined {
  if (typeof traceparent !== 'string' || !TRACEPARENT.test(traceparent) || ZERO_IDS.test(traceparent)) return undefined;
  if (typeof tracestate === 'string' && TRACESTATE.test(tracestate) && tracestate.length <= MAX_TRACESTATE_LENGTH) {
    return { traceparent, tracestate };
  }
  return { traceparent };
}

/** The OpenTelemetry context a stored trace context continues (the active one when there is none). */
export function contextOf(stored: TraceContext | undefined): Context {
  if (stored === undefined) return context.active();
  return propagation.extract(ROOT_CONTEXT, { ...stored });
}

/** The attributes operators filter an order's spans by. */
export interface OrderSpanAttributes {
  orderId?: string;
  status?: string;
  workflowId?: string;
}

export function orderAttributes({ orderId, status, workflowId }: OrderSpanAttributes): Record<string, string> {
  const attributes: Record<string, string> = {};
  if (orderId !== undefined) attributes['order.id'] = orderId;
  if (status !== undefined) attributes['order.status'] = status;
  if (workflowId !== undefined) attributes['workflow.id'] = workflowId;
  return attributes;
}

/** Sets the order's attributes on the active span (the request's, or the activity's). */
export function annotateActiveSpan(attributes: OrderSpanAttributes, span: Span | undefined = trace.getActiveSpan()) {
  span?.setAttributes(orderAttributes(attributes));
}

/** `trace_id` and `span_id` of the active span, for every log line written inside one. */
export function logTraceFields(): { trace_id?: string; span_id?: string } {
  const spanContext = trace.getActiveSpan()?.spanContext();
  if (spanContext === undefined || !trace.isSpanContextValid(spanContext)) return {};
  return { trace_id: spanContext.traceId, span_id: spanContext.spanId };
}
