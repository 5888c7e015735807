// The service's own OpenTelemetry code: the trace context it stores with each event and publishes
// as ce_traceparent / ce_tracestate, what it accepts back from storage, when tracing is on, and
// what it reads of the active span. The SDK part runs a real in-process SDK (no exporter, no
// network): NodeSDK registers the 3.x TracerProvider, the W3C trace-context propagator and an
// AsyncLocalStorage context manager, as src/telemetry.ts has it do in the processes.
import { context, propagation, trace } from '@opentelemetry/api';
import { NodeSDK, type NodeSDKConfiguration } from '@opentelemetry/sdk-node';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig, tracingEnabled } from '../../src/config.js';
import { cloudEventHeaders, type StoredEvent } from '../../src/domain/events.js';
import {
  activeTraceContext,
  annotateActiveSpan,
  contextOf,
  logTraceFields,
  MAX_TRACESTATE_LENGTH,
  orderAttributes,
  traceContextFrom,
} from '../../src/tracing.js';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const SPAN_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${TRACE_ID}-${SPAN_ID}-01`;

describe('traceContextFrom', () => {
  it('accepts a W3C traceparent, sampled or not', () => {
    expect(traceContextFrom(TRACEPARENT, undefined)).toEqual({ traceparent: TRACEPARENT });
    const unsampled = `00-${TRACE_ID}-${SPAN_ID}-00`;
    expect(traceContextFrom(unsampled, undefined)).toEqual({ traceparent: unsampled });
  });

  it(`keeps a tracestate of up to ${MAX_TRACESTATE_LENGTH} characters`, () => {
    expect(traceContextFrom(TRACEPARENT, 'acme=00f067aa0ba902b7,congo=t61rcWkgMzE')).toEqual({
      traceparent: TRACEPARENT,
      tracestate: 'acme=00f067aa0ba902b7,congo=t61rcWkgMzE',
    });
    const longest = `acme=${'x'.repeat(MAX_TRACESTATE_LENGTH - 5)}`;
    expect(longest).toHaveLength(512);
    expect(traceContextFrom(TRACEPARENT, longest)).toEqual({ traceparent: TRACEPARENT, tracestate: longest });
  });

  it('drops an over-long, empty or non-string tracestate, keeping the traceparent', () => {
    const tooLong = `acme=${'x'.repeat(MAX_TRACESTATE_LENGTH - 4)}`;
    expect(tooLong).toHaveLength(513);
    for (const tracestate of [tooLong, '', null, 42, ['acme=1'], { acme: '1' }]) {
      const traceContext = traceContextFrom(TRACEPARENT, tracestate);
      expect(traceContext, JSON.stringify(tracestate)).toEqual({ traceparent: TRACEPARENT });
      expect(traceContext, JSON.stringify(tracestate)).not.toHaveProperty('tracestate');
    }
  });

  it('refuses a malformed or hostile traceparent', () => {
    const refused = [
      '',
      'garbage',
      TRACEPARENT.toUpperCase(),
      `00-${TRACE_ID.toUpperCase()}-${SPAN_ID}-01`,
      `00-${TRACE_ID}-${SPAN_ID.toUpperCase()}-0A`,
      // Wrong lengths of each field.
      `0-${TRACE_ID}-${SPAN_ID}-01`,
      `000-${TRACE_ID}-${SPAN_ID}-01`,
      `00-${TRACE_ID.slice(1)}-${SPAN_ID}-01`,
      `00-${TRACE_ID}0-${SPAN_ID}-01`,
      `00-${TRACE_ID}-${SPAN_ID.slice(1)}-01`,
      `00-${TRACE_ID}-${SPAN_ID}0-01`,
      `00-${TRACE_ID}-${SPAN_ID}-1`,
      `00-${TRACE_ID}-${SPAN_ID}-001`,
      // Version ff is forbidden by the W3C; no other version is stored either.
      `ff-${TRACE_ID}-${SPAN_ID}-01`,
      // Extra fields, other separators, non-hex digits.
      `${TRACEPARENT}-extra`,
      `00-${TRACE_ID}-${SPAN_ID}-01-00`,
      `00_${TRACE_ID}_${SPAN_ID}_01`,
      `00-${TRACE_ID.replace(/^./, 'g')}-${SPAN_ID}-01`,
      // Header injection and padding.
      `${TRACEPARENT}\r\nx: y`,
      `${TRACEPARENT}\n`,
      `${TRACEPARENT}\0`,
      ` ${TRACEPARENT}`,
      `${TRACEPARENT} `,
      `x: y\r\n${TRACEPARENT}`,
      // All-zero trace or span ids are invalid (W3C).
      `00-${'0'.repeat(32)}-${SPAN_ID}-01`,
      `00-${TRACE_ID}-${'0'.repeat(16)}-01`,
    ];
    for (const traceparent of refused) {
      expect(traceContextFrom(traceparent, 'acme=1'), JSON.stringify(traceparent)).toBeUndefined();
    }
  });

  it('drops a tracestate with characters outside printable ASCII (a header injection)', () => {
    for (const tracestate of ['acme=1\r\nx: y', 'acme=1\n', 'acme=\u00e9', 'acme=1\0']) {
      expect(traceContextFrom(TRACEPARENT, tracestate), JSON.stringify(tracestate)).toEqual({
        traceparent: TRACEPARENT,
      });
    }
  });

  it('refuses a traceparent that is not a string', () => {
    for (const traceparent of [undefined, null, 42, true, [TRACEPARENT], { traceparent: TRACEPARENT }]) {
      expect(traceContextFrom(traceparent, 'acme=1'), JSON.stringify(traceparent)).toBeUndefined();
    }
  });
});

describe('cloudEventHeaders', () => {
  const event: StoredEvent = {
    eventId: '6f1c2a4e-8d3b-4e5f-9a7c-1b2d3e4f5a6b',
    orderId: '0b9e7c3a-5d2f-4a1e-8c6b-9f8e7d6c5b4a',
    sequence: 0,
    type: 'OrderCreated',
    payload: '{"orderId":"0b9e7c3a-5d2f-4a1e-8c6b-9f8e7d6c5b4a"}',
    occurredAt: '2025-01-02T03:04:05.678Z',
  };
  const SOURCE = '/acme/ordering/order-service';
  const ENVELOPE = {
    ce_specversion: '1.0',
    ce_id: event.eventId,
    ce_type: 'OrderCreated',
    ce_source: SOURCE,
    ce_time: event.occurredAt,
    ce_subject: event.orderId,
    'content-type': 'application/json',
  };

  it('publishes the stored trace context as the CloudEvents distributed-tracing extension', () => {
    const headers = cloudEventHeaders({ ...event, traceparent: TRACEPARENT, tracestate: 'acme=1,congo=2' }, SOURCE);
    expect(headers).toEqual({ ...ENVELOPE, ce_traceparent: TRACEPARENT, ce_tracestate: 'acme=1,congo=2' });
  });

  it('publishes a traceparent without tracestate when the event has none', () => {
    const headers = cloudEventHeaders({ ...event, traceparent: TRACEPARENT }, SOURCE);
    expect(headers).toEqual({ ...ENVELOPE, ce_traceparent: TRACEPARENT });
    expect(Object.keys(headers)).not.toContain('ce_tracestate');
  });

  it('has no trace headers for an event committed untraced', () => {
    const headers = cloudEventHeaders(event, SOURCE);
    expect(headers).toEqual(ENVELOPE);
    expect(Object.keys(headers)).not.toContain('ce_traceparent');
    expect(Object.keys(headers)).not.toContain('ce_tracestate');
  });
});

describe('tracingEnabled', () => {
  it('is off by default', () => {
    expect(tracingEnabled(loadConfig({}))).toBe(false);
  });

  it('is on with an OTLP endpoint, for all signals or for traces', () => {
    expect(tracingEnabled(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318' }))).toBe(true);
    expect(tracingEnabled(loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://otel.acme.test/v1/traces' }))).toBe(
      true,
    );
  });

  it('is off with OTEL_SDK_DISABLED=true, even with an endpoint', () => {
    expect(
      tracingEnabled(loadConfig({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318', OTEL_SDK_DISABLED: 'true' })),
    ).toBe(false);
    expect(
      tracingEnabled(
        loadConfig({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://jaeger:4318/v1/traces', OTEL_SDK_DISABLED: 'true' }),
      ),
    ).toBe(false);
  });

  it('refuses an endpoint that is not http(s), naming the variable', () => {
    for (const name of ['OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']) {
      for (const endpoint of ['ftp://x', 'jaeger:4318', 'http://']) {
        let thrown: unknown;
        try {
          loadConfig({ [name]: endpoint });
        } catch (error) {
          thrown = error;
        }
        expect(thrown, `${name}=${endpoint}`).toBeInstanceOf(ConfigError);
        expect((thrown as ConfigError).problems.join('\n'), `${name}=${endpoint}`).toContain(name);
      }
    }
  });
});

describe('orderAttributes', () => {
  it('names the attributes operators filter by, only those given', () => {
    expect(orderAttributes({ orderId: 'o-1', status: 'CONFIRMED', workflowId: 'order-o-1' })).toEqual({
      'order.id': 'o-1',
      'order.status': 'CONFIRMED',
      'workflow.id': 'order-o-1',
    });
    expect(orderAttributes({ orderId: 'o-1' })).toEqual({ 'order.id': 'o-1' });
    expect(orderAttributes({})).toEqual({});
  });
});

describe('the active span, without an SDK (tracing off)', () => {
  it('has no trace context and no log fields, even inside a span', () => {
    expect(activeTraceContext()).toBeUndefined();
    expect(logTraceFields()).toEqual({});
    trace.getTracer('test').startActiveSpan('untraced', (span) => {
      expect(activeTraceContext()).toBeUndefined();
      expect(logTraceFields()).toEqual({});
      span.end();
    });
  });
});

type SpanProcessor = NonNullable<NodeSDKConfiguration['spanProcessors']>[number];
type ReadableSpan = Parameters<SpanProcessor['onEnd']>[0];

describe('the active span, with the SDK started in-process', () => {
  const ended: ReadableSpan[] = [];
  /** Keeps the spans that end: no exporter, nothing leaves the process. */
  const recorder: SpanProcessor = {
    onStart: () => undefined,
    onEnd: (span) => {
      ended.push(span);
    },
    forceFlush: async () => undefined,
    shutdown: async () => undefined,
  };
  let sdk: NodeSDK;

  beforeAll(() => {
    // What NodeSDK would otherwise take from the environment of whoever runs the tests.
    vi.stubEnv('OTEL_SDK_DISABLED', 'false');
    vi.stubEnv('OTEL_PROPAGATORS', 'tracecontext');
    vi.stubEnv('OTEL_TRACES_SAMPLER', 'always_on');
    sdk = new NodeSDK({
      autoDetectResources: false,
      spanProcessors: [recorder],
      metricReaders: [],
      logRecordProcessors: [],
      instrumentations: [],
    });
    sdk.start();
  });

  afterAll(async () => {
    await sdk.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
    vi.unstubAllEnvs();
  });

  const tracer = () => trace.getTracer('tracing.test');

  it('gives the traceparent and log fields of the active span', () => {
    tracer().startActiveSpan('create order', (span) => {
      const { traceId, spanId } = span.spanContext();
      expect(traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(activeTraceContext()).toEqual({ traceparent: `00-${traceId}-${spanId}-01` });
      expect(logTraceFields()).toEqual({ trace_id: traceId, span_id: spanId });
      span.end();
    });
  });

  it("follows the context into async work, and a child span's ids", async () => {
    await tracer().startActiveSpan('parent', async (parent) => {
      await new Promise((resolve) => setImmediate(resolve));
      expect(logTraceFields()).toEqual({
        trace_id: parent.spanContext().traceId,
        span_id: parent.spanContext().spanId,
      });
      tracer().startActiveSpan('child', (child) => {
        expect(child.spanContext().traceId).toBe(parent.spanContext().traceId);
        expect(activeTraceContext()?.traceparent).toBe(
          `00-${parent.spanContext().traceId}-${child.spanContext().spanId}-01`,
        );
        expect(logTraceFields().span_id).toBe(child.spanContext().spanId);
        child.end();
      });
      expect(logTraceFields().span_id).toBe(parent.spanContext().spanId);
      parent.end();
    });
  });

  it('has nothing outside any span', () => {
    expect(trace.getActiveSpan()).toBeUndefined();
    expect(activeTraceContext()).toBeUndefined();
    expect(logTraceFields()).toEqual({});
  });

  it('continues a stored trace context: same trace, its tracestate carried on', () => {
    const stored = traceContextFrom(TRACEPARENT, 'acme=1');
    const parentContext = contextOf(stored);
    expect(trace.getSpanContext(parentContext)).toMatchObject({ traceId: TRACE_ID, spanId: SPAN_ID, isRemote: true });
    tracer().startActiveSpan('publish', {}, parentContext, (span) => {
      expect(span.spanContext().traceId).toBe(TRACE_ID);
      expect(activeTraceContext()).toEqual({
        traceparent: `00-${TRACE_ID}-${span.spanContext().spanId}-01`,
        tracestate: 'acme=1',
      });
      expect(logTraceFields()).toEqual({ trace_id: TRACE_ID, span_id: span.spanContext().spanId });
      span.end();
    });
    expect(ended.at(-1)?.parentSpanContext?.spanId).toBe(SPAN_ID);
  });

  it('without a stored trace context, continues the active one', () => {
    expect(contextOf(undefined)).toBe(context.active());
  });

  it('sets the order attributes on the active span', () => {
    tracer().startActiveSpan('complete order', (span) => {
      annotateActiveSpan({ orderId: 'o-1', status: 'COMPLETED' });
      span.end();
    });
    expect(ended.at(-1)?.attributes).toEqual({ 'order.id': 'o-1', 'order.status': 'COMPLETED' });
  });
});
