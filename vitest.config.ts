import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// The fault suite stops Kafka and PostgreSQL and takes minutes: it runs only when asked for by
// name (`vitest run --project faults`, i.e. `npm run test:faults`), never in the default run.
const faultsAsked = process.argv.some(
  (arg, index, args) => arg === '--project=faults' || (arg === '--project' && args[index + 1] === 'faults'),
);

/** The consumer kit's entry in source form (tsconfig.json maps the package name to it as well). */
const ORDER_EVENTS_SOURCE = fileURLToPath(new URL('packages/order-events/src/index.ts', import.meta.url));

export default defineConfig({
  test: {
    reporters: ['default'],
    projects: [
      { test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        test: {
          name: 'workflow',
          include: ['test/workflow/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        // Headless Chromium (Debian's /usr/bin/chromium) against the API and worker of the
        // integration setup, which both projects share.
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        // The consumer kit (packages/order-events): its unit tests, and its runner against the
        // local stack's Kafka and PostgreSQL.
        test: {
          name: 'order-events',
          include: ['packages/*/test/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        // Example consumers of ordering.orders, on the kit's source as the workspace links it.
        resolve: { alias: { '@acme/order-events': ORDER_EVENTS_SOURCE } },
        test: {
          name: 'examples',
          include: ['examples/*/test/**/*.test.ts'],
          // The Python consumer's test reads events of the API and worker of the integration setup.
          globalSetup: ['test/support/global-setup.ts'],
          testTimeout: 240_000,
          hookTimeout: 120_000,
        },
      },
      {
        test: {
          name: 'faults',
          include: faultsAsked ? ['test/faults/**/*.test.ts'] : [],
          // Scenario files stop and start the shared Kafka and PostgreSQL: one file at a time, whatever the cores.
          poolOptions: { forks: { singleFork: true } },
          testTimeout: 420_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
