// npm run build:workflows [-- <output>]: bundles the workflows once, ahead of time, so the
// worker loads the bundle (WORKFLOW_BUNDLE_PATH) instead of running webpack when it starts:
// it starts seconds sooner and keeps ~100 MB less memory.
//
// Two bundles of the same workflows: `<output>` without OpenTelemetry, which the worker runs
// when tracing is off, and its traced twin `<output minus .js>.traced.js`, with Temporal's
// tracing interceptors, which it runs when an OTLP endpoint is configured. Bundled always, the
// interceptors cost an untraced worker twice the CPU per lifecycle (issue 19). They add no
// command, so a history replays the same on either (test/workflow/replay.test.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bundleWorkflowCode, DefaultLogger, type WorkflowBundle } from '@temporalio/worker';
import { ORDER_WORKFLOW_INTERCEPTOR_MODULES, tracedBundlePath, WORKFLOWS_PATH } from '../src/worker.js';

export const DEFAULT_BUNDLE_PATH = fileURLToPath(new URL('../dist/workflow-bundle.js', import.meta.url));

/** The order workflows bundled in memory, with the tracing interceptors or without. */
export function bundleOrderWorkflows({ traced }: { traced: boolean }): Promise<WorkflowBundle> {
  return bundleWorkflows(WORKFLOWS_PATH, traced ? ORDER_WORKFLOW_INTERCEPTOR_MODULES : []);
}

function bundleWorkflows(workflowsPath: string, interceptorModules: string[]): Promise<WorkflowBundle> {
  return bundleWorkflowCode({
    workflowsPath,
    workflowInterceptorModules: interceptorModules,
    logger: new DefaultLogger('WARN'),
  });
}

function write(outputPath: string, { code }: WorkflowBundle): string {
  const path = resolve(outputPath);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, code);
  return path;
}

/** Bundles the workflows at `workflowsPath` into `outputPath`, with no interceptors; returns the absolute path written. */
export async function buildWorkflowBundle(
  outputPath: string = DEFAULT_BUNDLE_PATH,
  workflowsPath: string = WORKFLOWS_PATH,
): Promise<string> {
  return write(outputPath, await bundleWorkflows(workflowsPath, []));
}

/** Writes the order worker's two bundles, `outputPath` and its traced twin; returns the first's absolute path. */
export async function buildOrderWorkflowBundles(outputPath: string = DEFAULT_BUNDLE_PATH): Promise<string> {
  const [plain, traced] = await Promise.all([
    bundleOrderWorkflows({ traced: false }),
    bundleOrderWorkflows({ traced: true }),
  ]);
  const path = write(outputPath, plain);
  write(tracedBundlePath(path), traced);
  return path;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  buildOrderWorkflowBundles(process.argv[2]).then(
    (path) => console.log(path),
    (error: unknown) => {
      console.error('bundling the workflows failed:', error);
      process.exit(1);
    },
  );
}
