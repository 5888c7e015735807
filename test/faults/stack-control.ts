// The fault suite's hands on the local stack (scripts/stack.sh) and a polling wait.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Runs `scripts/stack.sh <args>`; resolves to its output, rejects with it when the script fails. */
export function stackCommand(...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('bash', ['scripts/stack.sh', ...args], { cwd: ROOT, timeout: 240_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`scripts/stack.sh ${args.join(' ')} failed: ${error.message}\n${stderr}${stdout}`));
      else resolve(`${stderr}${stdout}`);
    });
  });
}

/** The state scripts/stack.sh reports for a service: running, stopped or unhealthy. */
export async function serviceState(service: 'postgres' | 'temporal' | 'kafka'): Promise<string> {
  const status = await stackCommand('status');
  const line = status.split('\n').find((candidate) => candidate.startsWith(`${service} `));
  return line?.split(/\s+/)[1] ?? 'unknown';
}

/** Polls `check` every 100 ms until it holds; throws naming `what` after `timeoutMs`. */
export async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
