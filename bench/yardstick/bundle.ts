// The yardstick's workflow bundle: bench/yardstick/workflow.ts alone, bundled by the SDK with no
// interceptor module (none of the order worker's: they would move the yardstick with our code).
// `node --import tsx bench/yardstick/bundle.ts <output>` writes one by hand.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { bundleWorkflowCode, DefaultLogger } from '@temporalio/worker';

export const YARDSTICK_WORKFLOWS_PATH = fileURLToPath(new URL('./workflow.ts', import.meta.url));

/** Bundles the yardstick's workflow into `outputPath`; returns the absolute path written. */
export async function buildYardstickBundle(outputPath: string): Promise<string> {
  const { code } = await bundleWorkflowCode({
    workflowsPath: YARDSTICK_WORKFLOWS_PATH,
    workflowInterceptorModules: [],
    logger: new DefaultLogger('WARN'),
  });
  const path = resolve(outputPath);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, code);
  return path;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const output = process.argv[2];
  if (output === undefined) {
    console.error('usage: node --import tsx bench/yardstick/bundle.ts <output.js>');
    process.exit(2);
  }
  buildYardstickBundle(output).then(
    (path) => console.log(path),
    (error: unknown) => {
      console.error('bundling the yardstick failed:', error);
      process.exit(1);
    },
  );
}
