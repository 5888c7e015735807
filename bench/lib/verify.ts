// What a part of the run left behind: every order it placed in its final status in PostgreSQL,
// and exactly its events on Kafka by ce_id (both read from the transition table, bench/lib/plan.ts).
import pg from 'pg';
import type { EventWatch } from './events.js';
import type { PlacedOrder } from './phases.js';
import { endStatus, expectedEventIds } from './plan.js';

export type Verification = Awaited<ReturnType<typeof verify>>;

/** Every order's final status in PostgreSQL and exactly its events on Kafka, by ce_id (both from the transition table). */
export async function verify(placed: PlacedOrder[], events: EventWatch, orderDatabaseUrl: string) {
  const expected = new Map(placed.map(({ orderId, command }) => [orderId, expectedEventIds(orderId, command)]));
  // Whatever is still on its way (a late event after an outage) gets a bounded wait.
  const deadline = Date.now() + 60_000;
  const missing = () => [...expected.values()].flat().filter((ceId) => !events.byCeId.has(ceId)).length;
  while (missing() > 0 && Date.now() < deadline) await events.caughtUp(Math.min(5_000, deadline - Date.now()));
  // Then everything written to the topic until now is read, so a duplicate already sent is counted.
  const caughtUp = await events.caughtUp(30_000);

  let eventsMissing = 0;
  let extraCopies = 0;
  let unexpectedEvents = 0;
  for (const [orderId, ceIds] of expected) {
    for (const ceId of ceIds) {
      const seen = events.byCeId.get(ceId);
      if (seen === undefined) eventsMissing++;
      else extraCopies += seen.copies - 1;
    }
    for (const seen of events.ofOrder(orderId)) {
      if (!ceIds.includes(seen.ceId)) unexpectedEvents += seen.copies;
    }
  }

  const db = new pg.Client({ connectionString: orderDatabaseUrl });
  await db.connect();
  let ordersWrongInDb = 0;
  let eventsUnpublishedInDb = 0;
  try {
    // An archived order is in orders_archive (migration 0009); its unpublished events are still in
    // order_events. A --compare base older than 0009 has no archive table.
    const { rows: archive } = await db.query<{ exists: boolean }>(
      `SELECT to_regclass('orders_archive') IS NOT NULL AS exists`,
    );
    const orders = archive[0]?.exists
      ? '(SELECT order_id, status FROM orders UNION ALL SELECT order_id, status FROM orders_archive)'
      : 'orders';
    const { rows } = await db.query<{ order_id: string; status: string; unpublished: number }>(
      `SELECT o.order_id, o.status,
              (SELECT count(*)::int FROM order_events e WHERE e.order_id = o.order_id AND e.published_at IS NULL)
                AS unpublished
         FROM ${orders} AS o
        WHERE o.order_id = ANY($1::uuid[])`,
      [placed.map((order) => order.orderId)],
    );
    const byId = new Map(rows.map((row) => [row.order_id, row]));
    for (const order of placed) {
      const row = byId.get(order.orderId);
      if (row === undefined || row.status !== endStatus(order.command)) ordersWrongInDb++;
      eventsUnpublishedInDb += row?.unpublished ?? 0;
    }
  } finally {
    await db.end();
  }
  return {
    ordersChecked: placed.length,
    eventsExpected: [...expected.values()].flat().length,
    eventsMissing,
    extraCopies,
    unexpectedEvents,
    ordersWrongInDb,
    eventsUnpublishedInDb,
    consumerCaughtUp: caughtUp,
    /** Events missing on Kafka, plus orders missing or not in their final status in PostgreSQL. */
    lost: eventsMissing + ordersWrongInDb,
    /** Extra copies of an event (same ce_id), plus events the order should not have. */
    duplicated: extraCopies + unexpectedEvents,
  };
}
