// Workflow tests run on the same Temporal CLI binary as the local stack: never a download.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import {
  CartIdAttribute,
  CustomerIdAttribute,
  HoldOverdueAttribute,
  OrderStatusAttribute,
  OrderTotalAttribute,
  OrderWorkflowVersionAttribute,
} from '../../src/workflows/definitions.js';

export const TEMPORAL_CLI =
  process.env.TEMPORAL_CLI_PATH ?? fileURLToPath(new URL('../../.stack/venv/bin/temporal', import.meta.url));

export async function createTestEnvironment(): Promise<TestWorkflowEnvironment> {
  if (!existsSync(TEMPORAL_CLI)) {
    throw new Error(`no Temporal CLI at ${TEMPORAL_CLI}: run scripts/stack.sh start (or npm test) first`);
  }
  return TestWorkflowEnvironment.createLocal({
    server: {
      executable: { type: 'existing-path', path: TEMPORAL_CLI },
      ip: '127.0.0.1',
      searchAttributes: [
        OrderStatusAttribute,
        CustomerIdAttribute,
        CartIdAttribute,
        OrderTotalAttribute,
        HoldOverdueAttribute,
        OrderWorkflowVersionAttribute,
      ],
      extraArgs: ['--dynamic-config-value', 'frontend.enableExecuteMultiOperation=true', '--log-level', 'error'],
    },
  });
}
