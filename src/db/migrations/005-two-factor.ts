import type { Kysely } from 'kysely';

/**
 * Two-factor authentication (TOTP as Nextcloud's twofactor_totp, and backup codes). The TOTP secret
 * is stored sealed under a key derived from the instance secret (config file, outside the data
 * directory); `last_step` is the newest time step a code was accepted for, so a code is never
 * accepted twice. Backup codes are stored only as SHA-256 (they are random, 60+ bits each).
 */
export async function up(db: Kysely<any>): Promise<void> {
  const isPg = (db.getExecutor().adapter as { constructor: { name: string } }).constructor.name.startsWith('Postgres');
  await db.schema.createTable('two_factor_totp')
    .addColumn('uid', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('secret_sealed', 'text', (c) => c.notNull())
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_step', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createTable('two_factor_backup_codes')
    .addColumn('id', 'integer', (c) => (isPg ? c.generatedByDefaultAsIdentity().primaryKey() : c.autoIncrement().primaryKey()))
    .addColumn('uid', 'varchar(64)', (c) => c.notNull())
    .addColumn('code_hash', 'varchar(64)', (c) => c.notNull())
    .addColumn('used_at', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('two_factor_backup_codes_uid').on('two_factor_backup_codes').columns(['uid', 'code_hash']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('two_factor_backup_codes').execute();
  await db.schema.dropTable('two_factor_totp').execute();
}
