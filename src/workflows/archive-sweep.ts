// The archive sweep: a Temporal Schedule (src/temporal/archive-schedule.ts) starts one every
// ARCHIVE_SWEEP_INTERVAL_MS; it archives every ended order whose ARCHIVE_AFTER_MS has passed.
// Ended orders thus keep no workflow open for months only to wait for their archival: a sweep
// is one short run, whatever the number of orders it archives. The work is one long activity
// that heartbeats per page, so a worker killed mid-sweep costs one page's retry, not the sweep.
import { proxyActivities } from '@temporalio/workflow';
import type { OrderActivities } from '../activities/index.js';
import type { ArchiveSweepInput, ArchiveSweepResult } from './definitions.js';

const { archiveDueOrders } = proxyActivities<OrderActivities>({
  summary: 'archive due orders',
  // A sweep of 100,000 due orders takes minutes; the heartbeat, not this, notices a dead worker.
  startToCloseTimeout: '2 hours',
  heartbeatTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

export async function orderArchiveSweep(input: ArchiveSweepInput): Promise<ArchiveSweepResult> {
  return archiveDueOrders(input);
}
