// The service behind PgBouncer in transaction-pooling mode (scripts/stack.sh, 127.0.0.1:6432),
// as production databases are: an API and a worker whose DATABASE_URL points at PgBouncer run an
// order's whole lifecycle over HTTP, the outbox sweeper republishes an event left unpublished,
// an erasure takes its transaction-level advisory lock, and /metrics shows the pool and each
// statement's latency. The migrations run directly on PostgreSQL (node-pg-migrate holds a
// session-level advisory lock, which transaction pooling would hand to another client).
// In a database of its own, which only these processes reach, and only through PgBouncer: its
// counters and its server connections are theirs.
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { Order } from '../../src/contracts/schemas.js';
import { createDatabase } from '../../src/db/index.js';
import { migrateDatabase } from '../../src/db/migrate.js';
import { createLogger } from '../../src/logger.js';
import { apiAt } from '../support/api.js';
import { collectOrderEvents } from '../support/events.js';
import { newCreateOrder } from '../support/orders.js';
import { connectPgBouncerAdmin, viaPgBouncer } from '../support/pgbouncer.js';
import { startService } from '../support/service.js';
import { topicsOf } from '../support/stack.js';
import { eventually } from '../support/wait.js';

const env = inject('env');
const name = `orders_pgbouncer_${randomUUID().replaceAll('-', '').slice(0, 12)}`;
const directUrl = (() => {
  const url = new URL(env.DATABASE_URL ?? '');
  url.pathname = `/${name}`;
  return url.href;
})();
const config = loadConfig({
  ...env,
  DATABASE_URL: viaPgBouncer(directUrl),
  TEMPORAL_TASK_QUEUE: `orders-pgbouncer-${randomUUID()}`,
  COMMANDS_ENABLED: 'false',
  // The sweeper looks every half second (for events unpublished longer than the default minute).
  OUTBOX_SWEEP_INTERVAL_MS: '500',
});

let admin: pg.Client;
let direct: pg.Pool;
let pooler: Awaited<ReturnType<typeof connectPgBouncerAdmin>>;
let service: Awaited<ReturnType<typeof startService>>;
let baseUrl: string;
let events: Awaited<ReturnType<typeof collectOrderEvents>>;

