// Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by playwright-core
// (never a browser download; scripts/test.sh installs the package when it is missing), with a
// fresh profile in a temporary directory that is removed again on close.
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page, type PageScreenshotOptions } from 'playwright-core';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Where screenshots go: test-results/ at the repository root (git-ignored, kept by CI as artifacts). */
export const RESULTS_DIR = fileURLToPath(new URL('../../test-results/', import.meta.url));

const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Requests the page made to anything but this machine (there should be none). */
  externalRequests: string[];
  /** Saves a screenshot of the page as test-results/<name>; resolves to its path. */
  screenshot(name: string, options?: Omit<PageScreenshotOptions, 'path'>): Promise<string>;
  close(): Promise<void>;
}

export async function openBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (npm test does it when missing)`);
  }
  const profile = mkdtempSync(join(tmpdir(), 'oms-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 1400, height: 1000 },
      timezoneId: 'UTC',
      locale: 'en-US',
    });
  } catch (error) {
    rmSync(profile, { recursive: true, force: true });
    throw error;
  }
  const page = context.pages()[0] ?? (await context.newPage());
  const externalRequests: string[] = [];
  context.on('request', (request) => {
    const { hostname, protocol } = new URL(request.url());
    if ((protocol === 'http:' || protocol === 'https:') && hostname !== '127.0.0.1' && hostname !== 'localhost') {
      externalRequests.push(request.url());
    }
  });
  return {
    context,
    page,
    externalRequests,
    async screenshot(name, options = {}) {
      mkdirSync(RESULTS_DIR, { recursive: true });
      const path = join(RESULTS_DIR, name);
      await page.screenshot({ ...options, path });
      return path;
    },
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
