// Which workflow code the worker runs with tracing on and off (issue 19): off, nothing of
// OpenTelemetry reaches the workflow sandbox; on, the traced twin of the prebuilt bundle.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ORDER_WORKFLOW_INTERCEPTOR_MODULES, tracedBundlePath, workflowCodeOptions } from '../../src/worker.js';

const dir = mkdtempSync(join(tmpdir(), 'workflow-code-'));
const plain = join(dir, 'workflow-bundle.js');
writeFileSync(plain, '');
writeFileSync(tracedBundlePath(plain), '');

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the workflow code of the order worker', () => {
  it('names the traced twin beside the bundle', () => {
    expect(tracedBundlePath('/app/dist/workflow-bundle.js')).toBe('/app/dist/workflow-bundle.traced.js');
  });

  it('runs the untraced bundle when tracing is off, its traced twin when on', () => {
    expect(workflowCodeOptions({ bundlePath: plain }, false)).toEqual({
      workflowBundle: { codePath: plain },
      workflowModules: [],
    });
    expect(workflowCodeOptions({ bundlePath: plain }, true)).toEqual({
      workflowBundle: { codePath: join(dir, 'workflow-bundle.traced.js') },
      workflowModules: [],
    });
  });

  it('adds the tracing interceptors only when it bundles at start with tracing on', () => {
    expect(workflowCodeOptions({ workflowsPath: '/src/workflows/index.ts' }, false).workflowModules).toEqual([]);
    expect(workflowCodeOptions({ workflowsPath: '/src/workflows/index.ts' }, true).workflowModules).toEqual(
      ORDER_WORKFLOW_INTERCEPTOR_MODULES,
    );
  });

  it('refuses to start when the bundle it needs is missing, naming it', () => {
    const alone = join(dir, 'alone.js');
    writeFileSync(alone, '');
    expect(() => workflowCodeOptions({ bundlePath: alone }, true)).toThrow(/alone\.traced\.js does not exist/);
    expect(() => workflowCodeOptions({ bundlePath: join(dir, 'missing.js') }, false)).toThrow(/missing\.js/);
  });
});
