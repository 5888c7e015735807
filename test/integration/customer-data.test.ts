// Customer data on the real stack. An API and a worker of their own (own task queue and topics,
// tracing to an OTLP receiver in this test) are run in three releases: without payload keys (an
// order started before the codec), with key k1, then with k1 and k2 encrypting with k2 (a
// rotation). Orders carry an address, a hold's customer message, an amendment reason and a
// release resolution across those restarts and end COMPLETED. Then: the raw histories on the
// server (read by a client without the codec) hold none of that in clear text; the payloads are
// encrypted under k1 and k2; the histories replay with the codec; the events on Kafka carry it only
// where the catalog requires it; the processes' log lines and exported spans (an erasure of the
// customers' data included) never carried it.
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
import { dataConverterOf } from '../../src/temporal/client.js';
import { ENCRYPTED_ENCODING, KEY_ID_METADATA } from '../../src/temporal/payload-codec.js';
import {
  allTextOf,
  deleteArchiveSchedule,
  PAYLOAD_KEY_1,
  PAYLOAD_KEY_2,
  PRIVATE_ADDRESS,
  PRIVATE_ADDRESS_MOVED,
  PRIVATE_AMENDMENT_REASON,
  PRIVATE_MESSAGE,
  PRIVATE_RESOLUTION,
  privateStringsIn,
} from '../support/customer-data.js';
import { collectOrderEvents } from '../support/events.js';
import { newCreateOrder } from '../support/orders.js';
import { type OtlpReceiver, startOtlpReceiver } from '../support/otlp-receiver.js';
import { type AppProcess, freePort, runToEnd, startApiProcess, startWorkerProcess } from '../support/processes.js';
import { topicsOf } from '../support/stack.js';
import { eventually } from '../support/wait.js';

const TOKEN = 'customer-data-ops-token-0001';
const READ_TOKEN = 'customer-data-read-token-001';
const UI_ORIGIN = 'http://127.0.0.1:8233';
const base: Record<string, string> = {
  ...inject('env'),
  TEMPORAL_TASK_QUEUE: 'orders-test-customer-data',
  KAFKA_TOPIC_PREFIX: 'test-customer-data.',
  // Everything a process may log, so the search for customer data covers debug lines too.
  LOG_LEVEL: 'debug',
  OTEL_BSP_SCHEDULE_DELAY: '100',
  API_KEYS: JSON.stringify({
    [TOKEN]: { name: 'ops-1', scopes: ['orders:create', 'orders:read', 'orders:manage'] },
    [READ_TOKEN]: ['orders:read'],
  }),
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
/** The events of this test's topic. */
let events: Awaited<ReturnType<typeof collectOrderEvents>>;

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
  events = await collectOrderEvents((base.KAFKA_BROKERS ?? '').split(','), topicsOf(base).events);
  raw = new Client({
    connection: await Connection.connect({ address: base.TEMPORAL_ADDRESS ?? '' }),
    namespace: base.TEMPORAL_NAMESPACE,
  });
}, 120_000);

