// Schemathesis fuzzes the running API against its own OpenAPI document (scripts/fuzz-api.sh, about
// 90 s): no 5xx, and every answer is one the document allows (status, content type, headers, body),
// a method a path does not list is 405, and no operation works without its token.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, inject, it } from 'vitest';
import { TOKENS } from '../support/stack.js';

const fuzzScript = fileURLToPath(new URL('../../scripts/fuzz-api.sh', import.meta.url));

/** Runs the command to its end: its exit code and everything it printed, stdout and stderr in order. */
function run(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('the OpenAPI document under Schemathesis', () => {
  it('holds for every request it generates', { timeout: 240_000 }, async () => {
    const started = Date.now();
    const { code, output } = await run('bash', [fuzzScript, inject('apiUrl'), TOKENS.all]);
    // On success one line of ours: Schemathesis's own summary ends in a pytest-style banner
    // ("=== 1 warning in 90s ===") that log readers take for a test run of its own. On failure,
    // everything it printed (the failures, how to reproduce them).
    const cases = /^\s*(\d+ generated.*)$/m.exec(output)?.[1];
    const seed = /^Seed: (\d+)/m.exec(output)?.[1];
    const shown =
      code === 0 ? `[fuzz] Schemathesis test cases: ${cases ?? 'none reported'}; seed ${seed ?? '?'}` : output;
    console.log(`${shown}\n[fuzz] exit ${code} after ${Math.round((Date.now() - started) / 1000)} s`);
    expect(code, 'scripts/fuzz-api.sh found failures (printed above) or ran out of time (124)').toBe(0);
    expect(cases, 'Schemathesis reported the cases it ran').toMatch(/^[1-9]\d* generated, [1-9]\d* passed/);
  });
});
