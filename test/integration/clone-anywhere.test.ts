// A clone under a 0700 folder (root's home, by Debian's default) starts its PostgreSQL: as
// root, the server runs as the postgres user, which cannot enter such a folder, so the stack
// keeps PostgreSQL's files under /var/lib/postgresql instead (scripts/stack.sh pg_resolve_dir).
import { execFile } from 'node:child_process';
import { chmod, cp, mkdir, mkdtemp, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../support/processes.js';

const run = promisify(execFile);
const stackScript = fileURLToPath(new URL('../../scripts/stack.sh', import.meta.url));
const isRoot = process.getuid?.() === 0;

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
});

describe.runIf(isRoot)('a clone under a 0700 folder', () => {
  it('starts and stops its PostgreSQL, with the data outside the folder the postgres user cannot enter', async () => {
    const home = await mkdtemp(join(tmpdir(), 'home-'));
    cleanups.push(() => rm(home, { recursive: true, force: true }));
    await chmod(home, 0o700);
    const clone = join(home, 'oms');
    await mkdir(join(clone, 'scripts'), { recursive: true });
    await cp(stackScript, join(clone, 'scripts/stack.sh'));
    const env = { ...process.env, PGPORT: String(await freePort()) };
    const stack = (...args: string[]) => run('bash', [join(clone, 'scripts/stack.sh'), ...args], { env });

    const started = await stack('start', 'postgres');
    cleanups.push(() => stack('stop', 'postgres'));
    expect(started.stderr).toContain('postgres: ready');
    const outside = await readlink(join(clone, '.stack/postgres'));
    expect(outside).toMatch(/^\/var\/lib\/postgresql\/oms-stacks\/[0-9a-f]{16}$/);
    cleanups.push(() => rm(outside, { recursive: true, force: true }));

    const { stdout } = await run('psql', [
      '-h',
      '127.0.0.1',
      '-p',
      env.PGPORT,
      '-U',
      'postgres',
      '-d',
      'orders',
      '-tAc',
      'SELECT 1',
    ]);
    expect(stdout.trim()).toBe('1');
    const stopped = await stack('stop', 'postgres');
    expect(stopped.stderr).toContain('postgres: stopping');
  }, 120_000);
});
