// The outbox: each event is committed with the state change it announces, then published
// from there, byte for byte, under its stored ce_id: by the workflow right after the change,
// and by the sweeper for events left unpublished (a workflow terminated between the two steps).
import type { MetricMeter } from '@temporalio/common';
import type { Database } from './db/index.js';
import { claimUnpublishedEvents, markEventsPublished } from './db/orders-repository.js';
import { cloudEventHeaders, type NewEvent, type StoredEvent } from './domain/events.js';
import { eventIdFor } from './ids.js';
import type { EventPublisher } from './kafka/index.js';
import type { LogSink } from './logger.js';
import { orderAttributes, type TraceContext, traceContextFrom } from './tracing.js';

/**
 * An event of an order's transition number `sequence` as the outbox keeps it: its ce_id, its
 * exact bytes, and the trace context it is committed in (published as ce_traceparent).
 */
export function storedEventOf(
  orderId: string,
  sequence: number,
  event: NewEvent,
  traceContext: TraceContext | undefined,
): StoredEvent {
  return {
    eventId: eventIdFor(orderId, sequence, event.type),
    orderId,
    sequence,
    type: event.type,
    payload: JSON.stringify(event.payload),
    occurredAt: event.occurredAt,
    ...traceContext,
  };
}

/** Counts published and failed publishes, whoever publishes. */
export interface PublishMetrics {
  published(eventType: string): void;
  failed(): void;
}

/** The worker's publish counters on the Temporal runtime's meter (its Prometheus endpoint). */
export function createPublishMetrics(meter: MetricMeter): PublishMetrics {
  const published = meter.createCounter('order_events_published', '', 'Order events published to Kafka');
  const failed = meter.createCounter('order_event_publish_failures', '', 'Failed publishes of order events');
  return {
    published: (eventType) => published.add(1, { event_type: eventType }),
    failed: () => failed.add(1),
  };
}

export interface OutboxPublisher {
  publisher: EventPublisher;
  /** The environment's ordering.orders (KAFKA_TOPIC_PREFIX). */
  topic: string;
  /** CloudEvents ce_source of published events. */
  eventSource: string;
  metrics: PublishMetrics;
}

/** Sends stored events to ordering.orders (queued in order: one order's events keep their order on its partition). */
export async function publishStoredEvents(
  { publisher, topic, eventSource, metrics }: OutboxPublisher,
  events: StoredEvent[],
): Promise<void> {
  try {
    await Promise.all(
      events.map((event) =>
        publisher.publish(topic, {
          key: event.orderId,
          value: event.payload,
          headers: cloudEventHeaders(event, eventSource),
          // The send belongs to the trace the event was committed in, whoever sends it.
          traceContext: traceContextFrom(event.traceparent, event.tracestate),
          spanAttributes: { ...orderAttributes({ orderId: event.orderId }), 'messaging.message.id': event.eventId },
        }),
      ),
    );
  } catch (error) {
    metrics.failed();
    throw error;
  }
  for (const event of events) metrics.published(event.type);
}

export interface OutboxSweeperOptions extends OutboxPublisher {
  db: Database;
  logger: LogSink;
  intervalMs: number;
  olderThanMs: number;
  batchSize?: number;
}

export function startOutboxSweeper({
  db,
  logger,
  intervalMs,
  olderThanMs,
  batchSize = 500,
  ...outbox
}: OutboxSweeperOptions) {
  /** One pass: returns how many events it republished. */
  async function sweep(): Promise<number> {
    return db.withTransaction(async (tx) => {
      const events = await claimUnpublishedEvents(tx, olderThanMs, batchSize);
      if (events.length === 0) return 0;
      await publishStoredEvents(outbox, events);
      await markEventsPublished(
        tx,
        events.map((event) => event.eventId),
      );
      logger.info({ republished: events.length }, 'outbox sweeper republished events');
      return events.length;
    });
  }

  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    running ??= sweep()
      .catch((error: unknown) => logger.warn({ err: error }, 'outbox sweep failed; will retry'))
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();

  return {
    sweep,
    async stop(): Promise<void> {
      clearInterval(timer);
      await running;
    },
  };
}
