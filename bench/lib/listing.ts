// Reading orders at scale: a database of its own bulk-loaded with SQL (not through workflows),
// then GET /orders/{id}, a customer's first page, a deep page by cursor and a status + date
// filter through an API process on it, each timed at 4 concurrent readers, with the plan
// PostgreSQL chose for each listing (EXPLAIN ANALYZE of the statement the API runs).
import pg from 'pg';
import { listOrdersQuery, type OrderListFilter } from '../../src/db/orders-repository.js';
import { percentile } from './stats.js';

/** Orders per customer on average: 1,000,000 orders make 50,000 customers. */
const ORDERS_PER_CUSTOMER = 20;
const READERS = 4;
const REQUESTS_PER_QUERY = 400;

export interface ListingFigures {
  rows: number;
  /** Seconds the bulk load took (0 when the database already held the rows). */
  loadSeconds: number;
  readers: number;
  requestsPerQuery: number;
  queries: Record<QueryName, { p50Ms: number; p99Ms: number }>;
  /** EXPLAIN (ANALYZE, BUFFERS) of each listing, as the API runs it. */
  plans: Record<Exclude<QueryName, 'byId'>, string[]>;
}

type QueryName = 'byId' | 'customerFirstPage' | 'deepPage' | 'statusAndDates';

/** Loads `rows` orders (one item each, every status of a terminal order) unless the database holds them already. */
async function bulkLoad(db: pg.Client, rows: number): Promise<number> {
  const { rows: counted } = await db.query<{ n: string }>('SELECT count(*) AS n FROM orders');
  if (Number(counted[0]?.n) === rows) return 0;
  const startedAt = performance.now();
  await db.query('TRUNCATE orders CASCADE');
  const customers = Math.max(1, Math.round(rows / ORDERS_PER_CUSTOMER));
  // Newest first one second apart; customers spread evenly; 60 % completed, 20 % cancelled, 20 % created.
  await db.query(
    `INSERT INTO orders (order_id, cart_id, customer_id, status, total_cents, currency, created_at, updated_at,
                         completed_at, cancelled_at, cancellation_reason)
     SELECT md5('order' || i)::uuid, md5('cart' || i)::uuid, md5('customer' || (i % $2))::uuid,
            CASE WHEN i % 10 < 6 THEN 'COMPLETED' WHEN i % 10 < 8 THEN 'CANCELLED' ELSE 'CREATED' END,
            1000 + i % 5000, 'EUR', t, t,
            CASE WHEN i % 10 < 6 THEN t END,
            CASE WHEN i % 10 IN (6, 7) THEN t END,
            CASE WHEN i % 10 IN (6, 7) THEN 'CUSTOMER_REQUESTED' END
       FROM generate_series(1, $1::int) AS i, LATERAL (SELECT now() - make_interval(secs => i) AS t) AS times`,
    [rows, customers],
  );
  await db.query(
    `INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents, line_number)
     SELECT order_id, md5(order_id::text)::uuid, 1, total_cents, 1 FROM orders`,
  );
  await db.query('VACUUM ANALYZE orders');
  await db.query('VACUUM ANALYZE order_items');
  return (performance.now() - startedAt) / 1000;
}

