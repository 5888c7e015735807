// Fault scenario of the order-summary example (examples/order-summary, on @acme/order-events):
// the Kafka broker stopped for ~15 s mid-load, then the worker and the summary consumer
// SIGKILLed. The projection must still equal the service's database and every stored event be
// applied exactly once. The Kafka restart is why it lives here and not in `npm test`: it would
// break the Kafka clients of every other test of that run. It restarts no PostgreSQL.
import { afterAll, describe, expect, it } from 'vitest';
import { ORDER_COUNT, runSummaryScenario } from '../../examples/order-summary/test/summary-scenario.js';
import { serviceState, stackCommand, waitUntil } from './stack-control.js';

/** The single-broker stack only: the cluster profile has its own scenarios. */
const CLUSTER = process.env.STACK_PROFILE === 'cluster';

afterAll(async () => {
  // Whatever happened, the broker is up again for the next scenario.
  if (!CLUSTER) await stackCommand('start', 'kafka');
});

describe.skipIf(CLUSTER)('fault suite, order-summary consumer', () => {
  it('i. Kafka down ~15 s, then the worker and the summary consumer SIGKILLed: the summary equals the database', async () => {
    const result = await runSummaryScenario('faults', [
      {
        afterOrders: 6,
        strike: async () => {
          await stackCommand('stop', 'kafka');
          const downAt = Date.now();
          try {
            await waitUntil('15 s of Kafka outage', () => Date.now() - downAt >= 15_000, 30_000);
            expect(await serviceState('kafka')).toBe('stopped');
          } finally {
            await stackCommand('start', 'kafka');
          }
        },
      },
      {
        afterOrders: 14,
        strike: async (running) => {
          await running.worker.stop('SIGKILL');
          await running.restartWorker();
        },
      },
      {
        afterOrders: 20,
        strike: async (running) => {
          running.consumer.child.kill('SIGKILL');
          await running.consumer.exited;
          await running.restartConsumer();
        },
      },
    ]);
    console.log(
      `i. order summary: ${result.faults.length} faults (${result.faults.join(', ')}), ` +
        `${result.storedEventIds.length} events stored, ${result.appliedEventIds.length} applied, ` +
        `${result.redeliveriesSkipped} redeliveries skipped`,
    );
    expect(result.faults).toHaveLength(3);
    expect(result.ordersByStatus).toEqual({
      CANCELLED: ORDER_COUNT / 4,
      COMPLETED: ORDER_COUNT / 2,
      CONFIRMED: ORDER_COUNT / 4,
    });
    expect(result.projection).toEqual(result.expected);
    expect(result.appliedEventIds).toEqual(result.storedEventIds);
    expect(result.consumerTrouble).toEqual([]);
  });
});
