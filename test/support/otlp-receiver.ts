// An OTLP/HTTP trace receiver for tests: the services export to it as they would to a collector
// (OTEL_EXPORTER_OTLP_ENDPOINT = receiver.url), and tests read back the spans as flat records,
// with no collector, Jaeger or Tempo to run. Accepts OTLP/HTTP protobuf, what the services send
// (@opentelemetry/exporter-trace-otlp-proto), gzip-compressed or not; anything else is a 415.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import protobuf from 'protobufjs';

export type AttributeValue = string | number | boolean | unknown[];

export interface ReceivedSpan {
  /** 32 lowercase hex digits. */
  traceId: string;
  /** 16 lowercase hex digits. */
  spanId: string;
  /** '' for a root span. */
  parentSpanId: string;
  name: string;
  kind: SpanKindName;
  startNs: bigint;
  endNs: bigint;
  attributes: Record<string, AttributeValue>;
  /** The resource's attributes, e.g. `service.name`. */
  resource: Record<string, AttributeValue>;
  /** The instrumentation scope's name. */
  scope: string;
  /** 0 unset, 1 ok, 2 error. */
  statusCode: number;
}

export interface OtlpReceiver {
  /** The OTEL_EXPORTER_OTLP_ENDPOINT value, e.g. http://127.0.0.1:PORT (exporters append /v1/traces). */
  url: string;
  /** Every span received so far, in arrival order. */
  spans(): ReceivedSpan[];
  trace(traceId: string): ReceivedSpan[];
  /** Export requests received (and decoded). */
  requests(): number;
  clear(): void;
  close(): Promise<void>;
}

const SPAN_KINDS = ['unspecified', 'internal', 'server', 'client', 'producer', 'consumer'] as const;
export type SpanKindName = (typeof SPAN_KINDS)[number];

// Just the part of opentelemetry-proto (collector/trace/v1/trace_service.proto, trace/v1/trace.proto,
// common/v1/common.proto, resource/v1/resource.proto) a test reads; protobuf skips the fields left
// out (events, links, flags, dropped counts, schema URLs). Field numbers as in the real files.
const OTLP_TRACE_PROTO = `
syntax = "proto3";
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; }
message Resource { repeated KeyValue attributes = 1; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; }
message InstrumentationScope { string name = 1; string version = 2; }
message Span {
  bytes trace_id = 1;
  bytes span_id = 2;
  string trace_state = 3;
  bytes parent_span_id = 4;
  string name = 5;
  int32 kind = 6; // the SpanKind enum, read as its number
  fixed64 start_time_unix_nano = 7;
  fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9;
  Status status = 15;
}
message Status { string message = 2; int32 code = 3; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue {
  oneof value {
    string string_value = 1;
    bool bool_value = 2;
    int64 int_value = 3;
    double double_value = 4;
    ArrayValue array_value = 5;
    KeyValueList kvlist_value = 6;
    bytes bytes_value = 7;
  }
}
message ArrayValue { repeated AnyValue values = 1; }
message KeyValueList { repeated KeyValue values = 1; }
`;

// protobufjs names the fields in lowerCamelCase, as OTLP/JSON does: one shape for both encodings.
const ExportTraceServiceRequest = protobuf.parse(OTLP_TRACE_PROTO).root.lookupType('ExportTraceServiceRequest');

/** An ExportTraceServiceRequest as OTLP/JSON spells it (and as protobufjs's toObject gives it). */
interface OtlpRequest {
  resourceSpans?: {
    resource?: { attributes?: OtlpKeyValue[] };
    scopeSpans?: { scope?: { name?: string }; spans?: OtlpSpan[] }[];
  }[];
}
interface OtlpSpan {
  traceId?: string;
  spanId?: string;
  parentSpanId?: string;
  name?: string;
  kind?: number;
  startTimeUnixNano?: string | number;
  endTimeUnixNano?: string | number;
  attributes?: OtlpKeyValue[];
  status?: { code?: number };
}
interface OtlpKeyValue {
  key: string;
  value?: OtlpAnyValue;
}
interface OtlpAnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number | string;
  arrayValue?: { values?: OtlpAnyValue[] };
  kvlistValue?: { values?: OtlpKeyValue[] };
  bytesValue?: string;
}

