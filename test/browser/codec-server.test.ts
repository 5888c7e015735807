// An operator reads an encrypted order in the Temporal UI through the codec server. An API and a
// worker of their own run with payload keys; the UI of the local stack is pointed at the API's
// /codec (its "Codec Server endpoint" setting, kept in the browser's local storage). Without a
// token the UI's decode requests are refused (401) and the page shows no address; with one (what
// the UI sends when it signs users in with the identity provider whose tokens the API accepts,
// "pass access token"; here the test adds the header, as the dev server's UI has no sign-in) the
// workflow's input shows the delivery address and its summary reads in clear.
import type { Response } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import type { Order } from '../../src/contracts/schemas.js';
import { workflowIdForOrder } from '../../src/ids.js';
import { connectTemporal } from '../../src/temporal/client.js';
import { deleteArchiveSchedule, PAYLOAD_KEY_1, PRIVATE_ADDRESS, privateStringsIn } from '../support/customer-data.js';
import { newCreateOrder } from '../support/orders.js';
import { type AppProcess, freePort, startApiProcess, startWorkerProcess } from '../support/processes.js';
import { type Browser, openBrowser } from './chromium.js';

const TEMPORAL_UI = process.env.TEMPORAL_UI_URL ?? 'http://127.0.0.1:8233';
const TOKEN = 'codec-ui-ops-token-000001';
const env: Record<string, string> = {
  ...inject('env'),
  TEMPORAL_TASK_QUEUE: 'orders-test-codec-ui',
  KAFKA_TOPIC_PREFIX: 'test-codec-ui.',
  TEMPORAL_PAYLOAD_KEYS: PAYLOAD_KEY_1,
  CODEC_CORS_ORIGINS: `${TEMPORAL_UI},${TEMPORAL_UI.replace('127.0.0.1', 'localhost')}`,
  API_KEYS: JSON.stringify({ [TOKEN]: ['orders:create', 'orders:read', 'orders:manage'] }),
};
const NAMESPACE = env.TEMPORAL_NAMESPACE ?? 'default';

let browser: Browser;
let api: AppProcess & { url: string };
let worker: AppProcess;

beforeAll(async () => {
  [worker, api] = await Promise.all([startWorkerProcess(env), startApiProcess(env, await freePort())]);
  browser = await openBrowser();
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await Promise.all([api?.stop(), worker?.stop()]);
  await deleteArchiveSchedule(env);
});

describe('the Temporal UI through the codec server', () => {
  it('shows an encrypted order’s address with a token, and nothing without one', async () => {
    const command = { ...newCreateOrder(), deliveryAddress: PRIVATE_ADDRESS };
    const response = await fetch(`${api.url}/orders`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify(command),
    });
    expect(response.status).toBe(201);
    const order = (await response.json()) as Order;
    const workflowId = workflowIdForOrder(order.orderId);
    // With the codec: the run's memo is encrypted too.
    const temporal = await connectTemporal(loadConfig(env));
    const { runId } = await temporal.client.workflow.getHandle(workflowId).describe();
    await temporal.close();

    const codec = `${api.url}/codec`;
    const { page } = browser;
    // The UI's Codec Server setting, as its settings dialog stores it ("use my browser setting and ignore the
    // cluster-level setting": the dev server's UI may have one of its own).
    await page.goto(TEMPORAL_UI);
    await page.evaluate(
      `localStorage.setItem('endpoint', ${JSON.stringify(JSON.stringify(codec))}); ` +
        `localStorage.setItem('overrideRemoteCodecConfiguration', 'true')`,
    );
    const workflowPage = `${TEMPORAL_UI}/namespaces/${NAMESPACE}/workflows/${workflowId}/${runId}/history`;
    const decodeAnswered = () =>
      page.waitForResponse(
        (answer: Response) => answer.url().startsWith(`${codec}/decode`) && answer.request().method() === 'POST',
        { timeout: 30_000 },
      );

    // Without a token: the codec server refuses, the page shows the encrypted payloads only.
    const refused = decodeAnswered();
    await page.goto(workflowPage);
    expect((await refused).status()).toBe(401);
    await page.getByRole('heading', { name: workflowId }).waitFor();
    await page.getByText('Codec Server could not connect').filter({ visible: true }).first().waitFor();
    // The input as stored: ciphertext only.
    await page.getByText('Input', { exact: true }).filter({ visible: true }).first().waitFor();
    await browser.screenshot('temporal-ui-codec-refused.png', { fullPage: true });
    const shown = (await page.locator('main').textContent()) ?? '';
    expect(shown).toMatch(/"[A-Za-z0-9+/]{200,}={0,2}"/);
    expect(shown).not.toContain('deliveryAddress');
    expect(privateStringsIn(await page.content())).toEqual([]);

    // With the operator's token on the UI's codec requests: the input and the summary decoded.
    await page.route(`${codec}/**`, (route) =>
      route.continue({ headers: { ...route.request().headers(), authorization: `Bearer ${TOKEN}` } }),
    );
    const decoded = decodeAnswered();
    await page.goto(workflowPage);
    expect((await decoded).status()).toBe(200);
    const address = page.getByText(PRIVATE_ADDRESS.line1).filter({ visible: true }).first();
    await address.waitFor({ timeout: 30_000 });
    await address.scrollIntoViewIfNeeded();
    expect(await page.getByText('Codec Server could not connect').filter({ visible: true }).count()).toBe(0);
    await browser.screenshot('temporal-ui-codec-decoded.png', { fullPage: true });
    expect(browser.externalRequests).toEqual([]);
  });
});
