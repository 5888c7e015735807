// The only module that imports `kafkajs`.
import { type Attributes, context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { Kafka, logLevel, type Message, Partitioners, type Producer } from 'kafkajs';
import { type Config, kafkaConnectionOf } from '../config.js';
import { within } from '../deadline.js';
import type { LogSink } from '../logger.js';
import { contextOf, type TraceContext, traceContextFrom } from '../tracing.js';

/** The catalog's channel of order lifecycle events. */
export const ORDER_EVENTS_TOPIC = 'ordering.orders';
export const ORDER_EVENTS_PARTITIONS = 6;

/** The channel of commands the service consumes (CreateOrder, CancelOrder, CompleteOrder). */
export const ORDER_COMMANDS_TOPIC = 'ordering.commands';
export const ORDER_COMMANDS_PARTITIONS = 6;
/** Where commands that cannot be served go, as received, with headers saying why. */
export const ORDER_COMMANDS_DLQ_TOPIC = 'ordering.commands.dlq';
export const ORDER_COMMANDS_DLQ_PARTITIONS = 6;

/** The topics of one environment: the catalog's names after its KAFKA_TOPIC_PREFIX. */
export interface OrderTopics {
  events: string;
  commands: string;
  deadLetters: string;
}

export function orderTopics(prefix: string): OrderTopics {
  return {
    events: `${prefix}${ORDER_EVENTS_TOPIC}`,
    commands: `${prefix}${ORDER_COMMANDS_TOPIC}`,
    deadLetters: `${prefix}${ORDER_COMMANDS_DLQ_TOPIC}`,
  };
}

export function createKafka(config: Config, logger: LogSink): Kafka {
  return new Kafka({
    clientId: config.KAFKA_CLIENT_ID,
    // Brokers, TLS and SASL.
    ...kafkaConnectionOf(config),
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
    // Few quick retries: a send that still fails is retried by Temporal with backoff.
    retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2_000 },
    logLevel: logLevel.WARN,
    logCreator: () => kafkaLogLine(logger),
  });
}

/**
 * kafkajs reports at ERROR what it retries and recovers from itself (a broker restarting, a
 * group rebalancing): those are warnings for us, and one line per kind of trouble every 10 s
 * is enough. Failures it does not recover from reach our code as rejected calls, logged there.
 */
function kafkaLogLine(logger: LogSink) {
  const lastLogged = new Map<string, number>();
  return ({ level, log }: { level: logLevel; log: { message: string } & Record<string, unknown> }) => {
    const { message, stack: _stack, ...details } = log;
    if (level > logLevel.WARN) {
      logger.info(details, `kafka: ${message}`);
      return;
    }
    const kind = message.replace(/[\d.]+/g, '#');
    const now = Date.now();
    if (now - (lastLogged.get(kind) ?? 0) < 10_000) return;
    lastLogged.set(kind, now);
    logger.warn(details, `kafka: ${message}`);
  };
}

/** Creates each topic that is missing; leaves existing ones as they are. */
export async function ensureTopics(kafka: Kafka, topics: { topic: string; numPartitions: number }[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const missing = topics.filter(({ topic }) => !existing.has(topic));
    if (missing.length > 0) {
      await admin.createTopics({
        topics: missing.map(({ topic, numPartitions }) => ({ topic, numPartitions, replicationFactor: -1 })),
        waitForLeaders: true,
      });
    }
  } finally {
    await admin.disconnect();
  }
}

/** Kafka record headers, as kafkajs gives and takes them. */
export type MessageHeaders = Record<string, string | Buffer | (string | Buffer)[] | undefined>;

export interface OutgoingMessage {
  key: string | Buffer | null;
  value: string | Buffer | null;
  headers: MessageHeaders;
  /** The trace its send span continues (an event's stored context); the active one when absent. */
  traceContext?: TraceContext;
  /** More attributes of the send span (e.g. the order's id). */
  spanAttributes?: Attributes;
}

