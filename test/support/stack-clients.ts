// What integration tests read the real stack with: PostgreSQL, the ordering.orders topic and Temporal.
import { Client, Connection } from '@temporalio/client';
import pg from 'pg';
import { afterAll, beforeAll, inject } from 'vitest';
import { collectOrderEvents } from './events.js';
import { topicsOf } from './stack.js';

export interface StackClients {
  db: pg.Pool;
  events: Awaited<ReturnType<typeof collectOrderEvents>>;
  temporal: Client;
  close(): Promise<void>;
}

export async function connectStackClients(env: Record<string, string>): Promise<StackClients> {
  const db = new pg.Pool({ connectionString: env.DATABASE_URL, max: 4 });
  const events = await collectOrderEvents((env.KAFKA_BROKERS ?? '').split(','), topicsOf(env).events);
  const temporal = new Client({
    connection: await Connection.connect({ address: env.TEMPORAL_ADDRESS ?? '' }),
    namespace: env.TEMPORAL_NAMESPACE ?? 'default',
  });
  return {
    db,
    events,
    temporal,
    async close() {
      await events.close();
      await db.end();
      await temporal.connection.close();
    },
  };
}

/** Clients for a test file: connected before its tests, closed after them. */
export function useStackClients(): StackClients {
  const clients = {} as StackClients;
  beforeAll(async () => {
    Object.assign(clients, await connectStackClients(inject('env')));
  });
  afterAll(async () => {
    await clients.close?.();
  });
  return clients;
}
