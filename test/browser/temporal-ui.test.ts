// What an operator sees in the Temporal UI of the local stack: a cancelled order found by its
// OrderStatus search attribute, with its search attributes on the workflow page; a confirmed
// order's user metadata (summary, details, current details) and the summaries of its timer and
// activity in the event history and the timeline.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
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

const workflowsPage = (query: string) =>
  `${TEMPORAL_UI}/namespaces/${NAMESPACE}/workflows?query=${encodeURIComponent(query)}`;
/** The links of the workflow list to the runs it shows. */
const rows = () => browser.page.locator(`a[href^="/namespaces/${NAMESPACE}/workflows/"]:not([href*="start-workflow"])`);

/**
 * Loads the workflow list under `query` until it shows a run of `workflowId` (visibility is
 * eventually consistent), and gives that run's link. Each load waits for the UI's list request
 * for the query, which names `marker`, to be answered (seconds, when the dev server is busy).
 */
async function listedRun(query: string, workflowId: string, marker: string) {
  const { page } = browser;
  const link = page.locator(`a[href^="/namespaces/${NAMESPACE}/workflows/${workflowId}/"]`).first();
  const listAnswered = () =>
    page.waitForResponse(
      (response) =>
        response.url().startsWith(`${TEMPORAL_UI}/api/v1/namespaces/${NAMESPACE}/workflows?`) &&
        (new URL(response.url()).searchParams.get('query') ?? '').includes(marker),
      { timeout: 30_000 },
    );
  const deadline = Date.now() + 60_000;
  for (;;) {
    const answered = listAnswered();
    await page.goto(workflowsPage(query));
    await answered;
    try {
      await link.waitFor({ timeout: 2_000 });
      return link;
    } catch (error) {
      if (Date.now() > deadline) throw error;
    }
  }
}

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

    // The list of cancelled orders. The local stack may hold thousands (benchmarks, other runs),
    // so the operator narrows it to the customer's cancelled orders to find this one.
    await page.goto(workflowsPage('OrderStatus="CANCELLED"'));
    await page.getByText('OrderStatus = "CANCELLED"').first().waitFor();
    await rows().first().waitFor();
    const query = `OrderStatus="CANCELLED" AND CustomerId="${command.customerId}"`;
    const link = await listedRun(query, workflowId, command.customerId);
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

  it('shows a confirmed order’s summary, details and next deadline, and the summaries of its timer and activity', async () => {
    // 2 × 42.50 + 29.90 + 15.00 = 129.90 EUR in 3 lines: the summary's total keeps its trailing zero.
    const command = newCreateOrder({
      items: [
        { productId: randomUUID(), quantity: 2, unitPrice: 4250 },
        { productId: randomUUID(), quantity: 1, unitPrice: 2990 },
        { productId: randomUUID(), quantity: 1, unitPrice: 1500 },
      ],
    });
    expect(command.total).toBe(12_990);
    const created = await api<Order>('POST', '/orders', command);
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const { orderId } = created.body;
    const confirmed = await api<Order>('POST', `/orders/${orderId}/confirm`, {});
    expect(confirmed.status, JSON.stringify(confirmed.body)).toBe(200);
    expect(confirmed.body.status).toBe('CONFIRMED');
    const { confirmationNumber, updatedAt } = confirmed.body;
    expect(confirmationNumber).toBeTruthy();
    // The amendment window runs from when the order became CONFIRMED.
    const windowCloses = new Date(Date.parse(updatedAt) + loadConfig(inject('env')).AMENDMENT_WINDOW_MS).toISOString();
    const workflowId = workflowIdForOrder(orderId);
    const summary = `Order ${orderId}: 129.90 EUR, 3 items`;
    const { page } = browser;

    const link = await listedRun(`WorkflowId="${workflowId}"`, workflowId, workflowId);
    await link.click();
    await page.waitForURL((url) => url.pathname.includes(`/workflows/${workflowId}/`));
    await page.getByRole('heading', { name: workflowId }).waitFor();

    // User Metadata: the static summary and details from the start, the current details the
    // workflow set, each rendered from markdown in a frame of its own.
    await page.getByRole('tab', { name: 'User Metadata' }).click();
    await page.waitForURL((url) => url.pathname.endsWith('/user-metadata'));
    const rendered = (id: string) => page.frameLocator(`iframe#user-metadata-${id}`).locator('main');
    await rendered('summary').getByText(summary, { exact: true }).waitFor();
    const details = rendered('details');
    for (const line of [
      `Order ${orderId}`,
      `Customer ${command.customerId} · cart ${command.cartId}`,
      'Total 129.90 EUR · items 3',
    ]) {
      await details.locator('p', { hasText: line }).waitFor();
    }
    await details.locator('strong', { hasText: /^Customer$/ }).waitFor();
    // The current details come from the workflow (a query the worker answers when the page
    // loads), not from the history: a query that found the worker busy shows "No Current
    // Details", so the page is loaded again until they are there.
    const current = rendered('current-details');
    const deadline = Date.now() + 45_000;
    for (;;) {
      try {
        await current.locator('p', { hasText: 'Status: CONFIRMED' }).waitFor({ timeout: 10_000 });
        break;
      } catch (error) {
        if (Date.now() > deadline) throw error;
        await page.reload();
      }
    }
    for (const line of [
      'Status: CONFIRMED',
      `Confirmation: ${confirmationNumber}`,
      `Next deadline: amendment window closes at ${windowCloses}`,
    ]) {
      await current.locator('p', { hasText: line }).waitFor();
    }
    await current.locator('strong', { hasText: /^Status:$/ }).waitFor();
    expect(await current.textContent()).not.toMatch(/Hold:|\*\*/);
    await browser.screenshot('temporal-ui-order-metadata.png');

    // Event History: the summary on the start event, the timer's and the activity's on theirs.
    await page.getByRole('tab', { name: 'Event History' }).click();
    await page.waitForURL((url) => url.pathname.endsWith('/history'));
    const event = (type: string, ...texts: string[]) =>
      texts.reduce(
        (row, text) => row.filter({ hasText: text }),
        page.locator('tr[data-testid="event-summary-row"]').filter({ hasText: type }),
      );
    await event('Workflow Execution Started', 'Summary', summary).waitFor();
    await event('Timer Started', 'Summary', 'amendment window closes').waitFor();
    await event('Activity Task Scheduled', 'persistOrderTransition', 'Summary', 'commit confirm').waitFor();
    await browser.screenshot('temporal-ui-order-history.png');

    // Timeline: the activity named with its summary, the timer by its summary.
    await page.getByRole('tab', { name: 'Timeline' }).click();
    await page.waitForURL((url) => url.pathname.endsWith('/timeline'));
    await page.getByText('persistOrderTransition • commit confirm', { exact: true }).waitFor();
    expect(await page.locator('tr[data-testid="event-summary-row"]').count()).toBe(0);
    const timer = page.getByText('amendment window closes', { exact: true });
    await timer.waitFor();
    await timer.scrollIntoViewIfNeeded();
    await browser.screenshot('temporal-ui-order-timeline.png');
    expect(browser.externalRequests).toEqual([]);
  });
});
