// `npm run bench -- --compare <ref>`: the parts that make another commit runnable beside the
// working tree: a temporary git worktree of the ref, its dependencies, its services built the
// way the ref builds them, and its own migrations on a database of its own. bench/run.ts then
// runs both sides in turns (bench/README.md, "Comparing with another commit").
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, unlinkSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import pg from 'pg';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** How to start one process of a side: node with `nodeArgs`, then `entry`, in `cwd`. */
export interface ProcessCommand {
  entry: string;
  nodeArgs: string[];
}

/** One side's services, built: what to run and the workflow bundle its worker loads (none: it bundles at start). */
export interface BuiltSide {
  api: ProcessCommand;
  worker: ProcessCommand;
  workflowBundle: string | undefined;
  /** Environment of its API and worker processes (its scripts/build.ts's SERVICE_PROCESS_ENV; none before it). */
  processEnv: Record<string, string>;
  /** How it was built, for the results: `scripts/build.ts` or `tsx` (no build script at that commit). */
  builtWith: string;
}

const git = (...args: string[]) =>
  execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** The commit `ref` names (a branch, a tag, HEAD~3, a hash). */
export function resolveCommit(ref: string): string {
  try {
    return git('rev-parse', '--verify', '--end-of-options', `${ref}^{commit}`);
  } catch {
    throw new Error(`--compare: "${ref}" names no commit of this repository`);
  }
}

/** Subject line of a commit, for the results. */
export const commitSubject = (commit: string) => git('log', '-1', '--format=%s', commit);

/** A detached worktree of `commit` in a fresh temporary directory; `remove()` takes it away again (idempotent). */
export function addWorktree(commit: string): { dir: string; remove: () => void } {
  const parent = mkdtempSync(join(os.tmpdir(), 'order-bench-compare-'));
  const dir = join(parent, 'tree');
  git('worktree', 'add', '--detach', dir, commit);
  let removed = false;
  return {
    dir,
    remove: () => {
      if (removed) return;
      removed = true;
      // A node_modules linked to the main checkout's goes first, so nothing ever follows it.
      const modules = join(dir, 'node_modules');
      try {
        if (lstatSync(modules).isSymbolicLink()) unlinkSync(modules);
      } catch {
        // not there
      }
      try {
        git('worktree', 'remove', '--force', dir);
      } catch {
        // Already gone, or git refused: the directory goes anyway, and git forgets it.
      }
      rmSync(parent, { recursive: true, force: true });
      try {
        git('worktree', 'prune');
      } catch {
        // nothing to prune
      }
    },
  };
}

/** Runs node (or another command) in `cwd`; resolves to its stdout, rejects with the tail of its output on failure. */
function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let all = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString('utf8');
      all += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      all += chunk.toString('utf8');
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolvePromise(stdout);
      else {
        const tail = all.trim().split('\n').slice(-30).join('\n');
        reject(new Error(`${command} ${args.join(' ')} (in ${cwd}) exited ${code ?? signal}:\n${tail}`));
      }
    });
  });
}

/**
 * node_modules for the worktree at `dir` of `commit`: the main checkout's, linked, when the
 * commit's package-lock.json is ours byte for byte; else its own, `npm ci --prefer-offline`.
 */
export async function installDependencies(dir: string, commit: string, log: (line: string) => void) {
  let theirs: string | undefined;
  try {
    theirs = execFileSync('git', ['show', `${commit}:package-lock.json`], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 256 * 1024 * 1024,
    });
  } catch {
    theirs = undefined;
  }
  const ours = readFileSync(join(ROOT, 'package-lock.json'), 'utf8');
  if (theirs === ours && existsSync(join(ROOT, 'node_modules'))) {
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    return 'linked (same package-lock.json)';
  }
  log(`compare: ${commit.slice(0, 10)} locks other packages: npm ci --prefer-offline in its worktree`);
  await run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], dir);
  return 'npm ci (package-lock.json differs)';
}

