// The only module that imports `pg`: one pool per process and one withTransaction.
import { createRequire } from 'node:module';
import type pgModule from 'pg';
import type { Config } from '../config.js';
import type { LogSink } from '../logger.js';

export interface QueryResult<Row> {
  rows: Row[];
  rowCount: number | null;
}

/**
 * Anything that runs SQL: the pool, or the client of an open transaction. Text and values only:
 * no named prepared statements, which would outlive their transaction on a pooled connection.
 */
export interface Queryable {
  query<Row extends object = Record<string, unknown>>(text: string, values?: unknown[]): Promise<QueryResult<Row>>;
}

export interface Database extends Queryable {
  /** Runs `work` in one transaction: committed if it resolves, rolled back if it throws. */
  withTransaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  /** The pool's connections right now: for the metrics. */
  poolCounts(): PoolCounts;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export interface PoolCounts {
  /** Connections checked out: running a statement or holding a transaction. */
  inUse: number;
  idle: number;
  /** Callers queued for a connection (all `DATABASE_POOL_MAX` in use). */
  waiting: number;
}

/** Told of every statement the process runs: for the metrics (src/api/metrics.ts, src/database-metrics.ts). */
export interface StatementObserver {
  /**
   * `statement` is a short stable name, never SQL or values: the db function that ran it (the
   * repository's `findOrder`, `claimUnpublishedEvents`, …), or `begin`, `commit`, `rollback`, `ping`.
   */
  observe(statement: string, seconds: number, outcome: 'ok' | 'error'): void;
}

/**
 * `pg`, loaded when the first pool is made rather than when this module is: by then the process
 * has started OpenTelemetry (src/telemetry.ts), whose pg instrumentation patches `pg` as it is
 * required, so every statement becomes a span of the operation it runs in.
 */
let pg: typeof pgModule | undefined;
function loadPg(): typeof pgModule {
  pg ??= createRequire(import.meta.url)('pg') as typeof pgModule;
  return pg;
}

/**
 * The name of the function that called `below`: the repository function whose statement it is.
 * Read from a one-frame stack trace once per distinct SQL text (then cached), so statements are
 * named where they are written without each of the repository's call sites passing a name. A
 * caller without a name (an arrow function) gives the statement's verb and first table instead.
 */
const statementNames = new Map<string, string>();
const STATEMENT_NAMES_KEPT = 1_000;

function statementName(text: string, below: (...args: never[]) => unknown): string {
  const known = statementNames.get(text);
  if (known !== undefined) return known;
  const holder: { stack?: string } = {};
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 1;
  Error.captureStackTrace(holder, below);
  Error.stackTraceLimit = limit;
  // "    at findOrder (file:///…)", "    at Object.findOrder (…)", "    at async findOrder (…)"
  const caller = /\n\s*at (?:async )?(?:[\w$]+\.)*([\w$]+) \(/.exec(holder.stack ?? '')?.[1];
  const name = caller ?? verbAndTable(text);
  if (statementNames.size < STATEMENT_NAMES_KEPT) statementNames.set(text, name);
  return name;
}

/** `select orders`, `update order_events`, …: the SQL's first word and the first table it names. */
export function verbAndTable(text: string): string {
  const verb = /^\s*(\w+)/.exec(text)?.[1]?.toLowerCase() ?? 'sql';
  const table = /\b(?:from|into|update|join)\s+([a-z_][\w.]*)/i.exec(text)?.[1]?.toLowerCase();
  return table === undefined ? verb : `${verb} ${table}`;
}

export function createDatabase(config: Config, logger: LogSink, statements?: StatementObserver): Database {
  const pool = new (loadPg().Pool)({
    connectionString: config.DATABASE_URL,
    max: config.DATABASE_POOL_MAX,
    // Fail fast while PostgreSQL is down instead of queueing callers forever.
    connectionTimeoutMillis: 3_000,
    idleTimeoutMillis: 30_000,
    // Bound every statement so a stuck query cannot hold a request forever. Sent when connecting,
    // which a transaction pooler cannot pass on: behind PgBouncer it is set on the server side
    // (README, Deploying).
    statement_timeout: 10_000,
    query_timeout: 12_000,
    application_name: 'order-service',
  });
  // An idle client losing its connection (e.g. PostgreSQL restarted) must not crash the process.
  pool.on('error', (error) => logger.warn({ err: error.message }, 'idle PostgreSQL client failed'));

  /** Runs one statement, timed under its name when someone observes. */
  async function timed<Row>(name: string, run: () => Promise<Row>): Promise<Row> {
    if (statements === undefined) return run();
    const started = performance.now();
    try {
      const result = await run();
      statements.observe(name, (performance.now() - started) / 1000, 'ok');
      return result;
    } catch (error) {
      statements.observe(name, (performance.now() - started) / 1000, 'error');
      throw error;
    }
  }

  const query: Queryable['query'] = async (text, values) => {
    const name = statements === undefined ? '' : statementName(text, query);
    return timed(name, () => pool.query(text, values));
  };

  return {
    query,
    async withTransaction(work) {
      const client = await pool.connect();
      let broken = false;
      // The pool stops listening to a client's errors while it is checked out: without a listener,
      // PostgreSQL ending the connection between two statements (a restart) would crash the process.
      const onError = (error: Error) => {
        broken = true;
        logger.warn({ err: error.message }, 'PostgreSQL connection failed during a transaction');
      };
      client.on('error', onError);
      const txQuery: Queryable['query'] = async (text, values) => {
        const name = statements === undefined ? '' : statementName(text, txQuery);
        return timed(name, () => client.query(text, values));
      };
      const control = (statement: 'begin' | 'commit' | 'rollback') =>
        timed(statement, () => client.query(statement.toUpperCase()));
      try {
        await control('begin');
        const result = await work({ query: txQuery });
        await control('commit');
        return result;
      } catch (error) {
        // A connection that cannot even roll back is dropped, not returned to the pool.
        await control('rollback').catch(() => {
          broken = true;
        });
        throw error;
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    },
    poolCounts: () => ({
      inUse: pool.totalCount - pool.idleCount,
      idle: pool.idleCount,
      waiting: pool.waitingCount,
    }),
    async ping() {
      await timed('ping', () => pool.query('SELECT 1'));
    },
    async close() {
      await pool.end();
    },
  };
}

/**
 * Whether PostgreSQL refused the statement for its data (SQLSTATE class 22, data exception, or
 * 23, integrity constraint violation): the same statement will be refused again, so retrying
 * it cannot help.
 */
export function isPermanentDatabaseError(error: unknown): boolean {
  return error instanceof loadPg().DatabaseError && /^2[23]/.test(error.code ?? '');
}
