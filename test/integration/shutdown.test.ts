// Graceful shutdown of the real processes: SIGTERM drains the API's in-flight requests and
// lets the worker's running activities finish; both exit 0 without error spam.
import { afterAll, describe, expect, inject, it } from 'vitest';
import type { CreateOrder } from '../../src/contracts/schemas.js';
import { newCreateOrder } from '../support/orders.js';
import { type AppProcess, startApiProcess, startWorkerProcess } from '../support/processes.js';
import { TOKENS } from '../support/stack.js';

const PORT = 3921;
const started: AppProcess[] = [];

afterAll(async () => {
  await Promise.all(started.map((app) => app.stop('SIGKILL')));
});

// COMMANDS_ENABLED off: a consumer group gets every command, and the in-process test worker serves them.
const env = () => ({
  ...inject('env'),
  TEMPORAL_TASK_QUEUE: 'orders-shutdown-test',
  LOG_LEVEL: 'info',
  COMMANDS_ENABLED: 'false',
});

const post = (url: string, path: string, body?: CreateOrder) =>
  fetch(`${url}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${TOKENS.all}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });

/** Log lines at error level or worse (pino level ≥ 50). */
const errorLines = (app: AppProcess) =>
  app.output.filter((line) => {
    try {
      return (JSON.parse(line) as { level?: number }).level! >= 50;
    } catch {
      return /error/i.test(line);
    }
  });

async function until(what: string, check: () => boolean, app: AppProcess, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}:\n${app.output.slice(-10).join('\n')}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('graceful shutdown', () => {
  it('SIGTERM on the API answers every request in flight, then exits 0', async () => {
    const worker = await startWorkerProcess(env());
    started.push(worker);
    const api = await startApiProcess(env(), PORT);
    started.push(api);

    const commands = Array.from({ length: 20 }, () => newCreateOrder());
    const responses = commands.map((command) => post(api.url, '/orders', command));
    // Wait until the API has received all of them, then ask it to stop.
    await until(
      '20 incoming requests',
      () => api.output.filter((line) => line.includes('incoming request')).length >= 21,
      api,
    );
    const signalledAt = Date.now();
    api.child.kill('SIGTERM');

    const statuses = await Promise.all(responses.map(async (response) => (await response).status));
    expect(statuses.every((status) => status === 201)).toBe(true);
    expect(await api.exited).toBe(0);
    // Within a deploy's grace period (Kubernetes: 30 s), not when keep-alive connections time out (72 s).
    expect(Date.now() - signalledAt).toBeLessThan(30_000);
    expect(errorLines(api)).toEqual([]);
    await expect(fetch(`${api.url}/healthz`)).rejects.toThrow();

    // The worker finishes what it is doing and exits cleanly too.
    const restarted = await startApiProcess(env(), PORT);
    started.push(restarted);
    const ids = await Promise.all(
      commands.slice(0, 5).map(async (command) => {
        const response = await post(restarted.url, '/orders', command);
        return ((await response.json()) as { orderId: string }).orderId;
      }),
    );
    const completing = ids.map((id) => post(restarted.url, `/orders/${id}/complete`));
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toBe(0);
    expect(errorLines(worker).map((line) => line.slice(0, 400))).toEqual([]);
    const answers = await Promise.all(completing);
    // Each transition was persisted before the worker stopped (200), or is still owed by the
    // workflow to the next worker (202): never an error.
    for (const answer of answers) expect([200, 202]).toContain(answer.status);
    await restarted.stop();
  }, 180_000);
});
