// The package as it would be published: `npm run build` compiles it to dist/, Node resolves
// `@acme/order-events` to that build through the workspace link and its exports, the build
// exports what the source does, and the tarball holds the build and nothing of the repository.
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import * as source from '../src/index.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

describe('@acme/order-events, built', () => {
  it('builds, and the build exports what the source does', async () => {
    await run('npm', ['run', 'build', '--workspace', '@acme/order-events'], { cwd: ROOT });
    // A plain Node process, outside Vitest: the name resolves through node_modules to dist/.
    const { stdout } = await run(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        "const kit = await import('@acme/order-events'); console.log(JSON.stringify({ resolved: import.meta.resolve('@acme/order-events'), names: Object.keys(kit).sort(), types: kit.ORDER_EVENT_TYPES.length }));",
      ],
      { cwd: ROOT },
    );
    const built = JSON.parse(stdout) as { resolved: string; names: string[]; types: number };
    expect(built.resolved).toMatch(/\/packages\/order-events\/dist\/index\.js$/);
    expect(built.names).toEqual(Object.keys(source).sort());
    expect(built.types).toBe(12);
  }, 120_000);

  it("compiles the README's example against the build, as a consumer's code would", async () => {
    const readme = readFileSync(new URL('README.md', `file://${ROOT}`), 'utf8');
    const section = readme.slice(readme.indexOf('### The consumer kit: `@acme/order-events`'));
    const example = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(example).toContain("from '@acme/order-events'");
    // Under node_modules (ignored by git), so that the name resolves as in a consumer's project.
    const dir = `${ROOT}node_modules/.cache/order-events-readme-example`;
    mkdirSync(dir, { recursive: true });
    writeFileSync(`${dir}/package.json`, '{ "type": "module" }\n');
    writeFileSync(`${dir}/example.ts`, example!);
    await run('npm', ['run', 'build', '--workspace', '@acme/order-events'], { cwd: ROOT });
    const compiled = await run(
      process.execPath,
      [
        `${ROOT}node_modules/typescript/bin/tsc`,
        '--noEmit',
        '--strict',
        '--skipLibCheck',
        '--target',
        'es2022',
        '--module',
        'nodenext',
        '--types',
        'node',
        `${dir}/example.ts`,
      ],
      { cwd: dir },
    ).catch((error: { stdout: string }) => ({ stdout: error.stdout }));
    expect(compiled.stdout).toBe('');
  }, 120_000);

  it('packs dist/ and package.json only', async () => {
    const { stdout } = await run(
      'npm',
      ['pack', '--dry-run', '--json', '--ignore-scripts', '--workspace', '@acme/order-events'],
      {
        cwd: ROOT,
      },
    );
    const [pack] = JSON.parse(stdout) as [{ name: string; files: { path: string }[] }];
    expect(pack.name).toBe('@acme/order-events');
    const paths = pack.files.map((file) => file.path);
    expect(paths).toContain('dist/index.js');
    expect(paths).toContain('dist/index.d.ts');
    expect(paths).toContain('dist/generated/order-events.js');
    expect(paths.filter((path) => !path.startsWith('dist/') && path !== 'package.json')).toEqual([]);
  }, 60_000);
});
