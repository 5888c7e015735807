// What an operator sees: a cancelled order in the Temporal UI of the local stack, found by its
// OrderStatus search attribute, with its search attributes on the workflow page.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { Order } from '../../src/contracts/schemas.js';
import { workflowIdForOrder } from '../../src/ids.js';
import { api } from '../support/api.js';
import { newCreateOrder } from '../support/orders.js';
import { type Browser, openBrowser } from './chromium.js';

const TEMPORAL_UI = process.env.TEMPORAL_UI_URL ?? 'http://127.0.0.1:8233';
const NAMESPACE = inject('env').TEMPORAL_NAMESPACE ?? 'default';

let browser: Browser;

beforeAll(async () => {
  browser = await openBrowser();
});

afterAll(async () => {
  await browser?.close();
});

describe('Temporal UI', () => {
  it('lists the cancelled order under OrderStatus="CANCELLED" and shows its search attributes', async () => {
    const command = newCreateOrder();
    const created = await api<Order>('POST', '/orders', command);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const { orderId } = created.body;
    const cancelled = await api<Order>('POST', `/orders/${orderId}/cancel`, { reason: 'CUSTOMER_REQUESTED' });
    expect(cancelled.status, JSON.stringify(cancelled.body)).toBe(200);
    const workflowId = workflowIdForOrder(orderId);
    const { page } = browser;

    const workflows = (query: string) =>
      `${TEMPORAL_UI}/namespaces/${NAMESPACE}/workflows?query=${encodeURIComponent(query)}`;
    const rows = page.locator(`a[href^="/namespaces/${NAMESPACE}/workflows/"]:not([href*="start-workflow"])`);

    // The list of cancelled orders. The local stack may hold thousands (benchmarks, other runs),
    // so the operator narrows it to the customer's cancelled orders to find this one.
    await page.goto(workflows('OrderStatus="CANCELLED"'));
    await page.getByText('OrderStatus = "CANCELLED"').first().waitFor();
    await rows.first().waitFor();
    const query = `OrderStatus="CANCELLED" AND CustomerId="${command.customerId}"`;

    // Visibility is eventually consistent: load the list until the workflow shows up in it. Each
    // load waits for the UI's list request to be answered (seconds, when the dev server is busy).
    const link = page.locator(`a[href^="/namespaces/${NAMESPACE}/workflows/${workflowId}/"]`).first();
    const listAnswered = () =>
      page.waitForResponse(
        (response) =>
          response.url().startsWith(`${TEMPORAL_UI}/api/v1/namespaces/${NAMESPACE}/workflows?`) &&
          response.url().includes('CustomerId'),
        { timeout: 30_000 },
      );
    const deadline = Date.now() + 60_000;
    for (;;) {
      const answered = listAnswered();
      await page.goto(workflows(query));
      await answered;
      try {
        await link.waitFor({ timeout: 2_000 });
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
      }
    }
    await page.getByText('OrderStatus = "CANCELLED"').first().waitFor();
    await browser.screenshot('temporal-ui-cancelled-list.png');
    await link.click();
    await page.waitForURL((url) => url.pathname.includes(`/workflows/${workflowId}/`));
    await page.getByRole('heading', { name: workflowId }).waitFor();

    await page.getByRole('tab', { name: 'Search Attributes' }).click();
    const expected = [
      `"OrderStatus": "CANCELLED"`,
      `"CartId": "${command.cartId}"`,
      `"CustomerId": "${command.customerId}"`,
      `"OrderTotal": ${command.total}`,
    ];
    for (const line of expected) await page.locator('main').filter({ hasText: line }).waitFor({ timeout: 15_000 });
    await browser.screenshot('temporal-ui-cancelled-order.png');
    expect(browser.externalRequests).toEqual([]);
  });
});