beforeAll(async () => {
  admin = new pg.Client({ connectionString: env.DATABASE_URL });
  await admin.connect();
  pooler = await connectPgBouncerAdmin();
  // Databases earlier runs could not drop.
  const { rows } = await admin.query<{ datname: string }>(
    "SELECT datname FROM pg_database WHERE datname LIKE 'orders\\_pgbouncer\\_%'",
  );
  for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS ${datname}`).catch(() => undefined);
  await admin.query(`CREATE DATABASE ${name}`);
  await migrateDatabase(directUrl);
  direct = new pg.Pool({ connectionString: directUrl, max: 2, application_name: 'pgbouncer-test-direct' });
  events = await collectOrderEvents(config.KAFKA_BROKERS.split(','), topicsOf(env).events);

  service = await startService(config);
  baseUrl = service.baseUrl;
}, 120_000);

afterAll(async () => {
  await service?.stop();
  await events?.close();
  await direct?.end();
  // PgBouncer keeps its server connections to the database open: closed first, or it cannot be dropped.
  await pooler?.kill(name).catch(() => undefined);
  await admin?.query(`DROP DATABASE IF EXISTS ${name}`).catch(() => undefined);
  await pooler?.resume(name).catch(() => undefined);
  await pooler?.close();
  await admin?.end();
});

const call = (method: string, path: string, body?: unknown) =>
  apiAt<Order & Record<string, unknown>>(baseUrl, method, path, body);

describe('the service behind PgBouncer (transaction pooling)', () => {
  it('runs an order through its lifecycle, the sweeper and an erasure, every statement through PgBouncer', async () => {
    const before = await pooler.stats(name);

    const command = newCreateOrder();
    const created = await call('POST', '/orders', command);
    expect(created.status).toBe(201);
    const { orderId } = created.body;
    const steps: [string, string, unknown][] = [
      ['POST', 'confirm', { inventoryReservationId: 'res_1' }],
      [
        'POST',
        'hold',
        { reason: 'PAYMENT_REVIEW', ownerTeam: 'payments', reviewBy: new Date(Date.now() + 3_600_000).toISOString() },
      ],
      ['POST', 'release', { resolution: 'checked', nextStatus: 'CONFIRMED' }],
      ['PATCH', '', { promotionCode: 'POOLED' }],
      ['POST', 'release-to-fulfilment', undefined],
      ['POST', 'fulfilment', { warehouseId: 'wh-1', priority: 'STANDARD', deliveryMethod: 'HOME_DELIVERY' }],
      ['POST', 'complete', undefined],
    ];
    for (const [method, route, body] of steps) {
      const answer = await call(method, `/orders/${orderId}${route === '' ? '' : `/${route}`}`, body);
      expect(answer.status, `${method} ${route}: ${JSON.stringify(answer.body)}`).toBe(200);
    }
    const order = await call('GET', `/orders/${orderId}`);
    expect(order.body).toMatchObject({ status: 'COMPLETED', revision: 2, promotionCode: 'POOLED' });
    const history = await call('GET', `/orders/${orderId}/history`);
    expect((history.body.history as { sequence: number }[]).map((row) => row.sequence)).toEqual([
      0, 1, 2, 3, 4, 5, 6, 7,
    ]);

    // Every stored event published once, in order of sequence, on the order's partition.
    const stored = await direct.query<{ event_id: string }>(
      'SELECT event_id FROM order_events WHERE order_id = $1 ORDER BY sequence, position',
      [orderId],
    );
    const published = await events.waitFor(orderId, stored.rows.length);
    expect(published.map((event) => event.headers.ce_id)).toEqual(stored.rows.map((row) => row.event_id));
    await eventually('every event marked published', async () => {
      const { rows } = await direct.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM order_events WHERE order_id = $1 AND published_at IS NULL',
        [orderId],
      );
      return rows[0]?.n === 0 ? true : undefined;
    });

    // The outbox sweeper (worker), through PgBouncer: an event left unpublished for an hour goes out again, same ce_id.
    const createdEvent = stored.rows[0]?.event_id;
    await direct.query(
      "UPDATE order_events SET published_at = NULL, created_at = created_at - interval '1 hour' WHERE event_id = $1",
      [createdEvent],
    );
    await events.waitFor(orderId, stored.rows.length + 1);
    expect(events.ofOrder(orderId).at(-1)?.headers.ce_id).toBe(createdEvent);
    await eventually('the swept event marked published', async () => {
      const { rows } = await direct.query(
        'SELECT 1 FROM order_events WHERE event_id = $1 AND published_at IS NOT NULL',
        [createdEvent],
      );
      return rows.length === 1 ? true : undefined;
    });

    // An erasure: its transaction-level advisory lock (pg_advisory_xact_lock) holds within the pooled transaction.
    const erasure = await call('POST', `/customers/${command.customerId}/erasure`);
    expect(erasure.status, JSON.stringify(erasure.body)).toBe(200);
    expect(erasure.body.orderIds).toEqual([orderId]);

    // It all went through PgBouncer: its counters for this database grew by every transaction, and every
    // session PostgreSQL has on the database is one of PgBouncer's server connections.
    const after = await pooler.stats(name);
    expect(after.transactions - before.transactions).toBeGreaterThan(30);
    const { rows: sessions } = await direct.query<{ pid: number }>(
      `SELECT pid FROM pg_stat_activity
        WHERE datname = $1 AND backend_type = 'client backend' AND application_name <> 'pgbouncer-test-direct'`,
      [name],
    );
    const servers = new Set(await pooler.serverPids(name));
    expect(sessions.length).toBeGreaterThan(0);
    expect(sessions.filter((session) => !servers.has(session.pid))).toEqual([]);
  }, 120_000);

  it('keeps the statement timeout on pooled server connections (PgBouncer sets it; the startup parameter is ignored)', async () => {
    const db = createDatabase(config, createLogger(config, 'pgbouncer-test'));
    try {
      const { rows } = await db.query<{ statement_timeout: string }>('SHOW statement_timeout');
      expect(rows[0]?.statement_timeout).toBe('10s');
    } finally {
      await db.close();
    }
  });

  it("shows the pool's connections and each statement's latency by name on /metrics, never SQL", async () => {
    const response = await fetch(`${baseUrl}/metrics`);
    const text = await response.text();
    expect(text).toMatch(/^db_pool_connections\{state="in_use"\} \d+$/m);
    expect(text).toMatch(/^db_pool_connections\{state="idle"\} \d+$/m);
    expect(text).toMatch(/^db_pool_waiting_clients \d+$/m);
    const counts = new Map(
      [...text.matchAll(/^db_statement_duration_seconds_count\{statement="([^"]*)",outcome="(\w+)"\} (\d+)$/gm)].map(
        ([, statement, outcome, count]) => [`${statement}/${outcome}`, Number(count)],
      ),
    );
    // The API's reads (GET /orders/{id}, /history) and the erasure's transaction, each under its function's name.
    for (const statement of ['findOrder', 'findStatusHistory', 'lockCustomerForErasure', 'begin', 'commit']) {
      expect(counts.get(`${statement}/ok`), statement).toBeGreaterThan(0);
    }
    for (const key of counts.keys()) expect(key).toMatch(/^[A-Za-z_$][\w$]*( [a-z_.]+)?\/(ok|error)$/);
  });
});
