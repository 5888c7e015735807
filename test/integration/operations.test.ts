// What whoever keeps the service running relies on: health, readiness, metrics.
import { describe, expect, inject, it } from 'vitest';
import type { Order } from '../../src/contracts/schemas.js';
import { api } from '../support/api.js';
import { collectOrderEvents } from '../support/events.js';
import { newCreateOrder } from '../support/orders.js';
import { topicsOf } from '../support/stack.js';

describe('health, readiness and metrics', () => {
  it('says the process is up and its dependencies answer', async () => {
    expect(await api('GET', '/healthz', undefined, { authorization: '' })).toMatchObject({
      status: 200,
      body: { status: 'ok' },
    });
    expect(await api('GET', '/readyz', undefined, { authorization: '' })).toMatchObject({
      status: 200,
      body: { status: 'ready' },
    });
  });

  it('exposes HTTP latency by route and status, orders created and the outbox backlog', async () => {
    const created = await api<Order>('POST', '/orders', newCreateOrder());
    expect(created.status).toBe(201);
    const metrics = await fetch(`${inject('apiUrl')}/metrics`).then((response) => response.text());
    expect(metrics).toMatch(/http_request_duration_seconds_bucket\{[^}]*route="\/orders"[^}]*status="201"/);
    expect(metrics).toMatch(/^orders_created_total [1-9]\d*$/m);
    expect(metrics).toMatch(/^order_outbox_backlog \d+$/m);
    expect(metrics).toContain('process_resident_memory_bytes');
  });

  it('serves the worker’s Temporal SDK metrics and its own event counters on the worker’s port', async () => {
    const events = await collectOrderEvents(inject('env').KAFKA_BROKERS!.split(','), topicsOf(inject('env')).events);
    try {
      const created = await api<Order>('POST', '/orders', newCreateOrder());
      await events.waitFor(created.body.orderId, 1);
      const deadline = Date.now() + 15_000;
      let metrics = '';
      // The exporter reports what the SDK has flushed; wait for the counter to appear.
      while (!/order_events_published_total\{[^}]*event_type="OrderCreated"/.test(metrics) && Date.now() < deadline) {
        metrics = await fetch(inject('workerMetricsUrl')).then((response) => response.text());
        if (!metrics.includes('order_events_published_total')) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(metrics).toMatch(/order_events_published_total\{[^}]*event_type="OrderCreated"/);
      expect(metrics).toMatch(/^temporal_\w+/m);
    } finally {
      await events.close();
    }
  });
});
