// Workflow code runs in Temporal's deterministic sandbox: it may know the activities' types,
// never their code, and it loads nothing but the workflow modules, the pure domain rules and
// Temporal's workflow packages (no TypeBox, no Ajv: validation there is domain/payload-check.ts).
// Biome forbids Node and I/O modules in src/workflows; this follows every value import from
// the bundle's entry point, however deep.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dir = new URL('../../src/workflows/', import.meta.url);

/** The value imports (not `import type`, not `export type`) of a module. */
function valueImports(file: string): string[] {
  const source = readFileSync(file, 'utf8');
  const statements = source.match(/^(?:import|export)\s[^;]*?from\s+'[^']+';/gms) ?? [];
  return statements
    .filter((statement) => !/^(?:import|export)\s+type\s/.test(statement))
    .map((statement) => /from\s+'([^']+)'/.exec(statement)?.[1] as string);
}

function modulesLoadedBy(entry: string): { files: string[]; packages: string[] } {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const specifier of valueImports(file)) {
      if (specifier.startsWith('.')) visit(join(dirname(file), specifier.replace(/\.js$/, '.ts')));
      else packages.add(specifier);
    }
  };
  visit(entry);
  return { files: [...files].map((file) => relative(root, file)).sort(), packages: [...packages].sort() };
}

describe('workflow imports', () => {
  it.each(readdirSync(dir).filter((file) => file.endsWith('.ts')))('%s imports activities as types only', (file) => {
    const source = readFileSync(new URL(file, dir), 'utf8');
    const imports = source.match(/^import[^;]*?from\s+'[^']*activities[^']*';/gms) ?? [];
    for (const statement of imports) expect(statement).toMatch(/^import type /);
  });

  it('the workflow bundle loads only workflow modules, pure domain modules and Temporal workflow packages', () => {
    const { files, packages } = modulesLoadedBy(join(root, 'src/workflows/index.ts'));
    for (const file of files) expect(file).toMatch(/^src\/(workflows|domain)\//);
    // @opentelemetry/api: the context of the request a transition serves (no I/O; the bundled
    // tracing interceptors use the same one).
    const allowed = ['@temporalio/workflow', '@temporalio/common', '@opentelemetry/api'];
    expect(packages.filter((name) => !allowed.includes(name))).toEqual([]);
    expect(files).toContain('src/domain/lifecycle.ts');
  });
});
