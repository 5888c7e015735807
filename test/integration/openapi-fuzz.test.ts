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
    // The summary on success; everything (the failures, how to reproduce them) otherwise.
    const summaryAt = output.lastIndexOf('SUMMARY');
    const shown = code === 0 && summaryAt >= 0 ? output.slice(output.lastIndexOf('\n', summaryAt) + 1) : output;
    console.log(`${shown}\n[fuzz] exit ${code} after ${Math.round((Date.now() - started) / 1000)} s`);
    expect(code, 'scripts/fuzz-api.sh found failures (printed above) or ran out of time (124)').toBe(0);
  });
});
