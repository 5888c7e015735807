// The Kafka command gateway: consumes ordering.commands and sends each command through the same
// order service as the HTTP routes, with a Temporal client of its own. The worker process runs
// it beside the Temporal worker; it is a module of its own so that its wiring (and what it needs
// closed, in which order) lives in one place.
import { type Config, describeTemporalConnection } from '../config.js';
import type { Database } from '../db/index.js';
import {
  createCommandConsumer,
  type EventPublisher,
  ORDER_COMMANDS_PARTITIONS,
  type OrderTopics,
} from '../kafka/index.js';
import type { Logger } from '../logger.js';
import { createOrderService } from '../orders/order-service.js';
import { reach } from '../startup.js';
import { connectOrderWorkflowClient } from '../temporal/client.js';
import { createCommandHandler } from './command-handler.js';

export interface CommandGatewayDeps {
  kafka: Parameters<typeof createCommandConsumer>[0];
  db: Database;
  /** Publishes dead letters: the worker's event publisher (acks=all, idempotent), closed by its owner. */
  deadLetters: Pick<EventPublisher, 'publish'>;
  topics: Pick<OrderTopics, 'commands' | 'deadLetters'>;
  /** Whether each command's handling is a span continuing its sender's trace. */
  traced: boolean;
  logger: Logger;
}

export interface CommandGateway {
  /** Stops taking commands; the one in hand finishes first. Safe to call more than once. */
  stop(): Promise<void>;
  /** Stops taking commands, then closes the gateway's Temporal client. */
  close(): Promise<void>;
}

export async function startCommandGateway(
  config: Config,
  { kafka, db, deadLetters, topics, traced, logger }: CommandGatewayDeps,
): Promise<CommandGateway> {
  const workflows = await reach(describeTemporalConnection(config), () => connectOrderWorkflowClient(config));
  const orders = createOrderService({
    db,
    workflows,
    createTimeoutMs: config.CREATE_ORDER_TIMEOUT_MS,
    transitionWaitMs: config.TRANSITION_WAIT_MS,
  });
  const consumerGroup = `${config.KAFKA_TOPIC_PREFIX}${config.COMMANDS_CONSUMER_GROUP}`;
  const consumer = config.COMMANDS_ENABLED
    ? await createCommandConsumer(kafka, {
        groupId: consumerGroup,
        topic: topics.commands,
        concurrency: ORDER_COMMANDS_PARTITIONS,
        traced,
        logger,
        handle: createCommandHandler({
          orders,
          deadLetters,
          deadLetterTopic: topics.deadLetters,
          consumerGroup,
          logger,
        }),
      })
    : // COMMANDS_ENABLED off: nothing is consumed (the client above is connected all the same, as it always was).
      { stop: async () => {} };
  return {
    stop: () => consumer.stop(),
    async close() {
      await consumer.stop();
      await workflows.close();
    },
  };
}
