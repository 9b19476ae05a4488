import { sql, type Kysely } from 'kysely';

/** Initial schema: users, config, app passwords, the node tree, properties, locks, uploads. */
export async function up(db: Kysely<any>): Promise<void> {
  const isPg = (db.getExecutor().adapter as { constructor: { name: string } }).constructor.name.startsWith('Postgres');
  const autoId = (col: any) => (isPg ? col.generatedByDefaultAsIdentity().primaryKey() : col.autoIncrement().primaryKey());

  await db.schema.createTable('users')
    .addColumn('uid', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('display_name', 'varchar(255)', (c) => c.notNull())
    .addColumn('email', 'varchar(255)')
    .addColumn('password_hash', 'varchar(255)', (c) => c.notNull())
    .addColumn('quota', 'bigint')
    .addColumn('enabled', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('is_admin', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_login', 'bigint')
    .execute();

  await db.schema.createTable('user_preferences')
    .addColumn('uid', 'varchar(64)', (c) => c.notNull())
    .addColumn('app', 'varchar(64)', (c) => c.notNull())
    .addColumn('key', 'varchar(64)', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('user_preferences_pk', ['uid', 'app', 'key'])
    .execute();

  await db.schema.createTable('app_config')
    .addColumn('app', 'varchar(64)', (c) => c.notNull())
    .addColumn('key', 'varchar(64)', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('app_config_pk', ['app', 'key'])
    .execute();

  await db.schema.createTable('app_passwords')
    .addColumn('id', 'integer', autoId)
    .addColumn('uid', 'varchar(64)', (c) => c.notNull())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('token_hash', 'varchar(64)', (c) => c.notNull().unique())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addColumn('last_used', 'bigint')
    .execute();
  await db.schema.createIndex('app_passwords_uid').on('app_passwords').column('uid').execute();

  // File ids are allocated before a file's content is written (the ciphertext is bound to its
  // file id), so they come from their own counter table rather than the nodes table.
  await db.schema.createTable('file_ids')
    .addColumn('id', 'integer', autoId)
    .execute();

  await db.schema.createTable('nodes')
    .addColumn('fileid', 'integer', (c) => c.primaryKey())
    .addColumn('owner', 'varchar(64)', (c) => c.notNull())
    .addColumn('parent_id', 'integer')
    // Byte-order collation on PostgreSQL, as SQLite's default: subtree queries use the range
    // path >= 'p/' AND path < 'p0', and listings sort the same on both databases.
    .addColumn('path', 'text', (c) => (isPg ? c.notNull().modifyEnd(sql`collate "C"`) : c.notNull()))
    .addColumn('name', 'text', (c) => (isPg ? c.notNull().modifyEnd(sql`collate "C"`) : c.notNull()))
    .addColumn('kind', 'varchar(4)', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull().defaultTo(0))
    .addColumn('mtime', 'bigint', (c) => c.notNull())
    .addColumn('etag', 'varchar(40)', (c) => c.notNull())
    .addColumn('mimetype', 'varchar(255)', (c) => c.notNull())
    .addColumn('blob_id', 'varchar(64)')
    .addColumn('blob_codec', 'varchar(32)')
    .addColumn('checksum', 'text')
    .addColumn('favorite', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema.createIndex('nodes_owner_path').on('nodes').columns(['owner', 'path']).unique().execute();
  await db.schema.createIndex('nodes_parent_name').on('nodes').columns(['parent_id', 'name']).execute();
  await db.schema.createIndex('nodes_blob').on('nodes').column('blob_id').execute();

  await db.schema.createTable('properties')
    .addColumn('fileid', 'integer', (c) => c.notNull())
    .addColumn('namespace', 'text', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('value', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('properties_pk', ['fileid', 'namespace', 'name'])
    .execute();

  await db.schema.createTable('locks')
    .addColumn('token', 'varchar(100)', (c) => c.primaryKey())
    .addColumn('owner', 'varchar(64)', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addColumn('depth', 'integer', (c) => c.notNull())
    .addColumn('scope', 'varchar(16)', (c) => c.notNull())
    .addColumn('owner_xml', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'bigint', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('locks_owner_path').on('locks').columns(['owner', 'path']).execute();

  await db.schema.createTable('uploads')
    .addColumn('uid', 'varchar(64)', (c) => c.notNull())
    .addColumn('upload_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('destination', 'text')
    .addColumn('total_length', 'bigint')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('uploads_pk', ['uid', 'upload_id'])
    .execute();

  await db.schema.createTable('upload_chunks')
    .addColumn('uid', 'varchar(64)', (c) => c.notNull())
    .addColumn('upload_id', 'varchar(255)', (c) => c.notNull())
    .addColumn('name', 'varchar(255)', (c) => c.notNull())
    .addColumn('blob_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('blob_codec', 'varchar(32)', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('mtime', 'bigint', (c) => c.notNull())
    .addPrimaryKeyConstraint('upload_chunks_pk', ['uid', 'upload_id', 'name'])
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['file_ids', 'upload_chunks', 'uploads', 'locks', 'properties', 'nodes', 'app_passwords', 'app_config', 'user_preferences', 'users']) {
    await db.schema.dropTable(t).ifExists().execute();
  }
}
