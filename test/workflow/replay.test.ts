// Recorded histories of each path, replayed against today's workflow code: a change that is
// not replay-compatible fails here, before it can break orders already running.
// After an intended change, guard it with patched() and re-record (see README).
import { readdirSync, readFileSync } from 'node:fs';
import { DefaultLogger, Runtime, Worker, type WorkflowBundle } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import { bundleOrderWorkflows } from '../../scripts/build-workflows.js';
import { orderWorkflowSinks } from '../../src/worker.js';

const dir = new URL('./histories/', import.meta.url);
const files = readdirSync(dir).filter((file) => file.endsWith('.json'));

// Both bundles the worker may run: without OpenTelemetry (tracing off) and with its interceptors.
// A run may move between them at any deploy that turns tracing on or off, so each must replay every history.
const noExport = { exportWorkflowSpans: () => undefined };
const bundles: Record<'untraced' | 'traced', WorkflowBundle> = {} as never;

beforeAll(async () => {
  Runtime.install({ logger: new DefaultLogger('ERROR') });
  [bundles.untraced, bundles.traced] = await Promise.all([
    bundleOrderWorkflows({ traced: false }),
    bundleOrderWorkflows({ traced: true }),
  ]);
}, 120_000);

describe('replay of recorded order histories', () => {
  it('has a recorded history of every path', () => {
    expect(files.sort()).toEqual([
      // Recorded on the first workflow version (orderWorkflowV1 replays them).
      'order-cancelled.json',
      'order-completed-after-publish-retries.json',
      'order-completed.json',
      'order-racing-signals.json',
      // Started on the first version, finished on today's code after the upgrade.
      'v1-order-cancelled-by-update-after-upgrade.json',
      'v1-order-completed-by-signal-after-upgrade.json',
      // The lifecycle loop.
      'v2-order-bad-signals.json',
      'v2-order-cancelled.json',
      'v2-order-completed-after-publish-retries.json',
      'v2-order-completed.json',
      'v2-order-racing-updates.json',
      // The full lifecycle with durable deadlines (runs without them end at COMPLETED/CANCELLED, as v2-*).
      'v3-order-bad-signals.json',
      'v3-order-cancelled.json',
      'v3-order-completed-after-publish-retries.json',
      'v3-order-completed-then-archived.json',
      'v3-order-full-lifecycle.json',
      'v3-order-racing-updates.json',
      // persistOrder as a local activity, each commit's events in one publishOrderEvents.
      'v4-order-bad-signals.json',
      'v4-order-cancelled.json',
      'v4-order-completed-after-publish-retries.json',
      'v4-order-completed-then-archived.json',
      'v4-order-full-lifecycle.json',
      'v4-order-racing-updates.json',
    ]);
  });

  it('v4 runs persist the order in a local activity (a marker) and publish each commit in one activity', () => {
    for (const file of files.filter((name) => name.startsWith('v4-'))) {
      const { events } = JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as {
        events: {
          activityTaskScheduledEventAttributes?: { activityType: { name: string } };
          markerRecordedEventAttributes?: { markerName: string };
        }[];
      };
      const scheduled = events.flatMap((event) => event.activityTaskScheduledEventAttributes?.activityType.name ?? []);
      expect(scheduled, file).not.toContain('persistOrder');
      expect(scheduled, file).not.toContain('publishOrderEvent');
      expect(scheduled, file).toContain('publishOrderEvents');
      const markers = events.flatMap((event) => event.markerRecordedEventAttributes?.markerName ?? []);
      expect(markers, file).toContain('core_local_activity');
    }
  });

  it('the untraced bundle carries no OpenTelemetry interceptor; the traced one does', () => {
    expect(bundles.untraced.code).not.toContain('OpenTelemetryInboundInterceptor');
    expect(bundles.traced.code).toContain('OpenTelemetryInboundInterceptor');
  });

  const cases = files.flatMap((file) => (['untraced', 'traced'] as const).map((bundle) => [file, bundle] as const));
  it.each(cases)('%s replays without nondeterminism on the %s bundle', async (file, bundle) => {
    const history = JSON.parse(readFileSync(new URL(file, dir), 'utf8'));
    await expect(
      Worker.runReplayHistory(
        // The traced bundle's interceptors call the exporter sink; the worker gives it only when tracing is on.
        { workflowBundle: bundles[bundle], ...(bundle === 'traced' ? { sinks: orderWorkflowSinks(noExport) } : {}) },
        history,
        `replay-${file}-${bundle}`,
      ),
    ).resolves.toBeUndefined();
  });
});
