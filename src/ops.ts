// Operator commands, `npm run ops -- <command>`, with the service's own config (env):
//   versions                       open order runs per workflow version on TEMPORAL_TASK_QUEUE
//   migrate --from <version>       moves every open run of that version onto today's code
//           [--rate <runs/s>]      at most this many runs per second (default 10)
//           [--timeout-ms <ms>]    per run, to hand over or answer its query (default 15000)
// Both print what they found or did; migrate exits 2 when runs were left (run it again).
import { parseArgs } from 'node:util';
import { loadConfig } from './config.js';
import { createDatabase } from './db/index.js';
import { findOrder } from './db/orders-repository.js';
import { createLogger } from './logger.js';
import { toCommand } from './orders/order-service.js';
import { connectTemporal, replaceOrderRun } from './temporal/client.js';
import { countOpenRunsByVersion, migrateRuns, VERSION_NAMES } from './temporal/order-runs.js';
import { ORDER_WORKFLOW_VERSIONS, type OrderWorkflowVersion } from './workflows/definitions.js';

const USAGE = 'usage: npm run ops -- versions | migrate --from <version> [--rate <runs/s>] [--timeout-ms <ms>]';

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      from: { type: 'string' },
      rate: { type: 'string', default: '10' },
      'timeout-ms': { type: 'string', default: '15000' },
    },
  });
  const [command] = positionals;
  const config = loadConfig();
  const temporal = await connectTemporal(config);
  try {
    if (command === 'versions') {
      const counts = await countOpenRunsByVersion(temporal.client, config.TEMPORAL_TASK_QUEUE);
      console.log(`open order runs on task queue ${config.TEMPORAL_TASK_QUEUE} (${config.TEMPORAL_NAMESPACE}):`);
      for (const version of VERSION_NAMES) {
        const { supported, about } = ORDER_WORKFLOW_VERSIONS[version];
        console.log(
          `  ${version}  ${String(counts[version]).padStart(8)}  ${supported ? 'supported' : 'retired  '}  ${about}`,
        );
      }
      const stranded = VERSION_NAMES.filter(
        (version) => !ORDER_WORKFLOW_VERSIONS[version].supported && counts[version] > 0,
      );
      if (stranded.length > 0) {
        console.log(
          `this release cannot run ${stranded.join(', ')}: \`migrate --from <version>\` replaces them from PostgreSQL`,
        );
      }
      return 0;
    }
    if (command === 'migrate') {
      const from = values.from;
      const rate = Number(values.rate);
      const timeoutMs = Number(values['timeout-ms']);
      if (!isVersion(from) || !(rate > 0) || !(timeoutMs > 0)) {
        console.error(USAGE);
        return 64;
      }
      const db = createDatabase(config, createLogger(config, 'ops'));
      try {
        const report = await migrateRuns(temporal.client, {
          from,
          taskQueue: config.TEMPORAL_TASK_QUEUE,
          ratePerSecond: rate,
          perRunTimeoutMs: timeoutMs,
          findOrder: (orderId) => findOrder(db, orderId),
          replaceRun: (order, actor) =>
            replaceOrderRun(temporal.client, config, order.orderId, toCommand(order), order.status, actor),
          report: (line) => console.log(line),
        });
        console.log(`migrate --from ${from}: moved ${report.moved}, left ${report.left}`);
        return report.left === 0 ? 0 : 2;
      } finally {
        await db.close();
      }
    }
    console.error(USAGE);
    return 64;
  } finally {
    await temporal.close();
  }
}

function isVersion(value: string | undefined): value is OrderWorkflowVersion {
  return value !== undefined && Object.hasOwn(ORDER_WORKFLOW_VERSIONS, value);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error('ops failed:', error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
