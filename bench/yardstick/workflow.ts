// The benchmark's fixed yardstick (issue 13): the order workflow of 2026-11-30's shape, written
// as the classic Temporal order sample writes it: started with workflow.start, four remote
// activities that return at once, and a signal to complete or cancel; no I/O anywhere.
//
// FROZEN. Unlike bench/bare-workflow.ts (the order workflow itself, which moves with every
// change to it), this one never changes, so `ratioToYardstick` compares runs across months.
// Change it and every earlier ratio in bench/README.md stops being comparable.
import { condition, proxyActivities, setHandler } from '@temporalio/workflow';
import { endOrderSignal, type YardstickActivities, type YardstickEnding, type YardstickOrder } from './definitions.js';

const { persistOrder, publishOrderEvent, persistTransition, publishOrderEvents } = proxyActivities<YardstickActivities>(
  {
    startToCloseTimeout: '15 seconds',
    retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds' },
  },
);

export async function yardstickOrderWorkflow(order: YardstickOrder): Promise<string> {
  let ending: YardstickEnding | undefined;
  setHandler(endOrderSignal, (requested) => {
    ending ??= requested;
  });
  await persistOrder(order);
  await publishOrderEvent({ orderId: order.orderId, type: 'OrderCreated' });
  await condition(() => ending !== undefined);
  const ended = ending as YardstickEnding;
  const { status } = await persistTransition(order.orderId, ended);
  const type = ended.command === 'complete' ? 'OrderCompleted' : 'OrderCancelled';
  await publishOrderEvents({ orderId: order.orderId, types: [type, 'OrderStatusChanged'] });
  return status;
}