afterAll(async () => {
  await stopRelease();
  await events?.close();
  await deleteArchiveSchedule({ ...base, ...releases.rotated });
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
      const moved = await call('PUT', `/orders/${orderId}/delivery-address`, {
        deliveryAddress: PRIVATE_ADDRESS_MOVED,
      });
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

  /** The payloads of the order's first Update (its creation) as the server stores them, in the codec protocol's JSON. */
  async function storedCreationPayloads(orderId: string) {
    const history = await rawHistory(orderId);
    const accepted = (history.events ?? []).find((event) => event.workflowExecutionUpdateAcceptedEventAttributes);
    const payloads = accepted?.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.args?.payloads;
    expect(payloads?.length).toBeGreaterThan(0);
    return (payloads ?? []).map((payload) => ({
      metadata: Object.fromEntries(
        Object.entries(payload.metadata ?? {}).map(([name, value]) => [name, Buffer.from(value).toString('base64')]),
      ),
      data: Buffer.from(payload.data ?? []).toString('base64'),
    }));
  }

  const codecCall = (path: string, body: unknown, headers: Record<string, string>) =>
    fetch(`${api?.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-namespace': base.TEMPORAL_NAMESPACE ?? '', ...headers },
      body: JSON.stringify(body),
    });

  it('the codec server decodes a stored payload for a token with orders:manage, and gives nothing without one', async () => {
    const payloads = await storedCreationPayloads(ordered.encrypted);
    const decoded = await codecCall(
      '/codec/decode',
      { payloads },
      { authorization: `Bearer ${TOKEN}`, origin: UI_ORIGIN },
    );
    expect(decoded.status).toBe(200);
    expect(decoded.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    const body = (await decoded.json()) as { payloads: { metadata: Record<string, string>; data: string }[] };
    const clear = body.payloads.map((payload) => Buffer.from(payload.data, 'base64').toString('utf8')).join('\n');
    expect(clear).toContain(PRIVATE_ADDRESS.line1);
    expect(Buffer.from(body.payloads[0]?.metadata.encoding ?? '', 'base64').toString()).toBe('json/plain');

    for (const [headers, status] of [
      [{}, 401],
      [{ authorization: 'Bearer not-a-known-token-at-all' }, 401],
      [{ authorization: `Bearer ${READ_TOKEN}` }, 403],
    ] as const) {
      const refused = await codecCall('/codec/decode', { payloads }, { ...headers, origin: UI_ORIGIN });
      expect(refused.status).toBe(status);
      const text = await refused.text();
      expect(privateStringsIn(text)).toEqual([]);
      expect(text).not.toContain('payloads');
      // The UI sees the refusal itself, not a CORS failure.
      expect(refused.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    }
  });

  it('the codec server encodes with the current key, refuses altered payloads, and passes clear ones through', async () => {
    const auth = { authorization: `Bearer ${TOKEN}` };
    const clear = {
      metadata: { encoding: Buffer.from('json/plain').toString('base64') },
      data: Buffer.from('"x"').toString('base64'),
    };
    const encoded = await codecCall('/codec/encode', { payloads: [clear] }, auth);
    expect(encoded.status).toBe(200);
    const [sealed] = ((await encoded.json()) as { payloads: { metadata: Record<string, string>; data: string }[] })
      .payloads;
    expect(Buffer.from(sealed?.metadata[KEY_ID_METADATA] ?? '', 'base64').toString()).toBe('k2');
    const roundTrip = await codecCall('/codec/decode', { payloads: [sealed, clear] }, auth);
    expect(((await roundTrip.json()) as { payloads: unknown[] }).payloads).toEqual([clear, clear]);
    const data = Buffer.from(sealed?.data ?? '', 'base64');
    data[20] = (data[20] ?? 0) ^ 1;
    const altered = await codecCall(
      '/codec/decode',
      { payloads: [{ ...sealed, data: data.toString('base64') }] },
      auth,
    );
    expect(altered.status).toBe(400);
    expect(((await altered.json()) as { code: string }).code).toBe('PAYLOAD_NOT_DECRYPTABLE');
    const malformed = await codecCall('/codec/decode', { payloads: [{ data: '%%%' }] }, auth);
    expect(malformed.status).toBe(400);
  });

  it('answers the Web UI’s CORS preflight for its origin only', async () => {
    const preflight = (origin: string) =>
      fetch(`${api?.url}/codec/decode`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type,x-namespace',
        },
      });
    const ui = await preflight(UI_ORIGIN);
    expect(ui.status).toBe(204);
    expect(ui.headers.get('access-control-allow-origin')).toBe(UI_ORIGIN);
    expect(ui.headers.get('access-control-allow-headers')).toContain('authorization');
    expect(ui.headers.get('access-control-allow-methods')).toContain('POST');
    const stranger = await preflight('https://evil.example');
    expect(stranger.headers.get('access-control-allow-origin')).toBeNull();
  });

  it('temporal workflow show decodes the history through the codec server, and not without the token', async () => {
    const cli = process.env.TEMPORAL_CLI_PATH ?? 'temporal';
    const show = (extra: string[]) =>
      runToEnd(cli, [
        'workflow',
        'show',
        '--address',
        base.TEMPORAL_ADDRESS ?? '',
        '--namespace',
        base.TEMPORAL_NAMESPACE ?? '',
        '--workflow-id',
        workflowIdForOrder(ordered.encrypted),
        '--output',
        'json',
        '--codec-endpoint',
        `${api?.url}/codec`,
        ...extra,
      ]);
    // The JSON output carries each payload's data in base64: read it as the UI's JSON view would.
    const readable = (output: string) =>
      [...output.matchAll(/"data": "([A-Za-z0-9+/=]+)"/g)]
        .map(([, data]) => Buffer.from(data ?? '', 'base64').toString('utf8'))
        .join('\n');
    const decoded = await show(['--codec-auth', `Bearer ${TOKEN}`]);
    expect(decoded.code, decoded.output.slice(-2000)).toBe(0);
    expect(readable(decoded.output)).toContain(PRIVATE_ADDRESS.line1);
    expect(readable(decoded.output)).toContain(PRIVATE_ADDRESS_MOVED.line1);
    const refused = await show([]);
    expect(privateStringsIn(`${refused.output}\n${readable(refused.output)}`)).toEqual([]);
  });

  it('events on Kafka carry customer data only where the catalog requires it; the customers’ data can be erased', async () => {
    for (const orderId of [ordered.encrypted, ordered.clear]) {
      const seen = await eventually(`OrderCompleted of order ${orderId} on Kafka`, () =>
        events.ofOrder(orderId).some((event) => event.headers.ce_type === 'OrderCompleted')
          ? events.ofOrder(orderId)
          : undefined,
      );
      // The new address and the old postal code (OrderDeliveryAddressChanged, required) and the
      // resolution (OrderHoldReleased, required); not the hold's message, the amendment's reason, or
      // the resolution again as OrderStatusChanged's changeReason.
      const carrying = seen.filter((event) => privateStringsIn(event.value).length > 0);
      expect(carrying.map((event) => event.headers.ce_type)).toEqual([
        'OrderHoldReleased',
        'OrderDeliveryAddressChanged',
      ]);
      const published = seen.map((event) => event.value).join('\n');
      expect(published).not.toContain(PRIVATE_MESSAGE);
      expect(published).not.toContain(PRIVATE_AMENDMENT_REASON);
      expect(published.split(PRIVATE_RESOLUTION)).toHaveLength(2);
      // The erasure route's own lines are among those the next test searches.
      const order = await call('GET', `/orders/${orderId}`);
      const erased = await call<{ orderIds: string[] }>('POST', `/customers/${order.body.customerId}/erasure`);
      expect(erased.status).toBe(200);
      expect(erased.body.orderIds).toEqual([orderId]);
      expect(privateStringsIn(JSON.stringify((await call('GET', `/orders/${orderId}`)).body))).toEqual([]);
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
