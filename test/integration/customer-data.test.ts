// Customer data on the real stack. An API and a worker of their own (own task queue and topics,
// tracing to an OTLP receiver in this test) are run in three releases: without payload keys (an
// order started before the codec), with key k1, then with k1 and k2 encrypting with k2 (a
// rotation). Orders carry an address, a hold's customer message, an amendment reason and a
// release resolution across those restarts and end COMPLETED. Then: the raw histories on the
// server (read by a client without the codec) hold none of that in clear text; the payloads are
// encrypted under k1 and k2; the histories replay with the codec; the processes' log lines and
// exported spans never carried it.
import { randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { Client, Connection } from '@temporalio/client';
import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';
import type { temporal } from '@temporalio/proto';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { Order } from '../../src/contracts/schemas.js';
import { workflowIdForOrder } from '../../src/ids.js';
import { archiveScheduleOptions, connectTemporal, dataConverterOf } from '../../src/temporal/client.js';
import { ENCRYPTED_ENCODING, KEY_ID_METADATA } from '../../src/temporal/payload-codec.js';
import {
  allTextOf,
  PAYLOAD_KEY_1,
  PAYLOAD_KEY_2,
  PRIVATE_ADDRESS,
  PRIVATE_ADDRESS_MOVED,
  PRIVATE_AMENDMENT_REASON,
  PRIVATE_MESSAGE,
  PRIVATE_RESOLUTION,
  privateStringsIn,
} from '../support/customer-data.js';
import { newCreateOrder } from '../support/orders.js';
import { type OtlpReceiver, startOtlpReceiver } from '../support/otlp-receiver.js';
import { type AppProcess, freePort, startApiProcess, startWorkerProcess } from '../support/processes.js';
import { eventually } from '../support/wait.js';

const TOKEN = 'customer-data-ops-token-0001';
const base: Record<string, string> = {
  ...inject('env'),
  TEMPORAL_TASK_QUEUE: 'orders-test-customer-data',
  KAFKA_TOPIC_PREFIX: 'test-customer-data.',
  // Everything a process may log, so the search for customer data covers debug lines too.
  LOG_LEVEL: 'debug',
  OTEL_BSP_SCHEDULE_DELAY: '100',
  API_KEYS: JSON.stringify({ [TOKEN]: { name: 'ops-1', scopes: ['orders:create', 'orders:read', 'orders:manage'] } }),
};
const releases = {
  clear: { TEMPORAL_PAYLOAD_KEYS: '', TEMPORAL_PAYLOAD_KEY_ID: '' },
  k1: { TEMPORAL_PAYLOAD_KEYS: PAYLOAD_KEY_1, TEMPORAL_PAYLOAD_KEY_ID: '' },
  rotated: { TEMPORAL_PAYLOAD_KEYS: `${PAYLOAD_KEY_1},${PAYLOAD_KEY_2}`, TEMPORAL_PAYLOAD_KEY_ID: 'k2' },
};

let receiver: OtlpReceiver;
let api: (AppProcess & { url: string }) | undefined;
let worker: AppProcess | undefined;
/** Every line every process of every release printed. */
const output: string[] = [];
/** Reads the server's histories as stored: no codec. */
let raw: Client;

async function stopRelease() {
  await Promise.all([api?.stop(), worker?.stop()]);
  output.push(...(api?.output ?? []), ...(worker?.output ?? []));
  api = undefined;
  worker = undefined;
}

async function startRelease(keys: Record<string, string>) {
  await stopRelease();
  const env = { ...base, ...keys, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url };
  [worker, api] = await Promise.all([startWorkerProcess(env), startApiProcess(env, await freePort())]);
}

beforeAll(async () => {
  // The replays below run workers in this process: their failures are expected, their chatter is not needed.
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  receiver = await startOtlpReceiver();
  raw = new Client({
    connection: await Connection.connect({ address: base.TEMPORAL_ADDRESS ?? '' }),
    namespace: base.TEMPORAL_NAMESPACE,
  });
}, 120_000);

afterAll(async () => {
  await stopRelease();
  const temporal = await connectTemporal(loadConfig({ ...base, ...releases.rotated }));
  await temporal.client.schedule
    .getHandle(archiveScheduleOptions(loadConfig(base)).scheduleId)
    .delete()
    .catch(() => undefined);
  await temporal.close();
  await raw?.connection.close();
  await receiver?.close();
});

async function call<T = Order>(method: string, path: string, body?: unknown) {
  const response = await fetch(`${api?.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined && { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as T };
}

async function expectStatus(method: string, path: string, body: unknown, status: Order['status']) {
  const answer = await call(method, path, body);
  expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  expect(answer.body.status).toBe(status);
  return answer.body;
}

const hold = {
  reason: 'ADDRESS_VERIFICATION',
  ownerTeam: 'delivery-ops',
  customerMessage: PRIVATE_MESSAGE,
  reviewBy: new Date(Date.now() + 86_400_000).toISOString(),
};
const fulfilment = { warehouseId: 'wh-berlin-1', priority: 'STANDARD', deliveryMethod: 'HOME_DELIVERY' };

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
type Payload = temporal.api.common.v1.IPayload;
const text = (bytes: Uint8Array | null | undefined) => Buffer.from(bytes ?? new Uint8Array(0)).toString('utf8');

/** The payloads the codec handles in an event: inputs, results, Update arguments, memo, user metadata. */
function codecPayloadsOf(event: HistoryEvent): Payload[] {
  const attributes = [
    event.workflowExecutionStartedEventAttributes?.input,
    event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.args,
    event.workflowExecutionUpdateCompletedEventAttributes?.outcome?.success,
    event.activityTaskScheduledEventAttributes?.input,
    event.activityTaskCompletedEventAttributes?.result,
    event.workflowExecutionCompletedEventAttributes?.result,
    event.workflowExecutionContinuedAsNewEventAttributes?.input,
  ];
  const memo = Object.values(event.workflowExecutionStartedEventAttributes?.memo?.fields ?? {});
  const summary = event.userMetadata?.summary;
  return [...attributes.flatMap((payloads) => payloads?.payloads ?? []), ...memo, ...(summary ? [summary] : [])];
}

async function rawHistory(orderId: string) {
  return raw.workflow.getHandle(workflowIdForOrder(orderId)).fetchHistory();
}

describe('customer data in Temporal, in logs and in spans', () => {
  const ordered = { clear: '', encrypted: '' };

  it('runs orders across a release without keys, one with k1, and one rotated to k2', async () => {
    // Release 1: no payload keys. This order is one "started before the codec".
    await startRelease(releases.clear);
    const before = await call('POST', '/orders', { ...newCreateOrder(), deliveryAddress: PRIVATE_ADDRESS });
    expect(before.status).toBe(201);
    ordered.clear = before.body.orderId;
    await expectStatus('POST', `/orders/${ordered.clear}/confirm`, {}, 'CONFIRMED');

    // Release 2: k1 encrypts. The clear order goes on; a new one is encrypted from its start.
    await startRelease(releases.k1);
    const creation = newCreateOrder();
    const created = await call('POST', '/orders', { ...creation, deliveryAddress: PRIVATE_ADDRESS });
    expect(created.status).toBe(201);
    ordered.encrypted = created.body.orderId;
    const amended = await call('PATCH', `/orders/${ordered.encrypted}`, {
      items: creation.items.map((item, index) => (index === 0 ? { ...item, quantity: item.quantity + 1 } : item)),
      reason: PRIVATE_AMENDMENT_REASON,
    });
    expect(amended.status).toBe(200);
    await expectStatus('POST', `/orders/${ordered.encrypted}/confirm`, {}, 'CONFIRMED');
    await expectStatus('POST', `/orders/${ordered.encrypted}/hold`, hold, 'ON_HOLD');
    await expectStatus('POST', `/orders/${ordered.clear}/hold`, hold, 'ON_HOLD');

    // Release 3: k2 encrypts, k1 still decrypts what the histories hold.
    await startRelease(releases.rotated);
    for (const orderId of [ordered.encrypted, ordered.clear]) {
      const released = { resolution: PRIVATE_RESOLUTION, nextStatus: 'CONFIRMED' };
      await expectStatus('POST', `/orders/${orderId}/release`, released, 'CONFIRMED');
      const moved = await call('PUT', `/orders/${orderId}/delivery-address`, { deliveryAddress: PRIVATE_ADDRESS_MOVED });
      expect(moved.status).toBe(200);
      expect(moved.body.deliveryAddress).toEqual(PRIVATE_ADDRESS_MOVED);
      await expectStatus('POST', `/orders/${orderId}/release-to-fulfilment`, undefined, 'AWAITING_FULFILMENT');
      await expectStatus('POST', `/orders/${orderId}/fulfilment`, fulfilment, 'FULFILLING');
      await expectStatus('POST', `/orders/${orderId}/complete`, undefined, 'COMPLETED');
    }
    // The API reads PostgreSQL: the address is there for those allowed to read the order.
    const read = await call('GET', `/orders/${ordered.encrypted}`);
    expect(read.body.deliveryAddress).toEqual(PRIVATE_ADDRESS_MOVED);
  });

  it('the raw histories on the server hold no address, name, message or reason in clear text', async () => {
    for (const orderId of [ordered.encrypted, ordered.clear]) {
      const history = await rawHistory(orderId);
      const cleartext = allTextOf(history).join('\n');
      if (orderId === ordered.clear) {
        // Started without keys: what that release wrote stays readable (and expires with the namespace's retention).
        expect(privateStringsIn(cleartext)).toContain(PRIVATE_ADDRESS.line1);
        // What the encrypting releases wrote is not: the moved address, the resolution.
        expect(cleartext).not.toContain(PRIVATE_ADDRESS_MOVED.line1);
        expect(cleartext).not.toContain(PRIVATE_RESOLUTION);
      } else {
        expect(privateStringsIn(cleartext), `history of ${orderId}`).toEqual([]);
      }
    }
  });

  it('encrypts every codec payload of an order started with keys, under k1 before the rotation and k2 after', async () => {
    const history = await rawHistory(ordered.encrypted);
    const payloads = (history.events ?? []).flatMap(codecPayloadsOf);
    expect(payloads.length).toBeGreaterThan(20);
    const encodings = new Set(payloads.map((payload) => text(payload.metadata?.encoding)));
    expect([...encodings]).toEqual([ENCRYPTED_ENCODING]);
    const keyIds = new Set(payloads.map((payload) => text(payload.metadata?.[KEY_ID_METADATA])));
    expect([...keyIds].sort()).toEqual(['k1', 'k2']);
  });

  it('replays both histories with the codec: the encrypted one, and the one started in clear text', async () => {
    const bundlePath = process.env.WORKFLOW_BUNDLE_PATH;
    expect(bundlePath, 'WORKFLOW_BUNDLE_PATH (scripts/test.sh sets it)').toBeTruthy();
    const dataConverter = dataConverterOf(loadConfig(releases.rotated));
    for (const orderId of [ordered.encrypted, ordered.clear]) {
      const history = await rawHistory(orderId);
      await expect(
        Worker.runReplayHistory({ workflowBundle: { codePath: bundlePath! }, dataConverter }, history),
      ).resolves.toBeUndefined();
    }
    // The encrypted history as a fixture for test/workflow/encrypted-replay.test.ts.
    if (process.env.RECORD_HISTORIES === '1') {
      const history = await rawHistory(ordered.encrypted);
      const file = new URL('../fixtures/encrypted-histories/v5-order-rotated-keys.json', import.meta.url);
      await writeFile(file, `${JSON.stringify(JSON.parse(historyToJSON(history)), null, 2)}\n`);
    }
  });

  it('log lines and exported spans of the lifecycle carry no name, address line, message or reason', async () => {
    await eventually('spans of the last transition', () =>
      receiver.spans().some((span) => span.attributes['workflow.id'] === workflowIdForOrder(ordered.clear))
        ? true
        : undefined,
    );
    await stopRelease();
    expect(output.length).toBeGreaterThan(50);
    const leaking = output.filter((line) => privateStringsIn(line).length > 0);
    expect(leaking).toEqual([]);
    const spans = receiver.spans();
    expect(spans.length).toBeGreaterThan(50);
    const spanText = spans.map((span) => JSON.stringify({ name: span.name, attributes: span.attributes }));
    expect(spanText.filter((line) => privateStringsIn(line).length > 0)).toEqual([]);
  });

  it('a worker without the key of a history cannot read it (the data is encrypted, not merely absent)', async () => {
    const history = await rawHistory(ordered.encrypted);
    const onlyK2 = dataConverterOf(loadConfig({ TEMPORAL_PAYLOAD_KEYS: PAYLOAD_KEY_2 }));
    await expect(
      Worker.runReplayHistory(
        { workflowBundle: { codePath: process.env.WORKFLOW_BUNDLE_PATH! }, dataConverter: onlyK2 },
        history,
        `customer-data-${randomUUID()}`,
      ),
    ).rejects.toThrow();
  });
});
