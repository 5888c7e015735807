// Reading orders at scale: a database of its own bulk-loaded with SQL (not through workflows),
// then GET /orders/{id}, a customer's first page, a deep page by cursor and a status + date
// filter through an API process on it, each timed at 4 concurrent readers, with the plan
// PostgreSQL chose for each listing (EXPLAIN ANALYZE of the statement the API runs).
import pg from 'pg';
import { listOrdersQuery, moveOrdersToArchive, type OrderListFilter } from '../../src/db/orders-repository.js';
import { percentile } from './stats.js';

/** Orders per customer on average: 1,000,000 orders make 50,000 customers. */
const ORDERS_PER_CUSTOMER = 20;
const READERS = 4;
const REQUESTS_PER_QUERY = 400;
const WARM_UP_REQUESTS = 200;

export interface ListingFigures {
  rows: number;
  /** Of `rows`, those archived (moved to the archive tables) before the reads. */
  archived: number;
  /** Rows of the hot table and of the archive table the reads ran on. */
  tableRows: { orders: number; ordersArchive: number };
  /** Seconds the bulk load took (0 when the database already held the rows). */
  loadSeconds: number;
  readers: number;
  requestsPerQuery: number;
  /** The first run's latencies (the only run's, but with --reads-only). */
  queries: QueryLatencies;
  /** Every run's, in order, when there were more than one (--reads-only N). */
  runs?: QueryLatencies[];
  /** EXPLAIN (ANALYZE, BUFFERS) of each listing, as the API runs it. */
  plans: Record<Exclude<QueryName, 'byId'>, string[]>;
}

type QueryName = 'byId' | 'customerFirstPage' | 'deepPage' | 'statusAndDates' | 'holdOverdue' | 'rareStatus';
type QueryLatencies = Record<QueryName, { p50Ms: number; p99Ms: number }>;

/**
 * Loads `rows` orders (one item each, every status of a terminal order), then archives the
 * `archived` oldest as the archive sweep does (archiveOldest), unless the database holds them already.
 */
async function bulkLoad(db: pg.Client, rows: number, archived = 0): Promise<number> {
  const { rows: counted } = await db.query<{ hot: string; archived: string }>(
    'SELECT (SELECT count(*) FROM orders) AS hot, (SELECT count(*) FROM orders_archive) AS archived',
  );
  if (Number(counted[0]?.hot) === rows - archived && Number(counted[0]?.archived) === archived) return 0;
  const startedAt = performance.now();
  // One transaction, so that a load interrupted leaves the table and its indexes as they were.
  await db.query('BEGIN');
  await db.query('TRUNCATE orders, order_items, orders_archive, order_items_archive CASCADE');
  // Indexes built after the load, not maintained row by row through it: at ten million rows that
  // is minutes instead of most of an hour, and each index comes out as packed as after a REINDEX.
  const { rows: indexes } = await db.query<{ name: string; definition: string }>(
    `SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition
       FROM pg_index i LEFT JOIN pg_constraint c ON c.conindid = i.indexrelid
      WHERE i.indrelid IN ('orders'::regclass, 'order_items'::regclass) AND c.oid IS NULL`,
  );
  for (const index of indexes) await db.query(`DROP INDEX ${index.name}`);
  await db.query(`SET maintenance_work_mem = '1GB'`);
  // Customers as many as the hot orders make at 20 each, so that a customer's first page is the
  // same 20 hot orders with or without an archive behind them.
  const customers = Math.max(1, Math.round((rows - archived) / ORDERS_PER_CUSTOMER));
  // Newest first one second apart; customers spread evenly; 60 % completed, 20 % cancelled,
  // 20 % created, of which one in fifty on hold (0.1 % of all, half of them past their review);
  // the `archived` oldest all ended (75 % completed), as orders past their retention are.
  await db.query(
    `INSERT INTO orders (order_id, cart_id, customer_id, status, total_cents, currency, created_at, updated_at,
                         completed_at, cancelled_at, cancellation_reason, hold, hold_overdue)
     SELECT md5('order' || i)::uuid, md5('cart' || i)::uuid, md5('customer' || (i % $2))::uuid,
            status, 1000 + i % 5000, 'EUR', t, t,
            CASE WHEN status = 'COMPLETED' THEN t END,
            CASE WHEN status = 'CANCELLED' THEN t END,
            CASE WHEN status = 'CANCELLED' THEN 'CUSTOMER_REQUESTED' END,
            CASE WHEN status = 'ON_HOLD' THEN jsonb_build_object(
              'holdId', md5('hold' || i)::uuid, 'reason', 'PAYMENT_REVIEW', 'ownerTeam', 'payments',
              'customerMessage', NULL, 'placedAt', t, 'reviewBy', t + interval '1 day') END,
            status = 'ON_HOLD' AND i % 2000 = 9
       FROM generate_series(1, $1::int) AS i,
            LATERAL (SELECT now() - make_interval(secs => i) AS t,
                            CASE WHEN i > $3::int THEN (CASE WHEN i % 4 < 3 THEN 'COMPLETED' ELSE 'CANCELLED' END)
                                 WHEN i % 10 < 6 THEN 'COMPLETED' WHEN i % 10 < 8 THEN 'CANCELLED'
                                 WHEN i % 1000 = 9 THEN 'ON_HOLD' ELSE 'CREATED' END AS status) AS generated`,
    [rows, customers, rows - archived],
  );
  await db.query(
    `INSERT INTO order_items (order_id, product_id, quantity, unit_price_cents, line_number)
     SELECT order_id, md5(order_id::text)::uuid, 1, total_cents, 1 FROM orders`,
  );
  for (const index of indexes) await db.query(index.definition);
  await db.query('COMMIT');
  await archiveOldest(db, archived);
  await db.query('VACUUM ANALYZE orders');
  await db.query('VACUUM ANALYZE order_items');
  return (performance.now() - startedAt) / 1000;
}

