// npm run build:worker [-- <output dir>]: the worker as it runs in production, built ahead of
// time: worker.ts compiled to one JavaScript file (its packages stay in node_modules) and the
// prebuilt workflow bundle next to it. Run with plain node and WORKER_NODE_FLAGS, the worker
// needs no TypeScript loader (~35 MB less memory, no compiling when it starts).
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { buildWorkflowBundle } from './build-workflows.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const DEFAULT_WORKER_DIR = resolve(ROOT, 'dist');

/**
 * Node options of the worker process: source maps for readable stack traces, and a small V8
 * heap (2 MB semi-spaces, 128 MB old generation per isolate), without which the worker grows
 * to ~400 MB under load (bench/README.md). docker-compose.yml's worker command repeats them.
 */
export const WORKER_NODE_FLAGS = ['--enable-source-maps', '--max-semi-space-size=2', '--max-old-space-size=128'];

/** Builds `<dir>/worker.mjs` and `<dir>/workflow-bundle.js`; returns their absolute paths. */
export async function buildWorker(
  dir: string = DEFAULT_WORKER_DIR,
): Promise<{ entry: string; workflowBundle: string }> {
  const entry = resolve(dir, 'worker.mjs');
  await build({
    entryPoints: [resolve(ROOT, 'worker.ts')],
    outfile: entry,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
  });
  const workflowBundle = await buildWorkflowBundle(resolve(dir, 'workflow-bundle.js'));
  return { entry, workflowBundle };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  buildWorker(process.argv[2]).then(
    ({ entry, workflowBundle }) => console.log(`${entry}\n${workflowBundle}`),
    (error: unknown) => {
      console.error('building the worker failed:', error);
      process.exit(1);
    },
  );
}
