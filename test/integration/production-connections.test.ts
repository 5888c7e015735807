// Production connections on the local stack, set up as production is (scripts/stack.sh):
// Temporal behind a TLS proxy that wants a client certificate and an API key, Kafka's SASL_SSL
// listener (SCRAM-SHA-512 for the worker, PLAIN for a command producer), PostgreSQL with
// sslmode=verify-full against the stack's CA. An API and a worker configured only through the
// documented variables serve a whole order; each wrong setting stops a process at start with
// one line that names the connection and the cause.
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { orderIdForCart } from '../../src/ids.js';
import { createEventPublisher, createKafka, type EventPublisher } from '../../src/kafka/index.js';
import { collectOrderEvents } from '../support/events.js';
import { newCreateOrder } from '../support/orders.js';
import { type AppProcess, freePort, startApiProcess, startWorkerProcess } from '../support/processes.js';
import { TOKENS, topicsOf } from '../support/stack.js';
import { eventually } from '../support/wait.js';

const TLS = fileURLToPath(new URL('../../.stack/tls/', import.meta.url));
// The stack's test-only credentials (scripts/stack.sh, stack/kafka/server.properties).
const TEMPORAL_API_KEY = 'orders-temporal-api-key';
const SCRAM = { KAFKA_SASL_USERNAME: 'orders-scram', KAFKA_SASL_PASSWORD: 'orders-scram-secret' };

/** Every connection over TLS, on topics and a task queue of its own (so only these processes serve them). */
function productionEnvironment(): Record<string, string> {
  const env = inject('env');
  const database = new URL(env.DATABASE_URL!);
  database.search = new URLSearchParams({
    sslmode: 'verify-full',
    sslrootcert: `${TLS}ca.pem`,
    application_name: 'order-service-tls-test',
  }).toString();
  return {
    ...env,
    DATABASE_URL: database.toString(),
    TEMPORAL_ADDRESS: '127.0.0.1:7243',
    TEMPORAL_TLS_CA_FILE: `${TLS}ca.pem`,
    TEMPORAL_TLS_CERT_FILE: `${TLS}client.pem`,
    TEMPORAL_TLS_KEY_FILE: `${TLS}client.key`,
    TEMPORAL_API_KEY,
    TEMPORAL_TASK_QUEUE: 'orders-test-tls',
    KAFKA_BROKERS: '127.0.0.1:9094',
    KAFKA_SSL_CA_FILE: `${TLS}ca.pem`,
    KAFKA_SASL_MECHANISM: 'scram-sha-512',
    ...SCRAM,
    KAFKA_TOPIC_PREFIX: 'test-tls.',
    COMMANDS_CONSUMER_GROUP: 'order-service-commands-tls',
  };
}

/** Starts `entry` with `env` and expects it to exit non-zero at start; resolves to what it printed. */
async function failedStart(start: () => Promise<AppProcess>, expectedLine: RegExp): Promise<string> {
  const failure = await start().then(
    (app) => {
      void app.stop('SIGKILL');
      throw new Error(`${app.name} started although it should not`);
    },
    (error: Error) => error.message,
  );
  expect(failure).toMatch(/exited \(1\) before/);
  expect(failure).toMatch(expectedLine);
  // One line that says it, not a stack trace.
  expect(failure).not.toMatch(/\n\s+at /);
  return failure;
}

let api: AppProcess & { url: string };
let worker: AppProcess;
let events: Awaited<ReturnType<typeof collectOrderEvents>>;
let db: pg.Pool;
let plainProducer: EventPublisher;
const production = productionEnvironment();
const quiet = { info() {}, warn() {}, error() {} };

beforeAll(async () => {
  const plaintext = inject('env');
  db = new pg.Pool({ connectionString: plaintext.DATABASE_URL, max: 2 });
  worker = await startWorkerProcess(production);
  api = await startApiProcess(production, await freePort());
  // The events, read over the plaintext listener: the same topic, whichever listener wrote it.
  events = await collectOrderEvents(plaintext.KAFKA_BROKERS!.split(','), topicsOf(production).events);
  // Another service sending commands with SASL PLAIN over TLS, through the service's own Kafka setup.
  const plainConfig = loadConfig({
    ...production,
    KAFKA_SASL_MECHANISM: 'plain',
    KAFKA_SASL_USERNAME: 'orders-plain',
    KAFKA_SASL_PASSWORD: 'orders-plain-secret',
  });
  plainProducer = await createEventPublisher(createKafka(plainConfig, quiet), quiet);
}, 120_000);

afterAll(async () => {
  await plainProducer?.close();
  await events?.close();
  await Promise.all([api?.stop(), worker?.stop()]);
  await db?.end();
});

