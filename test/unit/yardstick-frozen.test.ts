// The benchmark's yardstick (bench/yardstick/) must not move when our code does (issue 19): its
// workflow, its bundle and its worker process load nothing of ours outside bench/yardstick/, only
// Temporal's packages and Node's built-ins. This follows every import (`import type` too,
// `export … from`, `import()`, `require()`) from its three entry points, however deep. And its
// files themselves are frozen: an edit, even a comment, fails here (see the last test).
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const YARDSTICK = join(ROOT, 'bench/yardstick');
const ENTRIES = ['worker.ts', 'workflow.ts', 'bundle.ts'];

/** Every module specifier a TypeScript file names: import and export declarations, import(), require(). */
function specifiersOf(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node) => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) &&
      node.moduleSpecifier !== undefined &&
      ts.isStringLiteral(node.moduleSpecifier)
    ) {
      found.push(node.moduleSpecifier.text);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      const expression = node.moduleReference.expression;
      if (ts.isStringLiteral(expression)) found.push(expression.text);
    } else if (ts.isCallExpression(node)) {
      const [argument] = node.arguments;
      const dynamic = node.expression.kind === ts.SyntaxKind.ImportKeyword;
      const required = ts.isIdentifier(node.expression) && node.expression.text === 'require';
      if ((dynamic || required) && argument !== undefined) {
        // A computed specifier cannot be followed: report it as such, so the test fails on it.
        found.push(ts.isStringLiteralLike(argument) ? argument.text : `<computed: ${argument.getText(source)}>`);
      }
    } else if (ts.isImportTypeNode(node)) {
      const literal = node.argument;
      if (ts.isLiteralTypeNode(literal) && ts.isStringLiteral(literal.literal)) found.push(literal.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The file a relative specifier names: TypeScript's `./x.js` is `./x.ts` on disk. */
function resolveRelative(from: string, specifier: string): string {
  const base = resolve(dirname(from), specifier);
  const candidates = [base, base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), `${base}.ts`];
  return candidates.find((candidate) => existsSync(candidate) && candidate.match(/\.[cm]?[jt]s$/)) ?? base;
}

const builtins = new Set(builtinModules);
const allowedPackage = (specifier: string) =>
  specifier.startsWith('node:') || builtins.has(specifier) || /^@temporalio\/[^/]+(\/.*)?$/.test(specifier);

/** Every file reached from `entries` through relative imports, and every problem on the way. */
function walk(entries: string[]) {
  const files = new Set<string>();
  const packages = new Set<string>();
  const problems: string[] = [];
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    for (const specifier of specifiersOf(file)) {
      const where = `${relative(ROOT, file)} imports '${specifier}'`;
      if (specifier.startsWith('.') || specifier.startsWith('/')) {
        const target = resolveRelative(file, specifier);
        const inside = relative(YARDSTICK, target);
        if (inside.startsWith('..') || resolve(YARDSTICK, inside) !== target) {
          problems.push(`${where}: ${relative(ROOT, target)} is outside bench/yardstick/`);
        } else if (!existsSync(target)) {
          problems.push(`${where}: no such file`);
        } else {
          visit(target);
        }
      } else if (allowedPackage(specifier)) {
        packages.add(specifier);
      } else {
        problems.push(`${where}: only @temporalio/* packages and node: built-ins are allowed`);
      }
    }
  };
  for (const entry of entries) visit(entry);
  return { files: [...files].map((file) => relative(ROOT, file)).sort(), packages: [...packages].sort(), problems };
}

describe('the yardstick (bench/yardstick/) is self-contained', () => {
  it('its worker, workflow and bundle import only each other, @temporalio/* and node: built-ins', () => {
    const { files, packages, problems } = walk(ENTRIES.map((entry) => join(YARDSTICK, entry)));
    expect(problems).toEqual([]);
    expect(files).toEqual(
      expect.arrayContaining([
        'bench/yardstick/bundle.ts',
        'bench/yardstick/definitions.ts',
        'bench/yardstick/worker-options.ts',
        'bench/yardstick/worker.ts',
        'bench/yardstick/workflow.ts',
      ]),
    );
    expect(packages).toEqual(expect.arrayContaining(['@temporalio/worker', '@temporalio/workflow']));
  });

  it('the walk catches what it must refuse', () => {
    // The same walk over the bare baseline's worker, which follows our code on purpose.
    const { problems } = walk([join(ROOT, 'bench/bare-worker.ts')]);
    expect(problems.join('\n')).toMatch(/outside bench\/yardstick/);
    const parsed = specifiersOf(join(ROOT, 'bench/run.ts'));
    expect(parsed).toContain('pg');
    expect(parsed).toContain('../scripts/build.js');
  });

  // The yardstick's figures compare across months only if it never changes: its workflow, its
  // contract, its worker's options and flags, its bundling. Editing one of these files makes every
  // `ratioToYardstick` recorded in bench/README.md incomparable with the runs after it. If that
  // is really meant, update the digest here and say so in bench/README.md (a new yardstick from
  // that date on, the earlier ratios not comparable).
  it('its files are frozen', () => {
    const digest = (name: string) =>
      createHash('sha256')
        .update(readFileSync(join(YARDSTICK, name), 'utf8').replaceAll('\r\n', '\n'))
        .digest('hex')
        .slice(0, 16);
    expect(
      Object.fromEntries(
        ['bundle.ts', 'definitions.ts', 'worker-options.ts', 'worker.ts', 'workflow.ts'].map((name) => [
          name,
          digest(name),
        ]),
      ),
    ).toEqual(FROZEN_DIGESTS);
  });
});

/** SHA-256 (first 16 hex digits) of each file of bench/yardstick/ as frozen on 2026-12-04. */
const FROZEN_DIGESTS = {
  'bundle.ts': '51d059ead2f6c3e9',
  'definitions.ts': '36998593f65ad422',
  'worker-options.ts': '1aa3bb79cdd804d3',
  'worker.ts': '0d29292e41b7ac4b',
  'workflow.ts': '09c238c508a2fb02',
};
