// Runs the API and the worker side by side for `npm start`, their JSON logs made readable.
// Ctrl-C (or SIGTERM) is passed to both; each shuts down gracefully.
import { type ChildProcess, spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { prettyFactory } from 'pino-pretty';
import { API_NODE_FLAGS, DEFAULT_BUILD_DIR, SERVICE_PROCESS_ENV, WORKER_NODE_FLAGS } from './build.js';

const pretty = prettyFactory({ colorize: process.stdout.isTTY, translateTime: 'HH:MM:ss.l', ignore: 'pid,hostname' });

function run(name: string, nodeArgs: string[], env: Record<string, string> = {}): ChildProcess {
  const child = spawn(process.execPath, nodeArgs, {
    env: { ...SERVICE_PROCESS_ENV, ...process.env, ...env },
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

// Both processes as production runs them, built by scripts/start.sh (scripts/build.ts): compiled,
// with their V8 flags and SERVICE_PROCESS_ENV, the worker with its prebuilt workflow bundle.
const children = [
  run('worker', [...WORKER_NODE_FLAGS, resolve(DEFAULT_BUILD_DIR, 'worker.mjs')], {
    WORKFLOW_BUNDLE_PATH: resolve(DEFAULT_BUILD_DIR, 'workflow-bundle.js'),
  }),
  run('api', [...API_NODE_FLAGS, resolve(DEFAULT_BUILD_DIR, 'server.mjs')]),
];
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
