// The fault suite's load driver: orders through create → read → complete (70 %) / cancel (30 %)
// over HTTP. Every request is bounded by a timeout; 503s, network errors, timeouts and 202s are
// retried until the answer is final, which is safe because every command is idempotent: a
// repeated create answers the order, a repeated transition 200 once the order is where it leads.
import type { CreateOrder } from '../../src/contracts/schemas.js';
import {
  CANCELLATION_REASONS,
  COMMAND_NAMES,
  type CommandName,
  type CommandPayloads,
  type OrderStatus,
  targetOf,
} from '../../src/domain/lifecycle.js';
import { newCreateOrder } from '../support/orders.js';
import { TOKENS } from '../support/stack.js';

/** How long one request may take before it counts as hung (the API bounds its own waits to ~10 s). */
export const REQUEST_TIMEOUT_MS = 30_000;
/** How long one command is retried before the driver gives up on the order. */
const COMMAND_DEADLINE_MS = 150_000;

export type Op = 'create' | 'read' | CommandName;
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

/** The status every new order is in (persistOrder inserts it so): what a GET right after the create shows. */
export const CREATED_STATUS: OrderStatus = 'CREATED';

/** The load's mix: in every block of 10 orders (the weights' sum), how many each command ends. */
const ACTION_MIX: Readonly<Partial<Record<CommandName, number>>> = { complete: 7, cancel: 3 };
/** The commands the load ends orders with. */
export const LOAD_ACTIONS = COMMAND_NAMES.filter((name) => (ACTION_MIX[name] ?? 0) > 0);

/** A valid payload of each command; `variant` picks among the valid ones (e.g. the cancellation reason). */
const PAYLOADS: { readonly [Name in CommandName]?: (variant: number) => CommandPayloads[Name] } = {
  complete: () => ({}),
  cancel: (variant) => ({ reason: CANCELLATION_REASONS[variant % CANCELLATION_REASONS.length]! }),
};

/** What a 5xx or 4xx body must never show: stack frames, source paths, SQL. */
const INTERNALS = /\bat .+:\d+:\d+|node_modules|\/src\/|\.ts:\d+|\bSELECT\b|\bINSERT\b|\bUPDATE\b|stack/i;

/** A request's result: its outcome, the answer if there was one, and its record. */
export interface Sent {
  outcome: Outcome;
  answer?: Answer;
  record: RequestRecord;
}

/** One HTTP request with a timeout; never throws: failures become 'network' or 'timeout'. */
export async function send(
  records: RequestRecord[],
  baseUrl: string,
  op: Op,
  order: number,
  method: string,
  path: string,
  body?: unknown,
): Promise<Sent> {
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
  /** The transition that ends the order (scenario e: the race's winner); it must end in targetOf(action). */
  action: CommandName;
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
  attempt: () => Promise<Sent>,
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

/** Creates the run's order, repeating the command until it is committed; the orderId the API answered. */
export async function createOrder(
  run: OrderRun,
  baseUrl: () => string,
  records: RequestRecord[],
): Promise<string | undefined> {
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
  if (created === undefined) return undefined;
  run.orderId = created.body?.orderId;
  return run.orderId;
}

/** Reads the order right after its creation: it must be there, not yet moved. */
async function readCreatedOrder(
  run: OrderRun,
  orderId: string,
  baseUrl: () => string,
  records: RequestRecord[],
): Promise<boolean> {
  const read = await untilAccepted(
    run,
    () => send(records, baseUrl(), 'read', run.index, 'GET', `/orders/${orderId}`),
    (answer) => answer.status === 200,
  );
  if (read === undefined) return false;
  if (read.body?.orderId !== orderId || read.body?.status !== CREATED_STATUS) {
    run.failure = `GET answered ${JSON.stringify(read.body).slice(0, 200)}`;
    return false;
  }
  return true;
}

/** POSTs `command` to the order with a valid payload (no body when the payload is empty, as clients send it). */
export function sendTransition(
  records: RequestRecord[],
  baseUrl: string,
  order: number,
  orderId: string,
  command: CommandName,
  variant: number,
): Promise<Sent> {
  const payloadOf = PAYLOADS[command];
  if (payloadOf === undefined) throw new Error(`the load has no payload for ${command}`);
  const payload = payloadOf(variant);
  const body = Object.keys(payload).length === 0 ? undefined : payload;
  return send(records, baseUrl, command, order, 'POST', `/orders/${orderId}/${command}`, body);
}

/** Ends the order with the run's action: 200 with the order in the action's status. */
async function endOrder(run: OrderRun, orderId: string, baseUrl: () => string, records: RequestRecord[]) {
  const ended = await untilAccepted(
    run,
    () => sendTransition(records, baseUrl(), run.index, orderId, run.action, run.index),
    (answer) => answer.status === 200,
    // 202 (rare): not committed within TRANSITION_WAIT_MS. The repeat waits again, or finds it
    // committed and answers 200 unchanged. The checker counts the 202s.
    (answer) => answer.status === 202,
  );
  const expected = targetOf(run.action);
  if (ended !== undefined && ended.body?.status !== expected) {
    run.failure = `${run.action} answered 200 with status ${ended.body?.status}, expected ${expected}`;
  }
}

async function lifecycle(run: OrderRun, baseUrl: () => string, records: RequestRecord[]): Promise<void> {
  const orderId = await createOrder(run, baseUrl, records);
  if (orderId === undefined || !(await readCreatedOrder(run, orderId, baseUrl, records))) return;
  await endOrder(run, orderId, baseUrl, records);
}

/** The load's command for its order number `index`: the mix, in blocks of ACTION_MIX's sum. */
function actionFor(index: number): CommandName {
  const weight = (name: CommandName) => ACTION_MIX[name] ?? 0;
  const block = LOAD_ACTIONS.reduce((sum, name) => sum + weight(name), 0);
  let slot = index % block;
  for (const name of LOAD_ACTIONS) {
    if (slot < weight(name)) return name;
    slot -= weight(name);
  }
  throw new Error('unreachable: slot is below the sum of ACTION_MIX');
}

/** A new order for the driver, ending with `action`. */
export function newOrderRun(index: number, action: CommandName): OrderRun {
  return { index, command: newCreateOrder(), action, createInterrupted: false, startedAt: Date.now() };
}

/** Starts the load; `done` resolves when every order it started has finished. */
export function startLoad({ baseUrl, orders, concurrency, keepGoing = () => false, maxOrders }: LoadOptions): Load {
  const runs: OrderRun[] = [];
  const records: RequestRecord[] = [];
  let finished = 0;
  const limit = maxOrders ?? orders * 4;

  const next = (): OrderRun | undefined => {
    if (runs.length >= limit || (runs.length >= orders && !keepGoing())) return undefined;
    const run = newOrderRun(runs.length, actionFor(runs.length));
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
