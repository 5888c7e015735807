// Entry point of the API process: builds its dependencies from the config, serves, and
// closes them in reverse order on SIGTERM/SIGINT.
import { pathToFileURL } from 'node:url';
import { buildApp } from './api/app.js';
import { createOrderService } from './api/order-service.js';
import { type Config, loadConfig } from './config.js';
import { createDatabase } from './db/index.js';
import { createLogger } from './logger.js';
import { connectOrderWorkflows } from './temporal/client.js';

export async function startServer(config: Config) {
  const logger = createLogger(config, 'api');
  const db = createDatabase(config, logger);
  const workflows = await connectOrderWorkflows(config);
  const orders = createOrderService({
    db,
    workflows,
    createTimeoutMs: config.CREATE_ORDER_TIMEOUT_MS,
    transitionWaitMs: config.TRANSITION_WAIT_MS,
  });
  const app = await buildApp({ orders, logger });
  await app.listen({ host: config.HOST, port: config.PORT });
  return {
    app,
    logger,
    /** Stops accepting, drains in-flight requests, then closes Temporal and PostgreSQL. */
    async close() {
      await app.close();
      await workflows.close();
      await db.close();
    },
  };
}

async function main() {
  const server = await startServer(loadConfig());
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    server.logger.info({ signal }, 'shutting down');
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        server.logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main().catch((error: unknown) => {
    console.error('order API failed to start:', error);
    process.exit(1);
  });
}
