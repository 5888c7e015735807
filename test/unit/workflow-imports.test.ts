// Workflow code runs in Temporal's deterministic sandbox: it may know the activities' types,
// never their code. (Biome forbids Node and I/O modules there; this covers type-only imports.)
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const dir = new URL('../../src/workflows/', import.meta.url);

describe('workflow imports', () => {
  it.each(readdirSync(dir).filter((file) => file.endsWith('.ts')))('%s imports activities as types only', (file) => {
    const source = readFileSync(new URL(file, dir), 'utf8');
    const imports = source.match(/^import[^;]*?from\s+'[^']*activities[^']*';/gms) ?? [];
    for (const statement of imports) expect(statement).toMatch(/^import type /);
  });
});
