// The README is what a newcomer reads: keep its promises about commands and configuration true.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES } from '../../src/config.js';
import { COMMAND_NAMES, eventsOfCommand, LIFECYCLE, targetsOf } from '../../src/domain/lifecycle.js';

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
    for (const name of COMMAND_NAMES) {
      const row = LIFECYCLE[name];
      const route =
        row.http === null ? 'none (the archive sweep)' : `\`${row.http.method} /orders/{orderId}${row.http.path}\``;
      const commandType = row.commandType === null ? 'none' : `\`${row.commandType}\``;
      const to = row.targets === 'unchanged' ? 'unchanged' : targetsOf(name).join(' or ');
      const line = `| ${row.from.join(', ')} | \`${name}\` | ${route} | ${commandType} | ${to} | ${eventsOfCommand(name).join(', ')} |`;
      expect(readme, name).toContain(line);
    }
  });

  it('draws every status change of the table in the state diagram', () => {
    const diagram = /```mermaid\nstateDiagram-v2\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    for (const name of COMMAND_NAMES) {
      if (LIFECYCLE[name].targets === 'unchanged') continue;
      for (const from of LIFECYCLE[name].from) {
        for (const to of targetsOf(name))
          expect(diagram, `${name}: ${from} → ${to}`).toContain(`${from} --> ${to}: ${name}`);
      }
    }
  });
});
