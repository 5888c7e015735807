// The fault suite's load driver: orders through create → read → complete (70 %) / cancel (30 %)
// over HTTP. Every request is bounded by a timeout; 503s, network errors, timeouts and (for
// creates) 202s are retried until success, which is safe because every command is idempotent.
import type { CancellationReason, CreateOrder } from '../../src/contracts/schemas.js';
import { newCreateOrder } from '../support/orders.js';
import { TOKENS } from '../support/stack.js';

/** How long one request may take before it counts as hung (the API bounds its own waits to ~10 s). */
export const REQUEST_TIMEOUT_MS = 30_000;
/** How long one command is retried before the driver gives up on the order. */
const COMMAND_DEADLINE_MS = 150_000;

export type Op = 'create' | 'read' | 'complete' | 'cancel';
export type Outcome = number | 'network' | 'timeout';

export interface RequestRecord {
  op: Op;
  order: number;
  startedAt: number;
  endedAt: number;
  outcome: Outcome;
  /** Error code of a JSON error body. */
  code?: string;
  /** For answers ≥ 400: the body is a JSON error with code and message, and shows no internals. */
  errorBodyOk?: boolean;
  /** Network error message, or the start of a bad error body. */
  detail?: string;
  /** An answer the scenario expects although it is not a 2xx (e.g. the 409 of a losing transition). */
  expected?: boolean;
}

export interface Answer {
  status: number;
  body: any;
}

const CANCEL_REASONS: CancellationReason[] = ['CUSTOMER_REQUESTED', 'PAYMENT_FAILED', 'OUT_OF_STOCK', 'FRAUD'];
/** What a 5xx or 4xx body must never show: stack frames, source paths, SQL. */
const INTERNALS = /\bat .+:\d+:\d+|node_modules|\/src\/|\.ts:\d+|\bSELECT\b|\bINSERT\b|\bUPDATE\b|stack/i;

