// Republishes outbox events that stayed unpublished too long: for instance when an operator
// terminated a workflow between committing a state change and publishing its event.
// Retries resend the stored bytes with the stored ce_id, so consumers can deduplicate.
import type { Database } from './db/index.js';
import { claimUnpublishedEvents, markEventsPublished } from './db/orders-repository.js';
import { cloudEventHeaders } from './domain/events.js';
import { type EventPublisher, ORDER_EVENTS_TOPIC } from './kafka/index.js';
import type { Logger } from './logger.js';

export interface OutboxSweeperOptions {
  db: Database;
  publisher: EventPublisher;
  eventSource: string;
  logger: Logger;
  intervalMs: number;
  olderThanMs: number;
  batchSize?: number;
}

export function startOutboxSweeper({
  db,
  publisher,
  eventSource,
  logger,
  intervalMs,
  olderThanMs,
  batchSize = 500,
}: OutboxSweeperOptions) {
  /** One pass: returns how many events it republished. */
  async function sweep(): Promise<number> {
    return db.withTransaction(async (tx) => {
      const events = await claimUnpublishedEvents(tx, olderThanMs, batchSize);
      if (events.length === 0) return 0;
      // Queued in order, so one order's events keep their order on its partition.
      await Promise.all(
        events.map((event) =>
          publisher.publish(ORDER_EVENTS_TOPIC, {
            key: event.orderId,
            value: event.payload,
            headers: cloudEventHeaders(event, eventSource),
          }),
        ),
      );
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