/** Imports the side's scripts/build.ts, calls its buildServices(dir) and prints what it built and its flags. */
const BUILD_SCRIPT = `
const build = await import(process.env.BENCH_BUILD_MODULE);
const built = await build.buildServices(process.env.BENCH_BUILD_DIR);
console.log('BENCH_BUILT ' + JSON.stringify({
  built,
  workerFlags: build.WORKER_NODE_FLAGS ?? null,
  apiFlags: build.API_NODE_FLAGS ?? null,
  processEnv: build.SERVICE_PROCESS_ENV ?? {},
}));
`;

/**
 * Builds the side checked out at `dir` (the worktree of the ref, or the main checkout for the
 * working tree) the way that commit builds itself: its scripts/build.ts when it has one (its
 * compiled API and worker, its workflow bundle, with its own V8 flags, as its `npm start` runs
 * them), into `outDir`; else both through tsx, with the bundle of its scripts/build-workflows.ts
 * if it has that.
 */
export async function buildSide(dir: string, outDir: string): Promise<BuiltSide> {
  const tsx = ['--import', 'tsx'];
  if (existsSync(join(dir, 'scripts/build.ts'))) {
    const stdout = await run(process.execPath, [...tsx, '--input-type=module', '-e', BUILD_SCRIPT], dir, {
      BENCH_BUILD_MODULE: pathToFileURL(join(dir, 'scripts/build.ts')).href,
      BENCH_BUILD_DIR: outDir,
    });
    const line = stdout.split('\n').find((text) => text.startsWith('BENCH_BUILT '));
    if (line === undefined) throw new Error(`scripts/build.ts of ${dir} printed no result:\n${stdout.slice(-2000)}`);
    const { built, workerFlags, apiFlags, processEnv } = JSON.parse(line.slice('BENCH_BUILT '.length)) as {
      built: { api?: string; worker?: string; workflowBundle?: string };
      workerFlags: string[] | null;
      apiFlags: string[] | null;
      processEnv: Record<string, string>;
    };
    if (typeof built.api !== 'string' || typeof built.worker !== 'string') {
      throw new Error(`buildServices of ${dir} returned no api and worker: ${line}`);
    }
    return {
      api: { entry: built.api, nodeArgs: apiFlags ?? [] },
      worker: { entry: built.worker, nodeArgs: workerFlags ?? [] },
      workflowBundle: built.workflowBundle,
      processEnv,
      builtWith: 'scripts/build.ts',
    };
  }
  let workflowBundle: string | undefined;
  if (existsSync(join(dir, 'scripts/build-workflows.ts'))) {
    const stdout = await run(
      process.execPath,
      [...tsx, 'scripts/build-workflows.ts', join(outDir, 'workflow-bundle.js')],
      dir,
    );
    workflowBundle = resolve(dir, stdout.trim().split('\n').at(-1) ?? '');
  }
  return {
    api: { entry: join(dir, 'src/server.ts'), nodeArgs: tsx },
    // The worker's entry moved from the root to src/ on 2026-12-04; older refs have it at the root.
    worker: { entry: join(dir, existsSync(join(dir, 'src/worker.ts')) ? 'src/worker.ts' : 'worker.ts'), nodeArgs: tsx },
    workflowBundle,
    processEnv: {},
    builtWith: workflowBundle === undefined ? 'tsx, bundled at start' : 'tsx, scripts/build-workflows.ts',
  };
}

/** A fresh database at `url` (dropped first if it was there), migrated by the side's own migrations (its src/db/migrate.ts). */
export async function freshDatabase(url: string, dir: string): Promise<void> {
  await dropDatabase(url);
  const name = databaseName(url);
  const admin = adminClient(url);
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name.replaceAll('"', '""')}"`);
  } finally {
    await admin.end();
  }
  await run(process.execPath, ['--import', 'tsx', 'src/db/migrate.ts'], dir, { DATABASE_URL: url });
}

/** Drops the database at `url`, connections and all (nothing when it is not there). */
export async function dropDatabase(url: string): Promise<void> {
  const admin = adminClient(url);
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS "${databaseName(url).replaceAll('"', '""')}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}

const databaseName = (url: string) => decodeURIComponent(new URL(url).pathname.slice(1));

function adminClient(url: string) {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  return new pg.Client({ connectionString: admin.toString() });
}

/** `url` with another database name. */
export function withDatabase(url: string, name: string): string {
  const next = new URL(url);
  next.pathname = `/${encodeURIComponent(name)}`;
  return next.toString();
}