/** Orders archived in one transaction by archiveOldest: the batch the archive tables' README figure is for. */
const ARCHIVE_BATCH = 10_000;

/**
 * Archives the `count` oldest orders (all ended) as the archive sweep does, in batches: each
 * becomes ARCHIVED with its archive record, then moves to the archive tables (moveOrdersToArchive,
 * the sweep's own statement), in one transaction a batch. No events: what is measured is the tables.
 */
async function archiveOldest(db: pg.Client, count: number): Promise<void> {
  for (let done = 0; done < count; ) {
    await db.query('BEGIN');
    const { rows } = await db.query<{ order_id: string }>(
      `UPDATE orders o
          SET status = 'ARCHIVED', updated_at = now(),
              archive = jsonb_build_object(
                'terminalStatus', o.status, 'terminalAt', COALESCE(o.completed_at, o.cancelled_at),
                'retentionCategory', 'STANDARD', 'archiveReference', 'bench/' || o.order_id,
                'recordChecksum', md5(o.order_id::text) || md5(o.cart_id::text), 'archivedAt', now())
        WHERE o.order_id IN (SELECT order_id FROM orders ORDER BY created_at LIMIT $1)
        RETURNING o.order_id`,
      [Math.min(ARCHIVE_BATCH, count - done)],
    );
    await moveOrdersToArchive(
      db,
      rows.map((row) => row.order_id),
    );
    await db.query('COMMIT');
    done += rows.length;
  }
  if (count > 0) {
    for (const table of ['orders', 'order_items', 'orders_archive', 'order_items_archive']) {
      await db.query(`VACUUM ANALYZE ${table}`);
    }
  }
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
  /** Of those, how many (the oldest) are archived before the reads: the hot table keeps `rows - archived`. */
  archived?: number;
  /** Environment of an API process of the run (its database is replaced). */
  env: Record<string, string>;
  /** Starts an API process of the run with `env`, as the run starts its others. */
  startApi(env: Record<string, string>): Promise<{ url: string; stop(): Promise<unknown> }>;
  token: string;
  /** How many times the reads run on the one API process (default 1). */
  runs?: number;
  prepareDatabase(url: string): Promise<void>;
  log(message: string): void;
}): Promise<ListingFigures> {
  const url = new URL(options.databaseUrl);
  // One database per size, so the smoke run's small one and a full run's million both stay loaded.
  const archived = options.archived ?? 0;
  url.pathname = `${url.pathname}_listing_${options.rows}${archived > 0 ? `_archived_${archived}` : ''}`;
  await options.prepareDatabase(url.toString());
  const db = new pg.Client({ connectionString: url.toString() });
  await db.connect();
  try {
    options.log(
      `listing: ${options.rows} orders, ${archived} of them archived, in ${url.pathname.slice(1)} (loaded once, reused after)`,
    );
    const loadSeconds = await bulkLoad(db, options.rows, archived);
    const { rows: counted } = await db.query<{ hot: number; archive: number }>(
      'SELECT (SELECT count(*)::int FROM orders) AS hot, (SELECT count(*)::int FROM orders_archive) AS archive',
    );
    const tableRows = { orders: counted[0]?.hot ?? 0, ordersArchive: counted[0]?.archive ?? 0 };
    // Ids sampled at random, enough for every run to read orders and customers no earlier run read
    // (a run after the first would otherwise find them in shared buffers): 2 % of ten million
    // orders, more of a small table (a sample of none would read nothing).
    const runs = options.runs ?? 1;
    const wanted = REQUESTS_PER_QUERY * runs + WARM_UP_REQUESTS;
    const hot = options.rows - archived;
    const percent = Math.min(100, Math.max(1, (100 * 200_000) / hot));
    const sample = async (column: string) => {
      const sql = `SELECT DISTINCT ${column}::text AS v FROM orders TABLESAMPLE SYSTEM (${percent}) LIMIT ${wanted}`;
      const values = (await db.query<{ v: string }>(sql)).rows.map((row) => row.v);
      if (values.length === 0) throw new Error(`listing benchmark: no ${column} in a ${percent} % sample`);
      return values;
    };
    const orderIds = await sample('order_id');
    const customerIds = await sample('customer_id');
    // A page 500 pages deep (10,000 orders in): its cursor is the (createdAt, orderId) of the order before it.
    const { rows: deep } = await db.query<{ created_at: Date; order_id: string }>(
      'SELECT created_at, order_id FROM orders ORDER BY created_at DESC, order_id DESC OFFSET $1 LIMIT 1',
      [Math.min(10_000, hot - 1)],
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
      // An operator's queues: overdue holds, and a status one order in a thousand has, over the whole table.
      holdOverdue: { holdOverdue: true, limit: 21 },
      rareStatus: { status: 'ON_HOLD', limit: 21 },
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
      // Each query `count` times from the `first`-th sampled id on.
      const measure = async (first: number, count: number): Promise<QueryLatencies> => ({
        byId: await timed(count, (index) => get(`/orders/${pick(orderIds, first + index)}`)),
        customerFirstPage: await timed(count, (index) =>
          get(`/orders?customerId=${pick(customerIds, first + index)}&limit=20`),
        ),
        deepPage: await timed(count, () => get(`/orders?limit=20&cursor=${cursor}`)),
        statusAndDates: await timed(count, () =>
          get(`/orders?status=COMPLETED&createdFrom=${createdFrom}&createdTo=${createdTo}&limit=20`),
        ),
        holdOverdue: await timed(count, () => get('/orders?holdOverdue=true&limit=20')),
        rareStatus: await timed(count, () => get('/orders?status=ON_HOLD&limit=20')),
      });
      // One round of every query unmeasured (the ids after the runs'), so that connections, plans
      // and the API's compiled code are warm: a fresh process's first hundreds of answers are
      // slower while V8 optimises them, which is not what reading at scale costs.
      const count = REQUESTS_PER_QUERY;
      await measure(count * runs, WARM_UP_REQUESTS);
      const results: QueryLatencies[] = [];
      for (let run = 1; run <= (options.runs ?? 1); run++) {
        results.push(await measure((run - 1) * count, count));
        const worst = Math.max(...Object.values(results[run - 1] as QueryLatencies).map(({ p99Ms }) => p99Ms));
        options.log(`listing: run ${run} of ${runs}: worst p99 ${worst} ms`);
      }
      const queries = results[0] as QueryLatencies;
      return {
        rows: options.rows,
        archived,
        tableRows,
        loadSeconds: Math.round(loadSeconds),
        readers: READERS,
        requestsPerQuery: count,
        queries,
        ...(results.length > 1 ? { runs: results } : {}),
        plans,
      };
    } finally {
      await api.stop();
    }
  } finally {
    await db.end();
  }
}
