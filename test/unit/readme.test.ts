// The README is what a newcomer reads: keep its promises about commands and configuration true.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES } from '../../src/config.js';
import { LIFECYCLE } from '../../src/domain/lifecycle.js';

const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
const scripts = (
  JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
    scripts: Record<string, string>;
  }
).scripts;

describe('README', () => {
  it('gives the two quick-start commands, and they exist', () => {
    expect(readme).toContain('npm start');
    expect(readme).toContain('npm test');
    expect(scripts.start).toBeDefined();
    expect(scripts.test).toBeDefined();
  });

  it('documents every configuration variable', () => {
    for (const name of CONFIG_VARIABLES) expect(readme, name).toContain(`\`${name}\``);
  });

  it('names only npm scripts that exist', () => {
    for (const [, name] of readme.matchAll(/npm run ([\w:-]+)/g)) expect(scripts, name).toHaveProperty(name!);
  });

  it('shows the transition table as the code has it, one row per command', () => {
    for (const row of Object.values(LIFECYCLE)) {
      const line = `| ${row.from.join(', ')} | \`${row.name}\` | ${row.to} | ${row.events.join(', ')} |`;
      expect(readme, row.name).toContain(line);
    }
  });
});
