// The order workflow's open runs, by version, and moving them onto today's code: what
// `npm run ops -- versions|migrate` and the worker's start-up check use. A run's version is read
// from visibility: `OrderWorkflowVersion` since v5, and before it the patch markers the SDK lists
// in `TemporalChangeVersion` (ORDER_WORKFLOW_VERSIONS says which markers make which version).
import { setTimeout as sleep } from 'node:timers/promises';
import type { Client, WorkflowExecutionInfo, WorkflowHandle } from '@temporalio/client';
import type { Order } from '../contracts/schemas.js';
import { workflowIdForOrder } from '../ids.js';
import {
  handOverUpdate,
  ORDER_WORKFLOW_TYPE,
  ORDER_WORKFLOW_VERSIONS,
  type OrderWorkflowVersion,
} from '../workflows/definitions.js';

export const VERSION_NAMES = Object.keys(ORDER_WORKFLOW_VERSIONS) as OrderWorkflowVersion[];

const openRuns = (taskQueue: string) =>
  `WorkflowType = '${ORDER_WORKFLOW_TYPE}' AND ExecutionStatus = 'Running' AND TaskQueue = '${taskQueue}'`;
const hasMarker = (marker: string) => `TemporalChangeVersion = '${marker}'`;

/** The markers a version has beyond the one before it: the newest tells it apart. */
function newestMarker(version: OrderWorkflowVersion): string | undefined {
  return ORDER_WORKFLOW_VERSIONS[version].markers.at(-1);
}

/**
 * Open runs per version on the task queue. Each version's runs carry all the markers of the
 * versions before it, so counts by marker are cumulative; a version's own count is the
 * difference with the next.
 */
export async function countOpenRunsByVersion(
  client: Client,
  taskQueue: string,
): Promise<Record<OrderWorkflowVersion, number>> {
  const base = openRuns(taskQueue);
  const cumulative = await Promise.all(
    VERSION_NAMES.map(async (version) => {
      const marker = newestMarker(version);
      const query = marker === undefined ? base : `${base} AND ${hasMarker(marker)}`;
      return (await client.workflow.count(query)).count;
    }),
  );
  return Object.fromEntries(
    VERSION_NAMES.map((version, index) => [
      version,
      (cumulative[index] ?? 0) - (index + 1 < cumulative.length ? (cumulative[index + 1] ?? 0) : 0),
    ]),
  ) as Record<OrderWorkflowVersion, number>;
}

/** The version a listed run runs, from its markers. */
export function versionOfRun(info: Pick<WorkflowExecutionInfo, 'searchAttributes'>): OrderWorkflowVersion {
  const markers = (info.searchAttributes.TemporalChangeVersion ?? []) as string[];
  const found = [...VERSION_NAMES]
    .reverse()
    .find((version) => ORDER_WORKFLOW_VERSIONS[version].markers.every((marker) => markers.includes(marker)));
  return found ?? 'v1';
}

/** The open runs of `version` on the task queue, oldest first. */
async function* openRunsOf(client: Client, taskQueue: string, version: OrderWorkflowVersion) {
  const marker = newestMarker(version);
  const query = `${openRuns(taskQueue)}${marker === undefined ? '' : ` AND ${hasMarker(marker)}`}`;
  for await (const info of client.workflow.list({ query })) {
    if (versionOfRun(info) === version) yield info;
  }
}

export interface MigrationOptions {
  from: OrderWorkflowVersion;
  taskQueue: string;
  /** Runs moved per second at most. */
  ratePerSecond: number;
  /** How long a supported run may take to hand over before it is left for the next pass. */
  perRunTimeoutMs: number;
  /** Reads the order a retired run is replaced from (PostgreSQL). */
  findOrder(orderId: string): Promise<Order | null>;
  /** Starts today's run for the order, terminating the old one in the same request. */
  replaceRun(order: Order, actor: string): Promise<void>;
  report(line: string): void;
}

export interface MigrationReport {
  moved: number;
  /** Runs still busy (transitions pending) or not answering: the next pass takes them. */
  left: number;
}

/**
 * Moves every open run of `from` onto today's code, without losing a pending transition, a
 * deadline or an unpublished event:
 * - a version this release still runs (v4) is asked to hand over (the handOver Update): it
 *   finishes what it accepted, refuses new transitions meanwhile (callers ask again) and
 *   continues as new, taking its pending signals and its amendment window's start along;
 * - a retired version (v1 to v3) is replaced once its history shows nothing in flight
 *   (pendingWorkIn): a new run started from PostgreSQL terminates it in the same request, and
 *   re-reads the order's status, deadlines and unpublished events there. The history, not the
 *   run's own query, decides: no release can replay a v2 or v3 run that published an event
 *   (the previous release calls publishOrderEvents where they called publishOrderEvent), so a
 *   query would fail on nondeterminism.
 * Idempotent and resumable: each pass lists what is still open on `from`; a run already moved
 * is not listed again.
 */
