// The stack's PgBouncer (scripts/stack.sh: transaction pooling on 127.0.0.1:6432 in front of
// PostgreSQL): a database URL through it, and its admin console, which says what went through it.
import pg from 'pg';

export const PGBOUNCER_PORT = 6432;

/** The same database, through PgBouncer. */
export function viaPgBouncer(databaseUrl: string): string {
  const url = new URL(databaseUrl);
  url.host = `127.0.0.1:${PGBOUNCER_PORT}`;
  return url.href;
}

/** Counters of one database since PgBouncer started (SHOW STATS). */
export interface PoolerStats {
  transactions: number;
  queries: number;
}

/** PgBouncer's admin console (database `pgbouncer`; it takes simple queries only, which pg sends without values). */
export async function connectPgBouncerAdmin() {
  const admin = new pg.Client({ connectionString: `postgres://postgres@127.0.0.1:${PGBOUNCER_PORT}/pgbouncer` });
  await admin.connect();
  return {
    async stats(database: string): Promise<PoolerStats> {
      const { rows } = await admin.query<{ database: string; total_xact_count: string; total_query_count: string }>(
        'SHOW STATS',
      );
      const row = rows.find((candidate) => candidate.database === database);
      return { transactions: Number(row?.total_xact_count ?? 0), queries: Number(row?.total_query_count ?? 0) };
    },
    /** Backend pids of PgBouncer's connections to PostgreSQL for `database` (SHOW SERVERS). */
    async serverPids(database: string): Promise<number[]> {
      const { rows } = await admin.query<{ database: string; remote_pid: string }>('SHOW SERVERS');
      return rows.filter((row) => row.database === database).map((row) => Number(row.remote_pid));
    },
    /** Closes every connection of `database`, clients' and servers' (so the database can be dropped). */
    async kill(database: string): Promise<void> {
      await admin.query(`KILL ${database}`);
    },
    /** Lets clients connect to `database` again after a KILL. */
    async resume(database: string): Promise<void> {
      await admin.query(`RESUME ${database}`);
    },
    close: () => admin.end(),
  };
}
