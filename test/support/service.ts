// An API and a worker of a test's own config (its database URL, task queue…), in the test's
// process, beside the integration setup's: started, and stopped in reverse.
import { bundleOrderWorkflows } from '../../scripts/build-workflows.js';
import type { Config } from '../../src/config.js';
import { createLogger } from '../../src/logger.js';
import { startServer } from '../../src/server.js';
import { createOrderWorker } from '../../src/worker.js';

export async function startService(config: Config) {
  const worker = await createOrderWorker(config, createLogger(config, 'worker'), {
    workflowBundle: await bundleOrderWorkflows({ traced: false }),
  });
  const running = worker.run();
  const server = await startServer(config);
  const address = server.app.server.address();
  if (address === null || typeof address === 'string') throw new Error('API did not listen on a TCP port');
  return {
    baseUrl: `http://127.0.0.1:${address.port}`,
    async stop() {
      await server.close();
      worker.shutdown();
      await running;
    },
  };
}
