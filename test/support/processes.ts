// The API and the worker as real child processes, for tests that kill them (fault suite)
// and for measurements of their memory (benchmark).
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface AppProcess {
  name: 'api' | 'worker';
  child: ChildProcess;
  /** Every line the process printed (JSON log lines and anything else). */
  output: string[];
  /** Resident set size now, in MB (0 once the process is gone). */
  rssMb(): number;
  /** Highest RSS seen by the sampler since start, in MB. */
  peakRssMb(): number;
  /** Sends the signal and waits for the process to exit; resolves to its exit code (or signal name). */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
  exited: Promise<number | string>;
}

function rssOf(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
    return kb / 1024;
  } catch {
    return 0;
  }
}

function spawnApp(name: 'api' | 'worker', entry: string, env: Record<string, string>): AppProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', entry], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    let buffered = '';
    stream?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      output.push(...lines);
    });
  }
  let peak = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, rssOf(child.pid));
  }, 250);
  sampler.unref();
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, signal) => {
      clearInterval(sampler);
      resolve(code ?? signal ?? 'unknown');
    }),
  );
  return {
    name,
    child,
    output,
    exited,
    rssMb: () => rssOf(child.pid),
    peakRssMb: () => Math.max(peak, rssOf(child.pid)),
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

async function waitFor(what: string, check: () => Promise<boolean> | boolean, app: AppProcess, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (app.child.exitCode !== null) {
      throw new Error(
        `${app.name} exited (${app.child.exitCode}) before ${what}:\n${app.output.slice(-30).join('\n')}`,
      );
    }
    if (Date.now() > deadline)
      throw new Error(`${app.name}: no ${what} after ${timeoutMs} ms:\n${app.output.slice(-30).join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A TCP port nobody listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/**
 * Whether the worker serving metrics at `metricsUrl` polls for workflow tasks: its readiness
 * (the SDK's `temporal_num_pollers` gauge, on the worker's Prometheus endpoint).
 */
export async function workerPolls(metricsUrl: string): Promise<boolean> {
  try {
    const response = await fetch(metricsUrl);
    if (!response.ok) return false;
    const text = await response.text();
    return /^temporal_num_pollers\{[^}]*poller_type="workflow_task"[^}]*\} [1-9]/m.test(text);
  } catch {
    return false;
  }
}

/** Starts the worker process and waits until it polls its task queue. */
export async function startWorkerProcess(env: Record<string, string>): Promise<AppProcess & { metricsUrl: string }> {
  // Each worker process serves its metrics on a port of its own unless told otherwise.
  const metrics = env.WORKER_METRICS_ADDRESS ?? `127.0.0.1:${await freePort()}`;
  const worker = spawnApp('worker', 'src/worker.ts', { ...env, WORKER_METRICS_ADDRESS: metrics });
  const metricsUrl = `http://${metrics}/metrics`;
  await waitFor('workflow task pollers on its metrics endpoint', () => workerPolls(metricsUrl), worker);
  return { ...worker, metricsUrl };
}

/** Starts the API process on `port` and waits until /healthz answers. */
export async function startApiProcess(
  env: Record<string, string>,
  port: number,
): Promise<AppProcess & { url: string }> {
  const api = spawnApp('api', 'src/server.ts', { ...env, PORT: String(port) });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(
    '/healthz',
    () =>
      fetch(`${url}/healthz`).then(
        (response) => response.ok,
        () => false,
      ),
    api,
  );
  return { ...api, url };
}

/** Runs a command to its end: its exit code and everything it printed, stdout and stderr in order. */
export function runToEnd(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    for (const stream of [child.stdout, child.stderr]) {
      stream.on('data', (chunk: Buffer) => {
        output += chunk.toString();
      });
    }
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}