async function call(method: string, path: string, body?: unknown) {
  const response = await fetch(`${api.url}${path}`, {
    method,
    headers: {
      authorization: `Bearer ${TOKENS.all}`,
      ...(body !== undefined && { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('an API and a worker with every connection over TLS', () => {
  it('serve an order end to end: Temporal through mTLS and an API key, events through SASL_SSL', async () => {
    const created = await call('POST', '/orders', newCreateOrder());
    expect(created.status).toBe(201);
    const orderId = created.body.orderId as string;
    const completed = await call('POST', `/orders/${orderId}/complete`);
    expect(completed.status).toBe(200);
    expect(completed.body.status).toBe('COMPLETED');
    const seen = await events.waitFor(orderId, 3);
    expect(seen.map((event) => event.headers.ce_type)).toEqual([
      'OrderCreated',
      'OrderCompleted',
      'OrderStatusChanged',
    ]);
  });

  it('talk to PostgreSQL only over verified TLS', async () => {
    const { rows } = await db.query<{ ssl: boolean; n: number }>(
      `SELECT s.ssl, count(*)::int AS n FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid)
        WHERE a.application_name = 'order-service-tls-test' GROUP BY s.ssl`,
    );
    expect(rows).toEqual([{ ssl: true, n: expect.any(Number) }]);
  });

  it('consume commands sent with SASL PLAIN and dead-letter those that cannot be served', async () => {
    const command = newCreateOrder();
    const orderId = orderIdForCart(command.cartId);
    const headers = (type: string) => ({
      ce_specversion: '1.0',
      ce_id: randomUUID(),
      ce_source: '/acme/tests/production-connections',
      ce_type: type,
      'content-type': 'application/json',
    });
    const topics = topicsOf(production);
    await plainProducer.publish(topics.commands, {
      key: command.cartId,
      value: JSON.stringify(command),
      headers: headers('CreateOrder'),
    });
    await plainProducer.publish(topics.commands, {
      key: command.cartId,
      value: '{"not":"a command"}',
      headers: headers('CreateOrder'),
    });
    await events.waitFor(orderId, 1);
    const letters = await collectOrderEvents(inject('env').KAFKA_BROKERS!.split(','), topics.deadLetters);
    try {
      const letter = await eventually('the dead letter', async () =>
        letters.events.find((event) => event.key === command.cartId),
      );
      expect(letter.value).toBe('{"not":"a command"}');
    } finally {
      await letters.close();
    }
  });
});

describe('a wrong connection setting stops the process at start, saying which and why', () => {
  it('Temporal: a CA that did not sign the server certificate', async () => {
    await failedStart(
      async () => startApiProcess({ ...production, TEMPORAL_TLS_CA_FILE: `${TLS}other-ca.pem` }, await freePort()),
      /cannot reach Temporal at 127\.0\.0\.1:7243 over TLS \(CA .*other-ca\.pem.*\), namespace orders-test: .*TLS handshake: .*certificate/,
    );
  });

  it('Temporal: no client certificate', async () => {
    const { TEMPORAL_TLS_CERT_FILE: _cert, TEMPORAL_TLS_KEY_FILE: _key, ...withoutCertificate } = production;
    await failedStart(
      async () => startApiProcess(withoutCertificate, await freePort()),
      /cannot reach Temporal at 127\.0\.0\.1:7243 over TLS \(.*no client certificate.*\)/,
    );
  });

  it('Temporal: a wrong API key', async () => {
    await failedStart(
      async () => startApiProcess({ ...production, TEMPORAL_API_KEY: 'not-the-key' }, await freePort()),
      /cannot reach Temporal at 127\.0\.0\.1:7243 over TLS \(.*API key\).*(401|[Uu]nauthori[sz]ed|unauthenticated)/,
    );
  });

  it('Temporal: a certificate file that is not there', async () => {
    await failedStart(
      async () => startApiProcess({ ...production, TEMPORAL_TLS_CERT_FILE: `${TLS}missing.pem` }, await freePort()),
      /TEMPORAL_TLS_CERT_FILE: cannot read .*missing\.pem \(ENOENT\)/,
    );
  });

  it('Kafka: a wrong SCRAM password', async () => {
    await failedStart(
      () => startWorkerProcess({ ...production, KAFKA_SASL_PASSWORD: 'wrong-password' }),
      /cannot reach Kafka at 127\.0\.0\.1:9094 over TLS \(CA .*ca\.pem\), SASL scram-sha-512 as orders-scram: .*[Aa]uthentication failed/,
    );
  });

  it('PostgreSQL: verify-full against a CA that did not sign the server certificate', async () => {
    const database = new URL(production.DATABASE_URL!);
    database.searchParams.set('sslrootcert', `${TLS}other-ca.pem`);
    await failedStart(
      async () => startApiProcess({ ...production, DATABASE_URL: database.toString() }, await freePort()),
      /cannot reach PostgreSQL at 127\.0\.0\.1:5432\/orders_test as postgres \(verify-full, CA .*other-ca\.pem\): .*certificate/,
    );
  });
});
