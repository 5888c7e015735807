// What PostgreSQL spent its time on during the run: the top statements by total execution time
// from pg_stat_statements, counted from a snapshot at the run's start to one at its end (no reset:
// the statistics are the whole server's and others may read them), in the run's databases only
// (its own and those named after it: `<name>_listing_<rows>`, `<name>_archive`). The stack's
// PostgreSQL loads the extension at its start (scripts/stack.sh); a server started without it
// gives a reason instead of figures, and the run goes on.
import pg from 'pg';
import { round } from './stats.js';

/** Statements kept in the results. */
const TOP = 15;
/** Characters of a statement's normalized text kept (pg_stat_statements has $1… where values were). */
const QUERY_CHARS = 400;

interface Counted {
  database: string;
  query: string;
  calls: number;
  totalMs: number;
  rows: number;
}

/** The run's statements at one moment, by user, database and query id; or why there are none. */
export type StatementsSnapshot = { counted: Map<string, Counted> } | { unavailable: string };

export type TopStatements =
  | {
      available: true;
      /** Every statement of the run's databases, summed. */
      totalMs: number;
      calls: number;
      top: (Counted & { meanMs: number; percentOfTotal: number })[];
    }
  | { available: false; reason: string };

export async function snapshotStatements(databaseUrl: string): Promise<StatementsSnapshot> {
  const name = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  const client = new pg.Client({ connectionString: databaseUrl });
  try {
    await client.connect();
    await client.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    const { rows } = await client.query<{
      key: string;
      database: string;
      query: string;
      calls: string;
      total_ms: number;
      rows: string;
    }>(
      `SELECT s.userid::text || ':' || s.dbid::text || ':' || s.queryid::text AS key, d.datname AS database,
              s.query, s.calls, s.total_exec_time AS total_ms, s.rows
         FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
        WHERE d.datname = $1 OR starts_with(d.datname, $1 || '_')`,
      [name],
    );
    const counted = new Map<string, Counted>();
    for (const row of rows) {
      counted.set(row.key, {
        database: row.database,
        query: row.query.replace(/\s+/g, ' ').trim().slice(0, QUERY_CHARS),
        calls: Number(row.calls),
        totalMs: row.total_ms,
        rows: Number(row.rows),
      });
    }
    return { counted };
  } catch (error) {
    const message = (error as Error).message;
    // SQLSTATE 55000: the extension exists but the server did not load its library at start.
    const notLoaded = /shared_preload_libraries/.test(message);
    return {
      unavailable: notLoaded
        ? 'pg_stat_statements is not loaded: PostgreSQL was started without shared_preload_libraries=pg_stat_statements ' +
          '(scripts/stack.sh sets it; a server started before that takes it at its next start: npm run stack restart postgres, when nobody else is using it)'
        : `pg_stat_statements could not be read: ${message}`,
    };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The statements that ran between two snapshots, the most expensive in total first. */
export function topStatements(before: StatementsSnapshot, after: StatementsSnapshot): TopStatements {
  if ('unavailable' in after) return { available: false, reason: after.unavailable };
  if ('unavailable' in before) return { available: false, reason: before.unavailable };
  const ran = [...after.counted.entries()]
    .map(([key, now]) => {
      const then = before.counted.get(key);
      return {
        ...now,
        calls: now.calls - (then?.calls ?? 0),
        totalMs: now.totalMs - (then?.totalMs ?? 0),
        rows: now.rows - (then?.rows ?? 0),
      };
    })
    .filter((statement) => statement.calls > 0);
  const totalMs = ran.reduce((sum, statement) => sum + statement.totalMs, 0);
  const top = ran
    .sort((a, b) => b.totalMs - a.totalMs)
    .slice(0, TOP)
    .map((statement) => ({
      ...statement,
      totalMs: round(statement.totalMs, 1),
      meanMs: round(statement.totalMs / statement.calls, 3),
      percentOfTotal: totalMs === 0 ? 0 : round((100 * statement.totalMs) / totalMs, 1),
    }));
  return {
    available: true,
    totalMs: round(totalMs, 1),
    calls: ran.reduce((sum, statement) => sum + statement.calls, 0),
    top,
  };
}
