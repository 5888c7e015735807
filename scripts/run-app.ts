// Runs the API and the worker side by side for `npm start`, their JSON logs made readable.
// Ctrl-C (or SIGTERM) is passed to both; each shuts down gracefully.
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { prettyFactory } from 'pino-pretty';

const pretty = prettyFactory({ colorize: process.stdout.isTTY, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' });

// The worker's V8 heap is kept small (young generation 1 MB per semi-space, old generation
// 128 MB per isolate): without this it grows to ~400 MB under load (bench/README.md). Keep in
// step with package.json's "worker" script and docker-compose.yml's worker command.
const WORKER_NODE_FLAGS = ['--max-semi-space-size=1', '--max-old-space-size=128'];

function run(name: string, entry: string, nodeFlags: string[] = []): ChildProcess {
  const child = spawn(process.execPath, [...nodeFlags, '--import', 'tsx', entry], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      // JSON lines are pino's; anything else (a crash trace) is printed as it is.
      process.stdout.write(line.startsWith('{') ? pretty(line) : `${name} | ${line}\n`);
    });
  }
  return child;
}

const children = [run('worker', 'worker.ts', WORKER_NODE_FLAGS), run('api', 'src/server.ts')];
let stopping = false;
let failed = false;

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    stopping = true;
    for (const child of children) child.kill('SIGTERM');
  });
}

await Promise.all(
  children.map(
    (child) =>
      new Promise<void>((resolve) =>
        child.on('exit', (code) => {
          if (code !== 0) failed = true;
          // One process dying alone stops the other: half an order service is no service.
          if (!stopping) {
            stopping = true;
            for (const other of children) if (other !== child) other.kill('SIGTERM');
          }
          resolve();
        }),
      ),
  ),
);
process.exit(failed ? 1 : 0);
