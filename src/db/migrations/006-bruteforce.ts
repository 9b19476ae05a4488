import type { Kysely } from 'kysely';

/**
 * Brute-force throttling in the database (the default store without Redis), so that every process
 * of the instance, `./occ security:bruteforce:*` included, sees the same counts: one row per
 * counted attempt, and expiring marks of known clients.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const isPg = (db.getExecutor().adapter as { constructor: { name: string } }).constructor.name.startsWith('Postgres');
  await db.schema.createTable('bruteforce_attempts')
    .addColumn('id', 'integer', (c) => (isPg ? c.generatedByDefaultAsIdentity().primaryKey() : c.autoIncrement().primaryKey()))
    .addColumn('key', 'varchar(255)', (c) => c.notNull())
    .addColumn('tag', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .addColumn('ts', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('bruteforce_attempts_key_ts').on('bruteforce_attempts').columns(['key', 'ts']).execute();
  await db.schema.createIndex('bruteforce_attempts_ts').on('bruteforce_attempts').column('ts').execute();
  await db.schema.createTable('bruteforce_marks')
    .addColumn('key', 'varchar(255)', (c) => c.primaryKey())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('bruteforce_marks').execute();
  await db.schema.dropTable('bruteforce_attempts').execute();
}