export interface EventPublisher {
  /** Resolves once the broker acknowledged the message (acks=all). */
  publish(topic: string, message: OutgoingMessage): Promise<void>;
  close(): Promise<void>;
}

interface Pending {
  topic: string;
  message: Message;
  resolve: () => void;
  reject: (error: unknown) => void;
}

const tracer = trace.getTracer('order-service/kafka');

/** The messaging semantic conventions' attributes of a Kafka span; the key as the sender wrote it, bounded. */
function messagingAttributes(operation: 'send' | 'process', topic: string, key: string | Buffer | null): Attributes {
  return {
    'messaging.system': 'kafka',
    'messaging.operation.name': operation,
    'messaging.operation.type': operation,
    'messaging.destination.name': topic,
    ...(key === null ? {} : { 'messaging.kafka.message.key': key.toString().slice(0, 200) }),
  };
}

/** A PRODUCER span per message, `send <topic>` (messaging semantic conventions), ended by the broker's answer. */
function startSendSpan(topic: string, { key, traceContext, spanAttributes }: OutgoingMessage): Span {
  return tracer.startSpan(
    `send ${topic}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: { ...messagingAttributes('send', topic, key), ...spanAttributes },
    },
    contextOf(traceContext),
  );
}

const MAX_BATCH = 500;

export interface EventPublisherOptions {
  /**
   * A send the broker has not acknowledged by then fails, and the producer is replaced. Longer
   * than kafkajs' own retries of a healthy send (requestTimeout and retries in `createKafka`).
   */
  sendTimeoutMs?: number;
  /** A PRODUCER span per message (tracing on). Off, no span is made, not even a no-op one. */
  traced?: boolean;
}

/**
 * An idempotent producer fed by a queue: concurrent publishes are gathered into one
 * `sendBatch` at a time. kafkajs' idempotent producer must never send concurrently
 * (kafkajs#598, OUT_OF_ORDER_SEQUENCE_NUMBER), and batching is also ~30× faster.
 *
 * One send at a time means one stuck send would stop every publish of the process, and a
 * producer can be left unusable by a broker restart (a send that never settles, or a producer
 * id the broker forgot). So a send has a deadline, and after any failed send the producer is
 * dropped and the next send connects a new one: publishing recovers by itself once the cluster
 * answers. The first connect happens here, so a wrong address or credential fails the start.
 */
export async function createEventPublisher(
  kafka: Pick<Kafka, 'producer'>,
  logger: LogSink,
  { sendTimeoutMs = 30_000, traced = false }: EventPublisherOptions = {},
): Promise<EventPublisher> {
  const newProducer = (): Producer =>
    kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      // Murmur2, as the Java client: consumers in any language agree on an order's partition.
      createPartitioner: Partitioners.DefaultPartitioner,
    });
  /** Connects a new producer within the deadline; one that does not connect is let go. */
  async function connectProducer(): Promise<Producer> {
    const candidate = newProducer();
    try {
      await within(sendTimeoutMs, 'kafka: producer connect', candidate.connect());
      return candidate;
    } catch (error) {
      letGo(candidate);
      throw error;
    }
  }
  /** Disconnects a producer in the background: it may be the one that hangs. */
  function letGo(old: Producer): void {
    within(sendTimeoutMs, 'kafka: producer disconnect', old.disconnect()).catch(() => undefined);
  }

  let producer: Producer | undefined = await connectProducer();
  const queue: Pending[] = [];
  let flushing = false;
  let closed = false;

  async function send(batch: Pending[]): Promise<void> {
    const byTopic = new Map<string, Message[]>();
    for (const { topic, message } of batch) {
      const messages = byTopic.get(topic) ?? [];
      messages.push(message);
      byTopic.set(topic, messages);
    }
    producer ??= await connectProducer();
    const sending = producer.sendBatch({
      acks: -1,
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
    try {
      await within(sendTimeoutMs, 'kafka: send', sending);
    } catch (error) {
      logger.warn(
        { err: error, messages: batch.length },
        'kafka: send failed; the publishes fail (retried by their callers), the next send uses a new producer',
      );
      letGo(producer);
      producer = undefined;
      throw error;
    }
  }

  async function flush(): Promise<void> {
    if (flushing) return;
    flushing = true;
    try {
      while (queue.length > 0) {
        const batch = queue.splice(0, MAX_BATCH);
        try {
          await send(batch);
          for (const pending of batch) pending.resolve();
        } catch (error) {
          for (const pending of batch) pending.reject(error);
        }
      }
    } finally {
      flushing = false;
    }
  }

  return {
    publish(topic, message) {
      if (closed) return Promise.reject(new Error('event publisher is closed'));
      const { key, value, headers } = message;
      const span = traced ? startSendSpan(topic, message) : undefined;
      return new Promise<void>((resolve, reject) => {
        queue.push({
          topic,
          message: { key, value, headers },
          resolve: () => {
            span?.end();
            resolve();
          },
          reject: (error) => {
            span?.recordException(error instanceof Error ? error : String(error));
            span?.setStatus({ code: SpanStatusCode.ERROR, message: 'the broker did not acknowledge the message' });
            span?.end();
            reject(error);
          },
        });
        void flush();
      });
    },
    async close() {
      closed = true;
      await flush();
      if (producer !== undefined) await producer.disconnect();
    },
  };
}

/** A cheap reachability check of the cluster, for readiness probes. */
export function createKafkaProbe(kafka: Kafka) {
  const admin = kafka.admin();
  let connected: Promise<void> | undefined;
  return {
    async ping(): Promise<void> {
      connected ??= admin.connect().catch((error: unknown) => {
        connected = undefined;
        throw error;
      });
      await connected;
      await admin.describeCluster();
    },
    async close(): Promise<void> {
      if (connected !== undefined) await admin.disconnect();
    },
  };
}

/** A record as read from a topic: key, value and headers are the stored bytes, to be dead-lettered intact. */
export interface IncomingMessage {
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: MessageHeaders;
}

export interface MessageContext {
  /** Aborted when the consumer stops or loses its group membership: stop retrying and throw. */
  signal: AbortSignal;
}

export interface CommandConsumerOptions {
  groupId: string;
  topic: string;
  /**
   * Deals with one message: served or dead-lettered, it resolves and its offset is committed.
   * When it throws, the offset is not committed and the message is read again.
   */
  handle(message: IncomingMessage, context: MessageContext): Promise<void>;
  logger: LogSink;
  /** Partitions processed at once; within a partition, messages are handled one at a time, in order. */
  concurrency?: number;
  /** A CONSUMER span per message, continuing the sender's trace (tracing on). Off, no span is made. */
  traced?: boolean;
}

export interface CommandConsumer {
  /** Stops fetching, lets the message in hand finish (retries are aborted), leaves the group. Never rejects. */
  stop(): Promise<void>;
}

const HEARTBEAT_EVERY_MS = 3_000;

/** One header's value as text (kafkajs gives Buffers), the first of several. */
function headerText(headers: MessageHeaders, name: string): string | undefined {
  const value = headers[name];
  const first = Array.isArray(value) ? value[0] : value;
  return first === undefined ? undefined : first.toString();
}

/**
 * A CONSUMER span per message, `process <topic>` (messaging semantic conventions), continuing
 * the trace the sender put in the CloudEvents distributed-tracing headers (ce_traceparent,
 * ce_tracestate) or in plain W3C ones; a malformed one is ignored and the span starts a trace.
 */
function startProcessSpan(
  topic: string,
  partition: number,
  offset: string,
  key: Buffer | null,
  headers: MessageHeaders,
): Span {
  const sender =
    traceContextFrom(headerText(headers, 'ce_traceparent'), headerText(headers, 'ce_tracestate')) ??
    traceContextFrom(headerText(headers, 'traceparent'), headerText(headers, 'tracestate'));
  return tracer.startSpan(
    `process ${topic}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        ...messagingAttributes('process', topic, key),
        'messaging.destination.partition.id': String(partition),
        'messaging.kafka.offset': Number(offset),
        // What the sender wrote, bounded: a hostile header must not make a huge span.
        'cloudevents.event_type': (headerText(headers, 'ce_type') ?? '').slice(0, 100),
      },
    },
    sender === undefined ? context.active() : contextOf(sender),
  );
}

