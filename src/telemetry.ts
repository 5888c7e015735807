// The only module that starts the OpenTelemetry SDK. Each process calls startTelemetry first
// thing, before it opens its PostgreSQL pool (pg's instrumentation patches `pg` when it is
// loaded, see src/db/index.ts). With no OTLP endpoint configured nothing is started: no span is
// made, nothing is exported, and the service runs as if OpenTelemetry were not there.
//
// The SDK reads the standard variables itself (OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES,
// OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER, OTEL_PROPAGATORS, …); the config module
// decides whether it runs (tracingEnabled) and how often it exports (OTEL_BSP_SCHEDULE_DELAY).
// The SDK's packages are imported only when tracing is on: loaded, they cost each process
// tens of MB (sdk-node brings every exporter), which an untraced process should not pay.
import type { Attributes, Span } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { NodeSDKConfiguration } from '@opentelemetry/sdk-node';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import type { SerializableSpan } from '@temporalio/interceptors-opentelemetry';
import type { FastifyPluginCallback, FastifyRequest } from 'fastify';
import { type Config, tracingEnabled } from './config.js';
import { annotateActiveSpan } from './tracing.js';

/** The two processes, as `service.name` names them unless OTEL_SERVICE_NAME says otherwise. */
export type ServiceName = 'order-api' | 'order-worker';

export interface Telemetry {
  enabled: boolean;
  /** Fastify's instrumentation as a plugin, for the API to register before its routes. */
  fastifyPlugin?: FastifyPluginCallback;
  /** Where the worker hands the spans its workflows made in their sandbox, with attributes naming the workflow. */
  exportWorkflowSpans(spans: SerializableSpan[], workflow: Attributes): void;
  /** Exports what is still buffered, then stops. */
  shutdown(): Promise<void>;
}

const disabled: Telemetry = {
  enabled: false,
  exportWorkflowSpans: () => undefined,
  shutdown: async () => undefined,
};

export async function startTelemetry(config: Config, serviceName: ServiceName): Promise<Telemetry> {
  if (!tracingEnabled(config)) return disabled;
  const [
    { FastifyOtelInstrumentation },
    { OTLPTraceExporter },
    { PgInstrumentation },
    { detectResources, envDetector, hostDetector, processDetector, resourceFromAttributes },
    { NodeSDK },
    { BatchSpanProcessor },
  ] = await Promise.all([
    import('@fastify/otel'),
    import('@opentelemetry/exporter-trace-otlp-proto'),
    import('@opentelemetry/instrumentation-pg'),
    import('@opentelemetry/resources'),
    import('@opentelemetry/sdk-node'),
    import('@opentelemetry/sdk-trace'),
  ]);
  // The process and host, then what OTEL_SERVICE_NAME / OTEL_RESOURCE_ATTRIBUTES say, over our defaults.
  const resource = resourceFromAttributes({ 'service.name': serviceName, 'service.namespace': 'acme.ordering' }).merge(
    detectResources({ detectors: [processDetector, hostDetector, envDetector] }),
  );
  // The exporter reads OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT, _HEADERS, _TIMEOUT and _COMPRESSION.
  const processor = new BatchSpanProcessor({
    exporter: new OTLPTraceExporter(),
    scheduledDelayMillis: config.OTEL_BSP_SCHEDULE_DELAY,
  });
  const instrumentations: NodeSDKConfiguration['instrumentations'] = [
    // Statements only inside a traced operation: the sweeper's polling would be noise.
    new PgInstrumentation({ requireParentSpan: true }),
  ];
  let fastify: InstanceType<typeof FastifyOtelInstrumentation> | undefined;
  if (serviceName === 'order-api') {
    fastify = new FastifyOtelInstrumentation({
      instrumentHooks: false,
      // Probes and documents are not orders' work.
      ignorePaths: ({ url }) =>
        url === '/healthz' || url === '/readyz' || url === '/metrics' || url.startsWith('/docs'),
      requestHook: nameRequestSpan,
    });
    instrumentations.push(fastify);
  }
  // Traces only: the metrics stay on the Prometheus endpoints, the logs on stdout.
  const sdk = new NodeSDK({
    resource,
    autoDetectResources: false,
    spanProcessors: [processor],
    metricReaders: [],
    logRecordProcessors: [],
    instrumentations,
  });
  sdk.start();
  return {
    enabled: true,
    fastifyPlugin: fastify?.plugin(),
    exportWorkflowSpans(spans, workflow) {
      for (const span of spans) processor.onEnd(readableSpanOf(span, workflow, resource));
    },
    shutdown: () => sdk.shutdown(),
  };
}

/** HTTP server spans are named `{method} {route}` (semantic conventions), e.g. `POST /orders/:orderId/complete`. */
function nameRequestSpan(span: Span, request: FastifyRequest): void {
  const route = request.routeOptions.url;
  if (route !== undefined) span.updateName(`${request.method} ${route}`);
  const orderId = (request.params as { orderId?: unknown } | undefined)?.orderId;
  if (typeof orderId === 'string') annotateActiveSpan({ orderId }, span);
}

/**
 * A span made in the workflow sandbox, as the SDK's exporters take it. Temporal's interceptors
 * build them with OpenTelemetry JS 1.x, whose spans name their parent and scope differently.
 */
function readableSpanOf(span: SerializableSpan, workflow: Attributes, resource: Resource): ReadableSpan {
  const { traceState: _traceState, ...spanContext } = span.spanContext;
  return {
    name: span.name,
    kind: span.kind,
    spanContext: () => spanContext,
    parentSpanContext:
      span.parentSpanId === undefined
        ? undefined
        : {
            traceId: spanContext.traceId,
            spanId: span.parentSpanId,
            traceFlags: spanContext.traceFlags,
            isRemote: true,
          },
    startTime: span.startTime,
    endTime: span.endTime,
    status: span.status,
    attributes: { ...span.attributes, ...workflow },
    links: span.links,
    events: span.events,
    duration: span.duration,
    ended: span.ended,
    resource,
    instrumentationScope: span.instrumentationLibrary,
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
  };
}
