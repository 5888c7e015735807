// A clone under a 0700 folder (root's home, by Debian's default) starts its PostgreSQL: as
// root, the server runs as the postgres user, which cannot enter such a folder, so the stack
// keeps PostgreSQL's files under /var/lib/postgresql instead (scripts/stack.sh pg_resolve_dir).
import { execFile } from 'node:child_process';
import { chmod, chown, cp, mkdir, mkdtemp, readlink, rm } from 'node:fs/promises';
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

const NORMAL_USER = 'oms-normal-user';

/** A normal (non-root) user with a 0700 home, as Debian makes them; its uid and gid. */
async function normalUser(): Promise<{ uid: number; gid: number; home: string }> {
  await run('id', [NORMAL_USER]).catch(() => run('useradd', ['--create-home', '--shell', '/bin/bash', NORMAL_USER]));
  const [uid, gid] = await Promise.all(
    ['-u', '-g'].map(async (flag) => Number((await run('id', [flag, NORMAL_USER])).stdout)),
  );
  const home = `/home/${NORMAL_USER}`;
  await mkdir(home, { recursive: true });
  await chown(home, uid!, gid!);
  await chmod(home, 0o700);
  return { uid: uid!, gid: gid!, home };
}

// CI runs as root; a normal user is made for this test, as someone would clone into their home.
describe.runIf(isRoot)('a clone in the home of a normal user, run as that user', () => {
  it('starts its PostgreSQL as that user, serving TLS verified against the CA the stack made', async () => {
    const { uid, gid, home } = await normalUser();
    const clone = join(home, `oms-${Date.now()}`);
    cleanups.push(() => rm(clone, { recursive: true, force: true }));
    await mkdir(join(clone, 'scripts'), { recursive: true });
    await cp(stackScript, join(clone, 'scripts/stack.sh'));
    for (const path of [clone, join(clone, 'scripts'), join(clone, 'scripts/stack.sh')]) await chown(path, uid, gid);
    const port = String(await freePort());
    const stack = (...args: string[]) =>
      run('runuser', [
        '-u',
        NORMAL_USER,
        '--',
        'env',
        `PGPORT=${port}`,
        'bash',
        join(clone, 'scripts/stack.sh'),
        ...args,
      ]);

    const started = await stack('start', 'postgres');
    cleanups.push(() => stack('stop', 'postgres'));
    expect(started.stderr).toContain('postgres: ready');
    // The data directory is the user's own, inside the clone: no postgres user, no folder elsewhere.
    const { stdout: owner } = await run('stat', ['-c', '%U', join(clone, '.stack/postgres/data')]);
    expect(owner.trim()).toBe(NORMAL_USER);

    const url = `postgres://postgres@127.0.0.1:${port}/orders?sslmode=verify-full&sslrootcert=${clone}/.stack/tls/ca.pem`;
    const { stdout } = await run('psql', [url, '-tAc', 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()']);
    expect(stdout.trim()).toBe('t');
    const stopped = await stack('stop', 'postgres');
    expect(stopped.stderr).toContain('postgres: stopping');
  }, 120_000);
});

// pg_ctl hands its -o options to a shell: a path there would split at the space.
describe('a clone in a folder whose path has a space and a non-ASCII letter', () => {
  it('starts and stops its PostgreSQL, serving TLS with the certificate the stack made', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'my clones ü-'));
    cleanups.push(() => rm(parent, { recursive: true, force: true }));
    await chmod(parent, 0o755);
    const clone = join(parent, 'oms');
    await mkdir(join(clone, 'scripts'), { recursive: true });
    await cp(stackScript, join(clone, 'scripts/stack.sh'));
    const port = String(await freePort());
    const stack = (...args: string[]) =>
      run('bash', [join(clone, 'scripts/stack.sh'), ...args], { env: { ...process.env, PGPORT: port } });

    const started = await stack('start', 'postgres');
    cleanups.push(() => stack('stop', 'postgres'));
    expect(started.stderr).toContain('postgres: ready');
    const url = `postgres://postgres@127.0.0.1:${port}/orders?sslmode=require`;
    const { stdout } = await run('psql', [url, '-tAc', 'SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()']);
    expect(stdout.trim()).toBe('t');
    const stopped = await stack('stop', 'postgres');
    expect(stopped.stderr).toContain('postgres: stopping');
  }, 120_000);
});