/**
 * Consumes `topic` in consumer group `groupId`, one message at a time per partition, committing
 * each offset only once `handle` resolved for it (at-least-once: a crash replays from there).
 */
export async function createCommandConsumer(
  kafka: Kafka,
  { groupId, topic, handle, logger, concurrency = 1, traced = false }: CommandConsumerOptions,
): Promise<CommandConsumer> {
  const stopping = new AbortController();
  const consumer = kafka.consumer({
    groupId,
    allowAutoTopicCreation: false,
    // kafkajs' own default (5 retries), and no restart once stopping: a crash while disconnecting
    // (e.g. after a broker restart) would otherwise start the consumer again and keep the process alive.
    retry: { retries: 5, restartOnFailure: async () => !stopping.signal.aborted },
  });
  let restartTimer: NodeJS.Timeout | undefined;

  async function start(): Promise<void> {
    await consumer.connect();
    // A new group starts at the beginning: no command sent before it existed is skipped.
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: concurrency,
      eachMessage: async ({ topic: from, partition, message, heartbeat }) => {
        // Long retries must not cost the group membership; a failed heartbeat (rebalance,
        // broker gone) aborts the handling and is rethrown for kafkajs to rejoin or restart.
        const lost = new AbortController();
        let heartbeatError: unknown;
        const ticker = setInterval(() => {
          heartbeat().catch((error: unknown) => {
            heartbeatError ??= error;
            lost.abort(error);
          });
        }, HEARTBEAT_EVERY_MS);
        const headers = message.headers ?? {};
        const span = traced ? startProcessSpan(from, partition, message.offset, message.key, headers) : undefined;
        const handled = () =>
          handle(
            { topic: from, partition, offset: message.offset, key: message.key, value: message.value, headers },
            { signal: AbortSignal.any([stopping.signal, lost.signal]) },
          );
        try {
          // The command's handling continues the sender's trace (its ce_traceparent, or traceparent).
          await (span === undefined ? handled() : context.with(trace.setSpan(context.active(), span), handled));
        } catch (error) {
          span?.setStatus({ code: SpanStatusCode.ERROR, message: 'the command was not handled; it is read again' });
          throw heartbeatError ?? error;
        } finally {
          clearInterval(ticker);
          span?.end();
        }
        if (heartbeatError !== undefined) throw heartbeatError;
        await consumer.commitOffsets([{ topic: from, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
      },
    });
  }

  // kafkajs restarts itself after retriable failures; after any other crash, so do we.
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (payload.restart || stopping.signal.aborted) return;
    logger.error({ groupId, err: payload.error }, 'kafka: command consumer crashed; restarting it in 5 s');
    restartTimer = setTimeout(function restart() {
      if (stopping.signal.aborted) return;
      start().catch((error: unknown) => {
        logger.error({ groupId, err: error }, 'kafka: command consumer failed to restart; retrying in 5 s');
        restartTimer = setTimeout(restart, 5_000);
      });
    }, 5_000);
  });

  await start();
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        stopping.abort(new Error('the command consumer is stopping'));
        clearTimeout(restartTimer);
        await consumer.disconnect().catch((error: unknown) => {
          logger.warn({ groupId, err: error }, 'kafka: command consumer did not disconnect cleanly');
        });
      })();
      return stopped;
    },
  };
}
