import type { Kysely } from 'kysely';

/**
 * Browser sessions of the web UI: one row per logged-in browser, addressed by SHA-256 of the
 * random 256-bit cookie value (the cookie itself is never stored).
 */
export async function up(db: Kysely<any>): Promise<void> {
  const isPg = (db.getExecutor().adapter as { constructor: { name: string } }).constructor.name.startsWith('Postgres');
  await db.schema.createTable('web_sessions')
    .addColumn('id', 'integer', (c) => (isPg ? c.generatedByDefaultAsIdentity().primaryKey() : c.autoIncrement().primaryKey()))
    .addColumn('token_hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('uid', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_active', 'bigint', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('user_agent', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .addColumn('ip', 'varchar(64)', (c) => c.notNull().defaultTo(''))
    .execute();
  await db.schema.createIndex('web_sessions_uid').on('web_sessions').column('uid').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('web_sessions').execute();
}
