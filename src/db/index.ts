// The only module that imports `pg`: one pool per process and one withTransaction.
import { createRequire } from 'node:module';
import type pgModule from 'pg';
import type { Config } from '../config.js';
import type { LogSink } from '../logger.js';

export interface QueryResult<Row> {
  rows: Row[];
  rowCount: number | null;
}

/** Anything that runs SQL: the pool, or the client of an open transaction. */
export interface Queryable {
  query<Row extends object = Record<string, unknown>>(text: string, values?: unknown[]): Promise<QueryResult<Row>>;
}

export interface Database extends Queryable {
  /** Runs `work` in one transaction: committed if it resolves, rolled back if it throws. */
  withTransaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  ping(): Promise<void>;
  close(): Promise<void>;
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

export function createDatabase(config: Config, logger: LogSink): Database {
  const pool = new (loadPg().Pool)({
    connectionString: config.DATABASE_URL,
    max: config.DATABASE_POOL_MAX,
    // Fail fast while PostgreSQL is down instead of queueing callers forever.
    connectionTimeoutMillis: 3_000,
    idleTimeoutMillis: 30_000,
    // Bound every statement so a stuck query cannot hold a request forever.
    statement_timeout: 10_000,
    query_timeout: 12_000,
    application_name: 'order-service',
  });
  // An idle client losing its connection (e.g. PostgreSQL restarted) must not crash the process.
  pool.on('error', (error) => logger.warn({ err: error.message }, 'idle PostgreSQL client failed'));

  const query: Queryable['query'] = async (text, values) => pool.query(text, values);

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
      try {
        await client.query('BEGIN');
        const result = await work({ query: (text, values) => client.query(text, values) });
        await client.query('COMMIT');
        return result;
      } catch (error) {
        // A connection that cannot even roll back is dropped, not returned to the pool.
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw error;
      } finally {
        client.off('error', onError);
        client.release(broken);
      }
    },
    async ping() {
      await pool.query('SELECT 1');
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