export async function migrateRuns(client: Client, options: MigrationOptions): Promise<MigrationReport> {
  const { from, taskQueue, ratePerSecond, perRunTimeoutMs, report } = options;
  const supported = ORDER_WORKFLOW_VERSIONS[from].supported;
  const pause = 1000 / ratePerSecond;
  const result: MigrationReport = { moved: 0, left: 0 };
  for await (const info of openRunsOf(client, taskQueue, from)) {
    const started = Date.now();
    const orderId = info.workflowId.replace(/^order-/, '');
    // Visibility lags: a run moved a moment ago may still be listed as running on `from`.
    const current = await client.workflow.getHandle(info.workflowId, info.runId).describe();
    if (current.status.name !== 'RUNNING' || versionOfRun(current) !== from) continue;
    try {
      const moved = supported
        ? await handOver(client, info, perRunTimeoutMs)
        : await replaceRetiredRun(client, info, orderId, options);
      if (moved) {
        result.moved++;
        report(`moved ${info.workflowId} (run ${info.runId}) from ${from}`);
      } else {
        result.left++;
        report(`left ${info.workflowId} (run ${info.runId}): it did not hand over in time; the next pass takes it`);
      }
    } catch (error) {
      result.left++;
      report(`left ${info.workflowId} (run ${info.runId}): ${(error as Error).message}`);
    }
    await sleep(Math.max(0, pause - (Date.now() - started)));
  }
  return result;
}

/** Asks a supported run to hand over and waits until its next run is there. */
async function handOver(client: Client, info: WorkflowExecutionInfo, timeoutMs: number): Promise<boolean> {
  const run = client.workflow.getHandle(info.workflowId, info.runId);
  await run.executeUpdate(handOverUpdate);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const latest = await client.workflow.getHandle(info.workflowId).describe();
    if (latest.runId !== info.runId) return true;
    await sleep(100);
  }
  return false;
}

async function replaceRetiredRun(
  client: Client,
  info: WorkflowExecutionInfo,
  orderId: string,
  { findOrder, replaceRun }: MigrationOptions,
): Promise<true> {
  if (info.workflowId !== workflowIdForOrder(orderId)) throw new Error('not an order workflow id');
  const history = await client.workflow.getHandle(info.workflowId, info.runId).fetchHistory();
  // Only a run with nothing in flight may be replaced: PostgreSQL has all of it then.
  const pending = pendingWorkIn(history.events ?? []);
  if (pending !== null) throw new Error(`${pending}; the next pass takes it`);
  const order = await findOrder(orderId);
  if (order === null) throw new Error(`order ${orderId} is not in PostgreSQL`);
  await replaceRun(order, `ops:migrate-from-${versionOfRun(info)}`);
  return true;
}

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

/**
 * What a run still has in flight, read from its history alone (no worker needs to replay it),
 * or null when nothing is: every activity it scheduled has ended, every Update it accepted was
 * answered, and its last completed workflow task saw every request that arrived before it (its
 * start, a signal, an admitted Update). A request after that task could start a transition the
 * replacement would never see, so such a run is left for the next pass. An activity result or a
 * fired timer the run has not taken yet does not hold it: the activity's work is in PostgreSQL
 * (and its events in the outbox), and the replacement sets its deadlines again from there.
 */
export function pendingWorkIn(events: readonly HistoryEvent[]): string | null {
  const openActivities = new Set<string>();
  const openUpdates = new Set<string>();
  let lastRequestId = 0;
  let seenUpToId = 0;
  for (const event of events) {
    const id = Number(event.eventId);
    const ended =
      event.activityTaskCompletedEventAttributes ??
      event.activityTaskFailedEventAttributes ??
      event.activityTaskTimedOutEventAttributes ??
      event.activityTaskCanceledEventAttributes;
    if (event.activityTaskScheduledEventAttributes) openActivities.add(String(id));
    if (ended) openActivities.delete(String(ended.scheduledEventId));
    const accepted = event.workflowExecutionUpdateAcceptedEventAttributes;
    if (accepted?.protocolInstanceId) openUpdates.add(accepted.protocolInstanceId);
    const answered = event.workflowExecutionUpdateCompletedEventAttributes?.meta?.updateId;
    if (answered) openUpdates.delete(answered);
    if (
      event.workflowExecutionStartedEventAttributes ||
      event.workflowExecutionSignaledEventAttributes ||
      event.workflowExecutionUpdateAdmittedEventAttributes
    ) {
      lastRequestId = id;
    }
    // A completed task saw every request that arrived before it started.
    const completed = event.workflowTaskCompletedEventAttributes;
    if (completed) seenUpToId = Number(completed.startedEventId);
  }
  if (openActivities.size > 0) return `${openActivities.size} activities in flight`;
  if (openUpdates.size > 0) return `${openUpdates.size} accepted Updates not yet answered`;
  if (lastRequestId > seenUpToId) return 'a request its workflow has not yet taken';
  return null;
}
