// The order-summary example on the real service: orders go through every kind of path while
// the worker and the summary consumer are SIGKILLed; afterwards the projection equals what the
// service's database implies (orders per customer and status, revenue per day), every event
// the service stored was applied exactly once (a replay of the whole topic included), and
// nothing was dead-lettered or out of sequence.
// Kafka restarting under it is the fault suite's (test/faults/order-summary.test.ts).
import { describe, expect, it } from 'vitest';
import { ORDER_COUNT, runSummaryScenario } from './summary-scenario.js';

describe('order-summary example', () => {
  it('keeps the summary equal to the service through a worker SIGKILL, a consumer SIGKILL and a replay of the topic: no double counting', async () => {
    const result = await runSummaryScenario('example', [
      {
        afterOrders: 6,
        strike: async (running) => {
          await running.worker.stop('SIGKILL');
          await running.restartWorker();
        },
      },
      {
        afterOrders: 14,
        strike: async (running) => {
          running.consumer.child.kill('SIGKILL');
          await running.consumer.exited;
          await running.restartConsumer();
        },
      },
      // Every event again, at once: a projection that counted any twice would differ from the database.
      { afterOrders: 24, strike: (running) => running.replayFromBeginning() },
    ]);
    expect(result.faults).toHaveLength(3);
    expect(result.ordersByStatus).toEqual({
      CANCELLED: ORDER_COUNT / 4,
      COMPLETED: ORDER_COUNT / 2,
      CONFIRMED: ORDER_COUNT / 4,
    });
    expect(result.projection).toEqual(result.expected);
    // The replay did deliver events again: they were found applied and skipped.
    expect(result.redeliveriesSkipped).toBeGreaterThan(0);
    // Each stored event applied once: the ce_ids recorded with the projection's writes are the outbox's.
    expect(result.appliedEventIds).toEqual(result.storedEventIds);
    expect(result.consumerTrouble).toEqual([]);
  });
});
