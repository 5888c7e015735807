// Many open orders (issue 13). Orders live for days, so most of their workflows are open and out
// of the worker's cache (WORKER_MAX_CACHED_WORKFLOWS): a transition on an old order first replays
// its history. At each level (1,000 then 5,000 open orders by default, created over HTTP and left
// open), `transitions` confirms on orders picked at random among the old ones (not the newest
// `cached`, which the worker may still hold): their latency, and the worker's RSS afterwards.
import type { Order } from '../../src/contracts/schemas.js';
import { orderIdForCart } from '../../src/ids.js';
import { newCreateOrder } from '../../test/support/orders.js';
import { percentile, round, runPool } from './stats.js';

/** The command each measured transition sends: an open order's next step, which leaves it open. */
const TRANSITION = { command: 'confirm', status: 'CONFIRMED' } as const;

export interface OpenOrdersLevel {
  openOrders: number;
  transitions: number;
  transitionP50Ms: number;
  transitionP99Ms: number;
  /** The worker's RSS once the level's transitions are done, and its peak so far. */
  workerRssMb: number;
  workerPeakRssMb: number;
  /** Orders created to reach the level, and how long that took (creates/s is a note, not a target). */
  createdForLevel: number;
  createSeconds: number;
  failed: number;
}

export async function measureOpenOrders(options: {
  apiUrl: string;
  token: string;
  levels: number[];
  transitions: number;
  /** Orders the worker may hold in its cache: the newest this many are not picked. */
  cached: number;
  workerRssMb: () => { current: number; peak: number };
  log: (message: string) => void;
  failures: string[];
}): Promise<OpenOrdersLevel[]> {
  const headers = { authorization: `Bearer ${options.token}`, 'content-type': 'application/json' };
  const post = async (path: string, body: unknown) => {
    const response = await fetch(`${options.apiUrl}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
    return { status: response.status, text: await response.text() };
  };
  /** Open orders in creation order; `untouched` holds those no transition has picked yet. */
  const created: string[] = [];
  const untouched = new Set<string>();
  const results: OpenOrdersLevel[] = [];

  for (const level of [...options.levels].sort((a, b) => a - b)) {
    const toCreate = Math.max(0, level - created.length);
    options.log(`open orders: creating ${toCreate} to reach ${level}`);
    const createStart = performance.now();
    let failed = 0;
    await runPool(toCreate, 32, async () => {
      const command = newCreateOrder();
      const orderId = orderIdForCart(command.cartId);
      let answer = await post('/orders', command);
      // 202: not committed in time; the same command again answers once it is.
      while (answer.status === 202) answer = await post('/orders', command);
      if (answer.status !== 201 && answer.status !== 200) {
        failed++;
        options.failures.push(`open order ${orderId}: create answered ${answer.status} ${answer.text.slice(0, 200)}`);
        return;
      }
      created.push(orderId);
      untouched.add(orderId);
    });
    const createSeconds = (performance.now() - createStart) / 1000;

    // Old orders only: the newest `cached` may still sit in the worker's cache.
    const candidates = created.slice(0, Math.max(0, created.length - options.cached)).filter((id) => untouched.has(id));
    const picked = shuffled(candidates).slice(0, options.transitions);
    for (const orderId of picked) untouched.delete(orderId);
    options.log(`open orders: ${picked.length} ${TRANSITION.command}s on old orders among ${created.length} open`);
    const latencies: number[] = [];
    // A normal day, not saturation: a few at a time.
    await runPool(picked.length, 4, async (index) => {
      const orderId = picked[index] as string;
      const sentAt = performance.now();
      let answer = await post(`/orders/${orderId}/${TRANSITION.command}`, {});
      while (answer.status === 202) answer = await post(`/orders/${orderId}/${TRANSITION.command}`, {});
      const ms = performance.now() - sentAt;
      const status = answer.status === 200 ? (JSON.parse(answer.text) as Order).status : undefined;
      if (status !== TRANSITION.status) {
        failed++;
        options.failures.push(
          `open order ${orderId}: ${TRANSITION.command} answered ${answer.status} ${answer.text.slice(0, 200)}`,
        );
        return;
      }
      latencies.push(ms);
    });
    const rss = options.workerRssMb();
    results.push({
      openOrders: created.length,
      transitions: latencies.length,
      transitionP50Ms: round(percentile(latencies, 50)),
      transitionP99Ms: round(percentile(latencies, 99)),
      workerRssMb: round(rss.current, 0),
      workerPeakRssMb: round(rss.peak, 0),
      createdForLevel: toCreate,
      createSeconds: round(createSeconds, 1),
      failed,
    });
  }
  return results;
}

/** A copy of `items` in random order (Fisher–Yates): which old orders the transitions pick. */
function shuffled<T>(items: T[]): T[] {
  const copy = [...items];
  for (let index = copy.length - 1; index > 0; index--) {
    const other = Math.floor(Math.random() * (index + 1));
    [copy[index], copy[other]] = [copy[other] as T, copy[index] as T];
  }
  return copy;
}
