// A consumer of ordering.orders over kafkajs: at least once from Kafka, effects exactly once.
// Each record is parsed and validated; a valid event is handled in a PostgreSQL transaction that
// also records its ce_id (a redelivery changes nothing) and checks its order's status sequence;
// the offset is committed only after that transaction (or the dead letter) is. A record that is
// not a valid order event, or that its handler keeps refusing, goes to a dead-letter topic with
// the reason, and the consumer goes on.
import { type Meter, metrics } from '@opentelemetry/api';
import { type IHeaders, type Kafka, type KafkaMessage, Partitioners, type Producer } from 'kafkajs';
import type pg from 'pg';
import { ORDER_EVENTS_TOPIC } from './generated/order-events.js';
import { type OrderEvent, OrderEventError, OrderEventErrorCode, parseOrderEvent } from './parse.js';
import { ApplyError, createDeduplicationStore, type SequenceAnomaly } from './store.js';
import { inEventTrace } from './trace.js';

/** pino's shape; console-like loggers fit too. */
export interface Logger {
  info(details: object, message: string): void;
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

/** The headers a dead letter carries on top of the original ones (the service's command DLQ uses the same names). */
export const DeadLetterHeader = {
  reason: 'dlq_reason',
  message: 'dlq_message',
  field: 'dlq_field',
  originalTopic: 'dlq_original_topic',
  originalPartition: 'dlq_original_partition',
  originalOffset: 'dlq_original_offset',
  failedAt: 'dlq_failed_at',
  consumerGroup: 'dlq_consumer_group',
} as const;

/** `dlq_reason` of a valid event whose handler failed `maxAttempts` times. */
export const HANDLER_FAILED = 'HANDLER_FAILED';

export interface OrderEventConsumerOptions {
  kafka: Kafka;
  groupId: string;
  /** The topic, with the environment's prefix if any; ordering.orders by default. */
  topic?: string;
  /** Where the consumer's own writes go: the deduplication store lives in the same database. */
  pool: pg.Pool;
  /** The store's PostgreSQL schema (order_events_consumer by default). */
  schema?: string;
  /** Applies one event with `tx`, the transaction that records its ce_id: write with it, and only with it. */
  handle(event: OrderEvent, tx: pg.PoolClient): Promise<void>;
  /** A gap or a regression of an order's OrderStatusChanged.sequence (also logged and counted). */
  onSequenceAnomaly?(anomaly: SequenceAnomaly, event: OrderEvent): void;
  /** `<topic>.<groupId>.dlq` by default; created when missing. */
  deadLetterTopic?: string;
  /** Attempts of a failing handler before its event is dead-lettered (errors reaching PostgreSQL are retried without end). */
  maxAttempts?: number;
  /**
   * An event type this version of the kit does not know: the service adds types in minor
   * versions, and a consumer ignores those it does not know (logged and counted) unless asked
   * to dead-letter them.
   */
  unknownTypes?: 'skip' | 'dead-letter';
  partitionsConsumedConcurrently?: number;
  logger?: Logger;
  /** Where the counters go; OpenTelemetry's global meter by default (no-op without an SDK). */
  meter?: Meter;
}

export interface OrderEventConsumer {
  /** Lets the event in hand finish, leaves the group. */
  stop(): Promise<void>;
}

const consoleLogger: Logger = {
  info: (details, message) => console.info(JSON.stringify({ level: 'info', msg: message, ...details })),
  warn: (details, message) => console.warn(JSON.stringify({ level: 'warn', msg: message, ...details })),
  error: (details, message) => console.error(JSON.stringify({ level: 'error', msg: message, ...details })),
};

/** SQLSTATE classes and socket errors of a database that is away, not of a handler that is wrong. */
export function isConnectionError(error: unknown): boolean {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && /^(08|57P0[1-3]|53300|ECONN|ETIMEDOUT|EPIPE|ENOTFOUND|EAI_AGAIN)/.test(code)) {
    return true;
  }
  return typeof message === 'string' && /Connection terminated|connection timeout|not queryable/i.test(message);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export async function startOrderEventConsumer(options: OrderEventConsumerOptions): Promise<OrderEventConsumer> {
  const {
    kafka,
    groupId,
    topic = ORDER_EVENTS_TOPIC,
    pool,
    handle,
    onSequenceAnomaly,
    deadLetterTopic = `${topic}.${groupId}.dlq`,
    maxAttempts = 5,
    unknownTypes = 'skip',
    partitionsConsumedConcurrently = 1,
    logger = consoleLogger,
    meter = metrics.getMeter('@acme/order-events'),
  } = options;
  const consumed = meter.createCounter('order_events_consumed', {
    description: 'Records of ordering.orders by outcome: applied, duplicate, dead_lettered, skipped',
  });
  const anomalies = meter.createCounter('order_events_sequence_anomalies', {
    description: 'OrderStatusChanged sequences that were not the next of their order (gap or regression)',
  });
  const store = createDeduplicationStore(pool, {
    consumerGroup: groupId,
    ...(options.schema === undefined ? {} : { schema: options.schema }),
  });
  await store.ensureSchema();

  const admin = kafka.admin();
  await admin.connect();
  try {
    if (!(await admin.listTopics()).includes(deadLetterTopic)) {
      await admin.createTopics({ topics: [{ topic: deadLetterTopic, numPartitions: 1 }], waitForLeaders: true });
    }
  } finally {
    await admin.disconnect();
  }
  // Murmur2, as the Java client and the service: a dead letter goes where its key would.
  const producer: Producer = kafka.producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();

  const stopping = new AbortController();
  const consumer = kafka.consumer({
    groupId,
    allowAutoTopicCreation: false,
    retry: { retries: 5, restartOnFailure: async () => !stopping.signal.aborted },
  });

  interface Where {
    topic: string;
    partition: number;
    offset: string;
  }

  async function deadLetter(message: KafkaMessage, where: Where, reason: string, detail: string, field?: string) {
    const headers: IHeaders = {
      ...message.headers,
      [DeadLetterHeader.reason]: reason,
      [DeadLetterHeader.message]: detail.slice(0, 1000),
      ...(field === undefined ? {} : { [DeadLetterHeader.field]: field }),
      [DeadLetterHeader.originalTopic]: where.topic,
      [DeadLetterHeader.originalPartition]: String(where.partition),
      [DeadLetterHeader.originalOffset]: where.offset,
      [DeadLetterHeader.failedAt]: new Date().toISOString(),
      [DeadLetterHeader.consumerGroup]: groupId,
    };
    await producer.send({
      topic: deadLetterTopic,
      acks: -1,
      messages: [{ key: message.key, value: message.value, headers }],
    });
    consumed.add(1, { outcome: 'dead_lettered', reason });
    logger.warn({ ...where, reason, field, detail, deadLetterTopic }, 'order-events: record dead-lettered');
  }

  /** Applies a valid event: retried while PostgreSQL is away, dead-lettered after `maxAttempts` handler failures. */
  async function apply(event: OrderEvent, message: KafkaMessage, where: Where, heartbeat: () => Promise<void>) {
    for (let attempt = 1; ; attempt++) {
      try {
        const done = await inEventTrace(event, { ...where, consumerGroup: groupId }, () =>
          store.withEvent(event, (tx) => handle(event, tx)),
        );
        consumed.add(1, { outcome: done.outcome, event_type: event.type });
        if (done.outcome === 'duplicate') {
          logger.info({ ...where, eventId: event.id }, 'order-events: redelivered event already applied; skipped');
        }
        if (done.outcome === 'applied' && done.anomaly !== undefined) {
          const { anomaly } = done;
          anomalies.add(1, { kind: anomaly.kind });
          logger.warn(
            { ...where, ...anomaly },
            `order-events: OrderStatusChanged sequence ${anomaly.kind} on order ${anomaly.orderId}: expected ${anomaly.expected}, received ${anomaly.received}`,
          );
          onSequenceAnomaly?.(anomaly, event);
        }
        return;
      } catch (error) {
        if (stopping.signal.aborted) throw error;
        const cause = error instanceof ApplyError ? error.error : error;
        const handlerFault = error instanceof ApplyError && !isConnectionError(cause);
        if (handlerFault && attempt >= maxAttempts) {
          await deadLetter(message, where, HANDLER_FAILED, (cause as Error)?.message ?? String(cause));
          return;
        }
        logger.warn(
          { ...where, eventId: event.id, attempt, err: (cause as Error)?.message ?? String(cause) },
          handlerFault
            ? 'order-events: handler failed; trying again'
            : 'order-events: database unavailable; trying again',
        );
        await sleep(Math.min(200 * 2 ** Math.min(attempt, 5), 5_000));
        // Long retries must not cost the group membership; a failed heartbeat (rebalance) throws.
        await heartbeat();
      }
    }
  }

  async function start(): Promise<void> {
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently,
      eachMessage: async ({ topic: from, partition, message, heartbeat }) => {
        const where = { topic: from, partition, offset: message.offset };
        let event: OrderEvent | undefined;
        try {
          event = parseOrderEvent(message);
        } catch (error) {
          if (!(error instanceof OrderEventError)) throw error;
          if (error.code === OrderEventErrorCode.unknownType && unknownTypes === 'skip') {
            consumed.add(1, { outcome: 'skipped' });
            logger.info({ ...where, detail: error.message }, 'order-events: event type unknown to this kit; skipped');
          } else {
            await deadLetter(message, where, error.code, error.message, error.field);
          }
        }
        if (event !== undefined) await apply(event, message, where, heartbeat);
        await consumer.commitOffsets([{ topic: from, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
      },
    });
  }

  // kafkajs restarts itself after retriable failures; after any other crash, so do we.
  let restartTimer: NodeJS.Timeout | undefined;
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (payload.restart || stopping.signal.aborted) return;
    logger.error({ groupId, err: payload.error.message }, 'order-events: consumer crashed; restarting it in 5 s');
    restartTimer = setTimeout(function restart() {
      if (stopping.signal.aborted) return;
      start().catch((error: unknown) => {
        logger.error({ groupId, err: (error as Error).message }, 'order-events: restart failed; again in 5 s');
        restartTimer = setTimeout(restart, 5_000);
      });
    }, 5_000);
  });

  await start();
  let stopped: Promise<void> | undefined;
  return {
    stop() {
      stopped ??= (async () => {
        stopping.abort();
        clearTimeout(restartTimer);
        await consumer.disconnect().catch(() => undefined);
        await producer.disconnect().catch(() => undefined);
      })();
      return stopped;
    },
  };
}
