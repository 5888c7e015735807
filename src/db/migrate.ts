// Applies the SQL migrations in ./migrations with node-pg-migrate (up only, under its advisory lock).
import { fileURLToPath, pathToFileURL } from 'node:url';
import { runner } from 'node-pg-migrate';
import { loadConfig } from '../config.js';

export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));

/** Brings the database to the newest schema; returns the names of the migrations it ran. */
export async function migrateDatabase(
  databaseUrl: string,
  log: (message: string) => void = () => {},
): Promise<string[]> {
  const applied = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    direction: 'up',
    migrationsTable: 'pgmigrations',
    checkOrder: true,
    log,
  });
  return applied.map((migration) => migration.name);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const config = loadConfig();
  migrateDatabase(config.DATABASE_URL).then(
    (names) => console.log(names.length === 0 ? 'migrations: up to date' : `migrations applied: ${names.join(', ')}`),
    (error: unknown) => {
      console.error('migrations failed:', error);
      process.exit(1);
    },
  );
}
