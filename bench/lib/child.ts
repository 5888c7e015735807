// A node child process with its output kept and its RSS sampled, for the bench's processes: the
// bare and yardstick workers (through tsx), the order worker and the API compiled to JavaScript,
// those of another commit (--compare) (test/support/processes.ts does the same for the API and
// the worker run through tsx).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Resident memory of a process now, in MB (0 once it is gone). */
export function rssMbOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

export async function spawnChild(
  name: string,
  entry: string,
  env: Record<string, string>,
  nodeArgs: string[] = ['--import', 'tsx'],
  /** Where it runs: the checkout (default), or another commit's worktree (`--compare`). */
  cwd: string = ROOT,
) {
  const child = spawn(process.execPath, [...nodeArgs, entry], {
    cwd,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      output.push(...lines);
    });
  }
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssMbOf(child.pid));
  }, 250);
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => {
      clearInterval(sampler);
      resolve(code ?? signal ?? 'unknown');
    }),
  );
  return {
    child,
    pid: child.pid,
    output,
    peakRssMb: () => Math.max(peak, rssMbOf(child.pid)),
    /** Resolves once `check` holds (polled every 100 ms); rejects if the process exits or time runs out first. */
    async waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      const tail = () => output.slice(-30).join('\n');
      while (!(await check())) {
        if (child.exitCode !== null || child.signalCode !== null) {
          throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before ${what}:\n${tail()}`);
        }
        if (Date.now() > deadline) throw new Error(`${name}: no ${what} after ${timeoutMs} ms:\n${tail()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    async stop(): Promise<number | string> {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