/** Runs `count` requests made by `request(i)` with READERS in flight; p50 and p99 of their latencies. */
async function timed(count: number, request: (index: number) => Promise<Response>) {
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: READERS }, async () => {
      while (next < count) {
        const index = next++;
        const startedAt = performance.now();
        const response = await request(index);
        await response.arrayBuffer();
        if (response.status !== 200) throw new Error(`listing benchmark: a read answered ${response.status}`);
        latencies.push(performance.now() - startedAt);
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  const round = (value: number) => Math.round(value * 10) / 10;
  return { p50Ms: round(percentile(latencies, 50)), p99Ms: round(percentile(latencies, 99)) };
}

export async function measureListing(options: {
  /** The run's database URL: the listing database is named after it (`<name>_listing_<rows>`). */
  databaseUrl: string;
  rows: number;
  /** Environment of an API process of the run (its database is replaced). */
  env: Record<string, string>;
  /** Starts an API process of the run with `env`, as the run starts its others. */
  startApi(env: Record<string, string>): Promise<{ url: string; stop(): Promise<unknown> }>;
  token: string;
  prepareDatabase(url: string): Promise<void>;
  log(message: string): void;
}): Promise<ListingFigures> {
  const url = new URL(options.databaseUrl);
  // One database per size, so the smoke run's small one and a full run's million both stay loaded.
  url.pathname = `${url.pathname}_listing_${options.rows}`;
  await options.prepareDatabase(url.toString());
  const db = new pg.Client({ connectionString: url.toString() });
  await db.connect();
  try {
    options.log(`listing: ${options.rows} orders in ${url.pathname.slice(1)} (bulk-loaded once, reused after)`);
    const loadSeconds = await bulkLoad(db, options.rows);
    // Pages sampled at random: 1 % of a million orders, more of a small table (a sample of none would read nothing).
    const percent = Math.min(100, Math.max(1, 200_000 / options.rows));
    const sample = async (column: string) => {
      const sql = `SELECT DISTINCT ${column}::text AS v FROM orders TABLESAMPLE SYSTEM (${percent}) LIMIT 1000`;
      const values = (await db.query<{ v: string }>(sql)).rows.map((row) => row.v);
      if (values.length === 0) throw new Error(`listing benchmark: no ${column} in a ${percent} % sample`);
      return values;
    };
    const orderIds = await sample('order_id');
    const customerIds = await sample('customer_id');
    // A page 500 pages deep (10,000 orders in): its cursor is the (createdAt, orderId) of the order before it.
    const { rows: deep } = await db.query<{ created_at: Date; order_id: string }>(
      'SELECT created_at, order_id FROM orders ORDER BY created_at DESC, order_id DESC OFFSET $1 LIMIT 1',
      [Math.min(10_000, options.rows - 1)],
    );
    const cursorRow = deep[0];
    if (cursorRow === undefined) throw new Error('listing benchmark: no order to page from');
    const cursor = Buffer.from(JSON.stringify([cursorRow.created_at.toISOString(), cursorRow.order_id])).toString(
      'base64url',
    );
    const { rows: span } = await db.query<{ oldest: Date; newest: Date }>(
      'SELECT min(created_at) AS oldest, max(created_at) AS newest FROM orders',
    );
    const oldest = (span[0]?.oldest ?? new Date()).getTime();
    const newest = (span[0]?.newest ?? new Date()).getTime();
    // An hour of orders halfway back: the dates of a report, with matches on every page.
    const createdFrom = new Date((oldest + newest) / 2).toISOString();
    const createdTo = new Date((oldest + newest) / 2 + 3_600_000).toISOString();

    const filters: Record<Exclude<QueryName, 'byId'>, OrderListFilter> = {
      customerFirstPage: { customerId: customerIds[0] ?? '', limit: 21 },
      deepPage: { after: { createdAt: cursorRow.created_at.toISOString(), orderId: cursorRow.order_id }, limit: 21 },
      statusAndDates: { status: 'COMPLETED', createdFrom, createdTo, limit: 21 },
    };
    const plans = {} as ListingFigures['plans'];
    for (const [name, filter] of Object.entries(filters) as [keyof typeof filters, OrderListFilter][]) {
      const { text, values } = listOrdersQuery(filter);
      const { rows } = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (ANALYZE, BUFFERS) ${text}`, values);
      plans[name] = rows.map((row) => row['QUERY PLAN']);
    }

    const api = await options.startApi({ ...options.env, DATABASE_URL: url.toString(), LOG_LEVEL: 'warn' });
    try {
      const get = (path: string) =>
        fetch(`${api.url}${path}`, { headers: { authorization: `Bearer ${options.token}` } });
      const pick = <T>(list: T[], index: number) => list[index % list.length] as T;
      const count = REQUESTS_PER_QUERY;
      // One round unmeasured, so connections and plans are warm.
      await timed(READERS * 4, (index) => get(`/orders/${pick(orderIds, index)}`));
      const queries = {
        byId: await timed(count, (index) => get(`/orders/${pick(orderIds, index)}`)),
        customerFirstPage: await timed(count, (index) =>
          get(`/orders?customerId=${pick(customerIds, index)}&limit=20`),
        ),
        deepPage: await timed(count, () => get(`/orders?limit=20&cursor=${cursor}`)),
        statusAndDates: await timed(count, () =>
          get(`/orders?status=COMPLETED&createdFrom=${createdFrom}&createdTo=${createdTo}&limit=20`),
        ),
      };
      return {
        rows: options.rows,
        loadSeconds: Math.round(loadSeconds),
        readers: READERS,
        requestsPerQuery: count,
        queries,
        plans,
      };
    } finally {
      await api.stop();
    }
  } finally {
    await db.end();
  }
}
