// Which build of the code this worker is, for Temporal's Worker Deployment (Worker Versioning):
// TEMPORAL_BUILD_ID when set, else `<package.json version>+<git commit>`. The compiled worker
// finds it in build-info.json, written beside it by `npm run build` (scripts/build.ts), so an
// image without a .git directory knows its build too; run from the sources, it asks git.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Config } from './config.js';

/** What scripts/build.ts writes beside the compiled processes. */
export interface BuildInfo {
  version: string;
  /** Short git commit; null when the build did not know it (an image built without GIT_COMMIT). */
  commit: string | null;
  buildId: string;
}

export const BUILD_INFO_FILE = 'build-info.json';

/** The build id a build of `version` at `commit` reports; `fallback` stands in for an unknown commit. */
export function buildIdOf(version: string, commit: string | null, fallback: string): string {
  return `${version}+${commit ?? fallback}`;
}

/** The short commit of the clone at `root`, or null without a .git directory or a git binary. */
export function gitCommitAt(root: string): string | null {
  if (!existsSync(`${root}/.git`)) return null;
  try {
    const commit = execFileSync('git', ['rev-parse', '--short=7', 'HEAD'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    return commit === '' ? null : commit;
  } catch {
    return null;
  }
}

/**
 * The worker's build id. `known` is false when it had to be made up (`<version>+unknown`: run
 * from sources without git): fine unversioned, refused with Worker Versioning on, where two
 * different builds under one id would receive each other's workflow tasks.
 */
export function workerBuildId(config: Pick<Config, 'TEMPORAL_BUILD_ID'>): { buildId: string; known: boolean } {
  if (config.TEMPORAL_BUILD_ID !== '') return { buildId: config.TEMPORAL_BUILD_ID, known: true };
  // Beside the compiled worker (dist/worker.mjs) when built; absent beside src/build-id.ts.
  const written = new URL(`./${BUILD_INFO_FILE}`, import.meta.url);
  if (existsSync(written)) {
    return { buildId: (JSON.parse(readFileSync(written, 'utf8')) as BuildInfo).buildId, known: true };
  }
  const root = fileURLToPath(new URL('../', import.meta.url));
  const { version } = JSON.parse(readFileSync(`${root}/package.json`, 'utf8')) as { version: string };
  const commit = gitCommitAt(root);
  return { buildId: buildIdOf(version, commit, 'unknown'), known: commit !== null };
}
