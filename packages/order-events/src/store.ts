// Effects exactly once: the ce_id of every event a consumer group has applied is recorded in
// the same PostgreSQL transaction as the consumer's own writes. A redelivered event finds its
// id there and changes nothing; a crash before the commit leaves neither the id nor the writes.
// The same transaction checks each order's OrderStatusChanged sequence (1, 2, 3… without gaps).
import type pg from 'pg';
import type { OrderEvent } from './parse.js';

/** What the sequence check found for an OrderStatusChanged. */
export interface SequenceAnomaly {
  kind: 'gap' | 'regression';
  orderId: string;
  eventId: string;
  /** The sequence that should have come next (last applied + 1). */
  expected: number;
  received: number;
}

export type WithEventResult<T> =
  | { outcome: 'applied'; result: T; anomaly: SequenceAnomaly | undefined }
  | { outcome: 'duplicate' };

export interface DeduplicationStore {
  /** Creates the schema and its tables when missing (concurrent callers wait for each other). */
  ensureSchema(): Promise<void>;
  /**
   * Runs `apply` in a transaction that also records the event's ce_id, and commits both, or
   * neither. An event already recorded is not applied again (`duplicate`). A gap or a
   * regression of OrderStatusChanged.sequence is returned as `anomaly`; the event is applied all
   * the same: the handler decides what an older status means for it.
   */
  withEvent<T>(event: OrderEvent, apply: (tx: pg.PoolClient) => Promise<T>): Promise<WithEventResult<T>>;
}

export interface DeduplicationStoreOptions {
  /** The consumer group: each group applies each event once. */
  consumerGroup: string;
  /** The PostgreSQL schema of the store's tables (a plain identifier). */
  schema?: string;
}

/** Marks an error thrown by the consumer's own `apply`, as opposed to the store's statements. */
export class ApplyError extends Error {
  override readonly name = 'ApplyError';
  constructor(readonly error: unknown) {
    super(error instanceof Error ? error.message : String(error), { cause: error });
  }
}

export function createDeduplicationStore(
  pool: pg.Pool,
  { consumerGroup, schema = 'order_events_consumer' }: DeduplicationStoreOptions,
): DeduplicationStore {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(schema)) throw new Error(`schema ${JSON.stringify(schema)}: a plain identifier`);
  const processed = `${schema}.processed_events`;
  const sequences = `${schema}.order_status_sequences`;
  return {
    async ensureSchema() {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        // CREATE … IF NOT EXISTS is not safe against a concurrent twin: one at a time.
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`order-events:${schema}`]);
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
        await client.query(`CREATE TABLE IF NOT EXISTS ${processed} (
          consumer_group TEXT NOT NULL,
          event_id       TEXT NOT NULL,
          event_type     TEXT NOT NULL,
          order_id       TEXT NOT NULL,
          processed_at   TIMESTAMPTZ NOT NULL DEFAULT now(),
          PRIMARY KEY (consumer_group, event_id))`);
        await client.query(`CREATE TABLE IF NOT EXISTS ${sequences} (
          consumer_group TEXT NOT NULL,
          order_id       TEXT NOT NULL,
          last_sequence  INTEGER NOT NULL,
          PRIMARY KEY (consumer_group, order_id))`);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
    },

    async withEvent(event, apply) {
      const client = await pool.connect();
      let broken = false;
      try {
        await client.query('BEGIN');
        const recorded = await client.query(
          `INSERT INTO ${processed} (consumer_group, event_id, event_type, order_id) VALUES ($1, $2, $3, $4)
           ON CONFLICT DO NOTHING`,
          [consumerGroup, event.id, event.type, event.subject],
        );
        if (recorded.rowCount === 0) {
          await client.query('ROLLBACK');
          return { outcome: 'duplicate' };
        }
        let anomaly: SequenceAnomaly | undefined;
        if (event.type === 'OrderStatusChanged') {
          const received = event.data.sequence;
          // The order's row, locked (FOR UPDATE reads the latest committed value): one order's
          // status changes are applied one at a time, even by two members of a group mid-rebalance.
          await client.query(
            `INSERT INTO ${sequences} (consumer_group, order_id, last_sequence) VALUES ($1, $2, 0) ON CONFLICT DO NOTHING`,
            [consumerGroup, event.subject],
          );
          const { rows } = await client.query<{ last_sequence: number }>(
            `SELECT last_sequence FROM ${sequences} WHERE consumer_group = $1 AND order_id = $2 FOR UPDATE`,
            [consumerGroup, event.subject],
          );
          await client.query(
            `UPDATE ${sequences} SET last_sequence = GREATEST(last_sequence, $3) WHERE consumer_group = $1 AND order_id = $2`,
            [consumerGroup, event.subject, received],
          );
          const expected = (rows[0]?.last_sequence ?? 0) + 1;
          if (received !== expected) {
            anomaly = {
              kind: received > expected ? 'gap' : 'regression',
              orderId: event.subject,
              eventId: event.id,
              expected,
              received,
            };
          }
        }
        let result: Awaited<ReturnType<typeof apply>>;
        try {
          result = await apply(client);
        } catch (error) {
          throw new ApplyError(error);
        }
        await client.query('COMMIT');
        return { outcome: 'applied', result, anomaly };
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {
          broken = true;
        });
        throw error;
      } finally {
        // A connection that could not even roll back is not given back to the pool.
        client.release(broken ? true : undefined);
      }
    },
  };
}