function decodeProtobuf(body: Buffer): OtlpRequest {
  // longs: String, so 64-bit nanoseconds reach BigInt exactly (protobufjs decodes them as Long,
  // whose toNumber would round them); bytes: String gives base64, as OTLP/JSON has bytesValue.
  const message = ExportTraceServiceRequest.decode(body);
  return ExportTraceServiceRequest.toObject(message, { longs: String, bytes: String }) as OtlpRequest;
}

const base64ToHex = (id: string | undefined) => Buffer.from(id ?? '', 'base64').toString('hex');

function anyValue(value: OtlpAnyValue | undefined): AttributeValue | undefined {
  if (value === undefined) return undefined;
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.intValue !== undefined) {
    // int64: a number when it is one exactly, the decimal string when it is too large for one.
    const n = Number(value.intValue);
    return Number.isSafeInteger(n) ? n : String(value.intValue);
  }
  if (value.doubleValue !== undefined) return Number(value.doubleValue);
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(anyValue);
  // A key-value list (rare in attributes) as [key, value] pairs, to stay within AttributeValue.
  if (value.kvlistValue !== undefined)
    return (value.kvlistValue.values ?? []).map((kv) => [kv.key, anyValue(kv.value)]);
  if (value.bytesValue !== undefined) return value.bytesValue;
  return undefined;
}

function attributesOf(list: OtlpKeyValue[] | undefined): Record<string, AttributeValue> {
  const attributes: Record<string, AttributeValue> = {};
  for (const { key, value } of list ?? []) {
    const converted = anyValue(value);
    if (converted !== undefined) attributes[key] = converted;
  }
  return attributes;
}

function flatten(request: OtlpRequest): ReceivedSpan[] {
  const spans: ReceivedSpan[] = [];
  for (const resourceSpans of request.resourceSpans ?? []) {
    const resource = attributesOf(resourceSpans.resource?.attributes);
    for (const scopeSpans of resourceSpans.scopeSpans ?? []) {
      for (const span of scopeSpans.spans ?? []) {
        spans.push({
          traceId: base64ToHex(span.traceId),
          spanId: base64ToHex(span.spanId),
          parentSpanId: base64ToHex(span.parentSpanId),
          name: span.name ?? '',
          kind: SPAN_KINDS[span.kind ?? 0] ?? 'unspecified',
          startNs: BigInt(String(span.startTimeUnixNano ?? 0)),
          endNs: BigInt(String(span.endTimeUnixNano ?? 0)),
          attributes: attributesOf(span.attributes),
          resource,
          scope: scopeSpans.scope?.name ?? '',
          statusCode: span.status?.code ?? 0,
        });
      }
    }
  }
  return spans;
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  // The OTLP exporters gzip when OTEL_EXPORTER_OTLP_COMPRESSION=gzip (off by default).
  return request.headers['content-encoding'] === 'gzip' ? promisify(gunzip)(body) : body;
}

/** Starts a receiver on 127.0.0.1 at a free port. */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  let received: ReceivedSpan[] = [];
  let requests = 0;

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const path = (request.url ?? '').split('?')[0];
    if (request.method !== 'POST' || path !== '/v1/traces') {
      response.writeHead(404).end();
      return;
    }
    const contentType = (request.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
    const encoding = request.headers['content-encoding'];
    if (contentType !== 'application/x-protobuf' || (encoding && encoding !== 'gzip')) {
      response.writeHead(415).end();
      return;
    }
    let spans: ReceivedSpan[];
    try {
      const body = await readBody(request);
      spans = flatten(decodeProtobuf(body));
    } catch (error) {
      // 400 is what OTLP/HTTP answers to a body it cannot decode; the exporter reports it as a failure.
      response.writeHead(400, { 'content-type': 'text/plain' }).end(String(error));
      return;
    }
    requests += 1;
    received.push(...spans);
    // An empty ExportTraceServiceResponse: no partial_success, i.e. every span accepted.
    response.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) response.writeHead(500);
      response.end(String(error));
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    spans: () => [...received],
    trace: (traceId) => received.filter((span) => span.traceId === traceId.toLowerCase()),
    requests: () => requests,
    clear: () => {
      received = [];
      requests = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Exporters keep their connections alive; without this close waits for them to time out.
        server.closeAllConnections();
      }),
  };
}
