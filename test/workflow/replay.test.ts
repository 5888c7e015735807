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
      // v4: persistOrder as a local activity, each commit's events in one publishOrderEvents; the
      // run waits for its archival timer. Supported: such runs are still open in production.
      'v4-order-bad-signals.json',
      'v4-order-cancelled.json',
      'v4-order-completed-after-publish-retries.json',
      'v4-order-completed-then-archived.json',
      // Started on v4, handed over to v5 by `npm run ops -- migrate` (the handOver Update).
      'v4-order-full-lifecycle.json',
      'v4-order-handed-over.json',
      'v4-order-racing-updates.json',
      // v5: the run ends at COMPLETED or CANCELLED; continues as new after ORDER_CONTINUE_AS_NEW_AFTER.
      'v5-order-bad-signals.json',
      'v5-order-cancelled.json',
      'v5-order-completed-after-publish-retries.json',
      'v5-order-completed.json',
      'v5-order-continued-as-new.json',
      'v5-order-full-lifecycle.json',
      'v5-order-racing-updates.json',
      // The run after a continue-as-new, answering an Update repeated from its predecessor.
      'v5-order-update-repeated-after-continue.json',
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

  it('v5 runs carry the archival-by-sweep marker, name their version, and never archive themselves', () => {
    for (const file of files.filter((name) => name.startsWith('v5-'))) {
      const history = readFileSync(new URL(file, dir), 'utf8');
      const { events } = JSON.parse(history) as {
        events: {
          activityTaskScheduledEventAttributes?: { input?: { payloads?: { data?: string }[] } };
          markerRecordedEventAttributes?: { details?: Record<string, { payloads?: { data?: string }[] }> };
          upsertWorkflowSearchAttributesEventAttributes?: { searchAttributes?: { indexedFields?: object } };
          workflowExecutionStartedEventAttributes?: { searchAttributes?: { indexedFields?: object } };
        }[];
      };
      const patches = events.flatMap((event) => {
        const data = event.markerRecordedEventAttributes?.details?.['patch-data']?.payloads?.[0]?.data;
        return data === undefined ? [] : [JSON.parse(Buffer.from(data, 'base64').toString('utf8')).id as string];
      });
      expect(patches, file).toEqual(expect.arrayContaining(['archival-by-sweep']));
      // Set when the run starts or upserted by it (a run continued as new starts with its predecessor's).
      const named = events.flatMap((event) =>
        Object.keys(
          event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields ??
            event.workflowExecutionStartedEventAttributes?.searchAttributes?.indexedFields ??
            {},
        ),
      );
      expect(named, file).toContain('OrderWorkflowVersion');
      const scheduledInputs = events.flatMap((event) =>
        (event.activityTaskScheduledEventAttributes?.input?.payloads ?? []).map((payload) =>
          Buffer.from(payload.data ?? '', 'base64').toString('utf8'),
        ),
      );
      expect(
        scheduledInputs.some((input) => input.includes('"command":"archive"')),
        file,
      ).toBe(false);
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
