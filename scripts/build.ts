// npm run build [-- <output dir>]: both processes as they run in production, built ahead of
// time: src/server.ts and src/worker.ts each compiled to one JavaScript file (their packages stay
// in node_modules), and the prebuilt workflow bundle next to them. Run with plain node and
// their flags below, they need no TypeScript loader (~35 MB less memory each, no compiling
// when they start). Beside them, build-info.json names the build for Temporal's Worker
// Deployment (src/build-id.ts): `--commit <sha>` when given (the Dockerfile's GIT_COMMIT), else
// the clone's commit, else a hash of the built code.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { BUILD_INFO_FILE, type BuildInfo, buildIdOf, gitCommitAt } from '../src/build-id.js';
import { buildOrderWorkflowBundles } from './build-workflows.js';

const ROOT = fileURLToPath(new URL('../', import.meta.url));
export const DEFAULT_BUILD_DIR = resolve(ROOT, 'dist');

/**
 * Node options of the worker process: source maps for readable stack traces, and a small V8
 * heap (2 MB semi-spaces, 128 MB old generation per isolate), without which the worker grows
 * to ~400 MB under load (bench/README.md). docker-compose.yml's worker command repeats them.
 */
export const WORKER_NODE_FLAGS = ['--enable-source-maps', '--max-semi-space-size=2', '--max-old-space-size=128'];

/**
 * Node options of the API process: source maps, semi-spaces of 1 MB instead of V8's 16, and an
 * old generation of 80 MB, which V8 otherwise lets fill with garbage between major GCs: peak
 * RSS 202 MB without it, 128 MB with it at C = 64 (its live old generation stayed under 48 MB:
 * a run capped there passed at 116 MB; bench/README.md). The Dockerfile's API command repeats them.
 */
export const API_NODE_FLAGS = ['--enable-source-maps', '--max-semi-space-size=1', '--max-old-space-size=80'];

/**
 * Environment of both processes, read by glibc at their start (so it cannot be set from inside):
 * at most two malloc arenas. Without it each thread (the Temporal core's Rust runtime, V8's
 * and libuv's helpers) may get an arena of its own (up to 8 per core) and hold freed memory
 * there; with it the worker peaked at 221 MB instead of 266 with 3,000 open orders, at the same
 * throughput (bench/README.md). The Dockerfile sets it too; a value in the environment wins.
 */
export const SERVICE_PROCESS_ENV = { MALLOC_ARENA_MAX: '2' } as const;

async function compile(entry: string, outfile: string): Promise<void> {
  await build({
    entryPoints: [resolve(ROOT, entry)],
    outfile,
    bundle: true,
    packages: 'external',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
  });
}

/**
 * Builds `<dir>/server.mjs`, `<dir>/worker.mjs`, `<dir>/workflow-bundle.js` and its traced twin
 * `<dir>/workflow-bundle.traced.js`, and `<dir>/build-info.json`; returns their absolute paths
 * (the bundle's: the untraced one).
 */
export async function buildServices(
  dir: string = DEFAULT_BUILD_DIR,
  { commit = gitCommitAt(ROOT) }: { commit?: string | null } = {},
): Promise<{ api: string; worker: string; workflowBundle: string; buildInfo: string }> {
  const api = resolve(dir, 'server.mjs');
  const worker = resolve(dir, 'worker.mjs');
  await Promise.all([compile('src/server.ts', api), compile('src/worker.ts', worker)]);
  const workflowBundle = await buildOrderWorkflowBundles(resolve(dir, 'workflow-bundle.js'));
  const buildInfo = resolve(dir, BUILD_INFO_FILE);
  writeFileSync(buildInfo, `${JSON.stringify(describeBuild(commit, [worker, workflowBundle]))}\n`);
  return { api, worker, workflowBundle, buildInfo };
}

/**
 * The build's identity. Without a commit (an image built without GIT_COMMIT), a hash of the
 * worker and its workflow bundle stands in: two different builds must never share a build id,
 * or Temporal would route one's workflow tasks to the other.
 */
function describeBuild(commit: string | null, builtFiles: string[]): BuildInfo {
  const { version } = JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { version: string };
  const hash = createHash('sha256');
  for (const file of builtFiles) hash.update(readFileSync(file));
  return { version, commit, buildId: buildIdOf(version, commit, `sha256.${hash.digest('hex').slice(0, 12)}`) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { positionals, values } = parseArgs({ allowPositionals: true, options: { commit: { type: 'string' } } });
  // An empty --commit (the Dockerfile without GIT_COMMIT) is no commit: git, then the hash, decide.
  const given = values.commit === undefined || values.commit === '' ? {} : { commit: values.commit };
  buildServices(positionals[0], given).then(
    (built) => console.log(Object.values(built).join('\n')),
    (error: unknown) => {
      console.error('building the services failed:', error);
      process.exit(1);
    },
  );
}