/** One HTTP request with a timeout; never throws: failures become 'network' or 'timeout'. */
export async function send(
  records: RequestRecord[],
  baseUrl: string,
  op: Op,
  order: number,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ outcome: Outcome; answer?: Answer; record: RequestRecord }> {
  const record: RequestRecord = { op, order, startedAt: Date.now(), endedAt: 0, outcome: 'network' };
  records.push(record);
  try {
    const response = await fetch(`${baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${TOKENS.all}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    const text = await response.text();
    let parsed: any;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    record.outcome = response.status;
    if (response.status >= 400) {
      record.code = typeof parsed?.code === 'string' ? parsed.code : undefined;
      record.errorBodyOk =
        response.headers.get('content-type')?.startsWith('application/json') === true &&
        typeof parsed?.code === 'string' &&
        typeof parsed?.message === 'string' &&
        !INTERNALS.test(text);
      if (!record.errorBodyOk) record.detail = text.slice(0, 300);
    }
    return { outcome: record.outcome, answer: { status: response.status, body: parsed }, record };
  } catch (error) {
    const failure = error as Error & { cause?: { code?: string; message?: string } };
    record.outcome = failure.name === 'TimeoutError' ? 'timeout' : 'network';
    record.detail = `${failure.message}${failure.cause ? ` (${failure.cause.code ?? failure.cause.message})` : ''}`;
    return { outcome: record.outcome, record };
  } finally {
    record.endedAt = Date.now();
  }
}

export interface OrderRun {
  index: number;
  command: CreateOrder;
  action: 'complete' | 'cancel';
  expected: 'COMPLETED' | 'CANCELLED';
  /** The orderId the API answered with. */
  orderId?: string;
  /** A create of this order failed with a network error or timeout before a retry succeeded. */
  createInterrupted: boolean;
  /** Why the driver gave up on the order, if it did. */
  failure?: string;
  startedAt: number;
  endedAt?: number;
}

export interface LoadOptions {
  /** The API's base URL (a function: the API may be restarted on another process). */
  baseUrl: () => string;
  /** Orders to run at least. */
  orders: number;
  concurrency: number;
  /** Keep starting orders past `orders` while this says so (so the load spans the whole fault). */
  keepGoing?: () => boolean;
  /** Never more than this many orders. */
  maxOrders?: number;
}

export interface Load {
  runs: OrderRun[];
  records: RequestRecord[];
  /** Orders finished (successfully or not). */
  finished(): number;
  /** Requests of this kind waiting for an answer right now. */
  inFlight(op?: Op): number;
  done: Promise<void>;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Retries one command until `accept` takes the answer. Retried: network errors, timeouts,
 * every 5xx (a 500 is still counted as unexpected by the checks) and what `retryAlso` names.
 */
async function untilAccepted(
  run: OrderRun,
  attempt: () => ReturnType<typeof send>,
  accept: (answer: Answer) => boolean,
  retryAlso: (answer: Answer) => boolean = () => false,
): Promise<Answer | undefined> {
  const deadline = Date.now() + COMMAND_DEADLINE_MS;
  let delay = 100;
  for (;;) {
    const { answer } = await attempt();
    if (answer !== undefined && accept(answer)) return answer;
    if (answer !== undefined && answer.status < 500 && !retryAlso(answer)) {
      run.failure = `answer ${answer.status} ${JSON.stringify(answer.body)?.slice(0, 200)}`;
      return undefined;
    }
    if (Date.now() + delay > deadline) {
      run.failure = `no success within ${COMMAND_DEADLINE_MS} ms`;
      return undefined;
    }
    await pause(delay * (0.5 + Math.random()));
    delay = Math.min(delay * 2, 1_000);
  }
}

async function lifecycle(run: OrderRun, baseUrl: () => string, records: RequestRecord[]): Promise<void> {
  const created = await untilAccepted(
    run,
    async () => {
      const result = await send(records, baseUrl(), 'create', run.index, 'POST', '/orders', run.command);
      if (result.outcome === 'network' || result.outcome === 'timeout') run.createInterrupted = true;
      return result;
    },
    (answer) => answer.status === 201 || answer.status === 200,
    // 202: the order is not committed yet; repeating the command waits for it again.
    (answer) => answer.status === 202,
  );
  if (created === undefined) return;
  const orderId: string = created.body?.orderId;
  run.orderId = orderId;

  const read = await untilAccepted(
    run,
    () => send(records, baseUrl(), 'read', run.index, 'GET', `/orders/${orderId}`),
    (answer) => answer.status === 200,
  );
  if (read === undefined) return;
  if (read.body?.orderId !== orderId || read.body?.status !== 'CREATED') {
    run.failure = `GET answered ${JSON.stringify(read.body).slice(0, 200)}`;
    return;
  }

  const body = run.action === 'cancel' ? { reason: CANCEL_REASONS[run.index % CANCEL_REASONS.length] } : undefined;
  const ended = await untilAccepted(
    run,
    () => send(records, baseUrl(), run.action, run.index, 'POST', `/orders/${orderId}/${run.action}`, body),
    // 202: the workflow has the signal; the final status is checked in the database later.
    (answer) => answer.status === 200 || answer.status === 202,
  );
  if (ended?.status === 200 && ended.body?.status !== run.expected) {
    run.failure = `${run.action} answered 200 with status ${ended.body?.status}`;
  }
}

/** Starts the load; `done` resolves when every order it started has finished. */
export function startLoad({ baseUrl, orders, concurrency, keepGoing = () => false, maxOrders }: LoadOptions): Load {
  const runs: OrderRun[] = [];
  const records: RequestRecord[] = [];
  let finished = 0;
  const limit = maxOrders ?? orders * 4;

  const next = (): OrderRun | undefined => {
    if (runs.length >= limit || (runs.length >= orders && !keepGoing())) return undefined;
    const index = runs.length;
    // Exactly 7 in 10 complete, 3 in 10 cancel.
    const action = index % 10 < 7 ? 'complete' : 'cancel';
    const run: OrderRun = {
      index,
      command: newCreateOrder(),
      action,
      expected: action === 'complete' ? 'COMPLETED' : 'CANCELLED',
      createInterrupted: false,
      startedAt: Date.now(),
    };
    runs.push(run);
    return run;
  };

  const lane = async () => {
    for (let run = next(); run !== undefined; run = next()) {
      try {
        await lifecycle(run, baseUrl, records);
      } catch (error) {
        run.failure = `driver error: ${(error as Error).message}`;
      } finally {
        run.endedAt = Date.now();
        finished++;
      }
    }
  };
  const done = Promise.all(Array.from({ length: concurrency }, lane)).then(() => undefined);

  return {
    runs,
    records,
    finished: () => finished,
    inFlight: (op) => records.filter((record) => record.endedAt === 0 && (op === undefined || record.op === op)).length,
    done,
  };
}
