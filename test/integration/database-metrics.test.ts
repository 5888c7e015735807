// PostgreSQL's side of the metrics on the integration setup's processes: the worker's endpoint
// (WORKER_METRICS_ADDRESS, the Temporal runtime's exporter) shows its pool and each statement's
// latency under the name of the db function that ran it, in seconds buckets; never SQL.
import { describe, expect, inject, it } from 'vitest';
import { api } from '../support/api.js';
import { newCreateOrder } from '../support/orders.js';
import { eventually } from '../support/wait.js';

/** `<metric>{…statement="<name>"…outcome="ok"…} <count>` lines of the worker's endpoint, by statement. */
function statementCounts(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const [, labels = '', count] of text.matchAll(/^db_statement_duration_seconds_count\{([^}]*)\} (\d+)/gm)) {
    const statement = /statement="([^"]*)"/.exec(labels)?.[1];
    const outcome = /outcome="([^"]*)"/.exec(labels)?.[1];
    if (statement !== undefined && outcome === 'ok') counts.set(statement, Number(count));
  }
  return counts;
}

describe("the worker's PostgreSQL metrics", () => {
  it('show its pool and the latency of each statement it ran, named by its db function', async () => {
    const created = await api('POST', '/orders', newCreateOrder());
    expect(created.status).toBe(201);
    expect((await api('POST', `/orders/${created.body.orderId}/complete`)).status).toBe(200);

    // The exporter publishes what was recorded within a second.
    const text = await eventually('the worker’s statement metrics', async () => {
      const metrics = await fetch(inject('workerMetricsUrl')).then((response) => response.text());
      const counts = statementCounts(metrics);
      return ['insertOrder', 'lockOrder', 'saveOrderState', 'commit'].every((name) => (counts.get(name) ?? 0) > 0)
        ? metrics
        : undefined;
    });
    expect(text).toMatch(/^db_pool_connections\{[^}]*state="in_use"[^}]*\} \d+/m);
    expect(text).toMatch(/^db_pool_connections\{[^}]*state="idle"[^}]*\} \d+/m);
    expect(text).toMatch(/^db_pool_waiting_clients(\{[^}]*\})? \d+/m);
    // Seconds, in buckets fit for statements of a few milliseconds.
    expect(text).toMatch(/^db_statement_duration_seconds_bucket\{[^}]*le="0.005"[^}]*\} \d+/m);
    for (const name of statementCounts(text).keys()) expect(name).toMatch(/^[A-Za-z_$][\w$]*( [a-z_.]+)?$/);
  });
});
