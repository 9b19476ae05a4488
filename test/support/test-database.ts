/** A migrated database for service-level tests: a SQLite file in `dir`, or a fresh PostgreSQL database. */
import { join } from 'node:path';
import { migrateToLatest, openDatabase, type Db } from '../../src/db/database.ts';
import { createPgDatabase } from './test-instance.ts';

/** Opens and migrates a test database; `drop` removes a PostgreSQL one (SQLite files go with `dir`). */
export async function openTestDatabase(kind: 'sqlite' | 'pgsql', dir: string): Promise<{ db: Db; drop: () => Promise<void> }> {
  if (kind === 'sqlite') {
    const db = openDatabase({ type: 'sqlite', path: join(dir, 'db.sqlite') }).db;
    await migrateToLatest(db);
    return { db, drop: async () => {} };
  }
  const pgdb = await createPgDatabase();
  const db = openDatabase({ type: 'pgsql', host: '127.0.0.1', port: 5432, name: pgdb.name, user: 'postgres', password: '' }).db;
  await migrateToLatest(db);
  return { db, drop: pgdb.drop };
}
