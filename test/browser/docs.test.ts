// What an API consumer sees: Swagger UI at /docs of the API under test, with POST /orders.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Browser, openBrowser } from './chromium.js';

let browser: Browser;

beforeAll(async () => {
  browser = await openBrowser();
});

afterAll(async () => {
  await browser?.close();
});

describe('Swagger UI at /docs', () => {
  it('shows the POST /orders operation with its CreateOrder body', async () => {
    const { page } = browser;
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${inject('apiUrl')}/docs`);
    await page.getByText('Acme Order Management System').first().waitFor();

    const operation = page.locator('.opblock-post').filter({
      has: page.locator('.opblock-summary-path', { hasText: /^\/orders$/ }),
    });
    await operation.waitFor();
    expect(await operation.locator('.opblock-summary-description').textContent()).toContain('Create an order');
    await operation.locator('.opblock-summary').click();
    // Expanded: the request body and the 201 response are described.
    await operation.getByText('cartId').first().waitFor();
    await operation.locator('.response[data-code="201"]').waitFor();
    // The top of the page: the title, and POST /orders opened below it.
    await browser.screenshot('docs.png', { fullPage: true, clip: { x: 0, y: 0, width: 1400, height: 1600 } });
    expect(errors).toEqual([]);
    expect(browser.externalRequests).toEqual([]);
  });
});
