// A node --import tsx child process with its output kept and its RSS sampled, for the
// bare-Temporal worker (or a worker entry compiled to JavaScript, --worker-entry) (test/support/processes.ts does the same for the API and the worker).
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

function rssMbOf(pid: number | undefined): number {
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
) {
  const child = spawn(process.execPath, [...nodeArgs, entry], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  let onLine: (() => void) | undefined;
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      output.push(...lines);
      onLine?.();
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
    /** Resolves when a line containing `text` was printed; rejects if the process exits first. */
    waitForLine(text: string, timeoutMs = 60_000): Promise<void> {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`${name}: no "${text}" after ${timeoutMs} ms:\n${output.slice(-30).join('\n')}`)),
          timeoutMs,
        );
        const check = () => {
          if (output.some((line) => line.includes(text))) {
            clearTimeout(timer);
            onLine = undefined;
            resolve();
          }
        };
        onLine = check;
        check();
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`${name} exited (${code}):\n${output.slice(-30).join('\n')}`));
        });
      });
    },
    async stop(): Promise<number | string> {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
