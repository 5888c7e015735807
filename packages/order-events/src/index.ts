// @acme/order-events: the consumer side of the Order Service's ordering.orders topic.
export {
  DeadLetterHeader,
  HANDLER_FAILED,
  isConnectionError,
  type Logger,
  type OrderEventConsumer,
  type OrderEventConsumerOptions,
  startOrderEventConsumer,
} from './consumer.js';
export * from './generated/order-events.js';
export {
  type KafkaRecord,
  type OrderEvent,
  OrderEventError,
  OrderEventErrorCode,
  parseOrderEvent,
} from './parse.js';
export {
  ApplyError,
  createDeduplicationStore,
  type DeduplicationStore,
  type DeduplicationStoreOptions,
  type SequenceAnomaly,
  type WithEventResult,
} from './store.js';
export { inEventTrace, traceContextOf } from './trace.js';
