import { sql, type Kysely } from 'kysely';

/**
 * Versions and the trash bin (issue #15). Both are metadata only: a version row points at the blob
 * the file had before an overwrite (never a copy), and a trashed subtree is its `nodes` rows moved
 * into `trash_nodes` (same file ids, same blobs, same row seals). Self-contained: only new tables.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const isPg = (db.getExecutor().adapter as { constructor: { name: string } }).constructor.name.startsWith('Postgres');
  const id = (c: any) => (isPg ? c.generatedByDefaultAsIdentity().primaryKey() : c.autoIncrement().primaryKey());
  await db.schema.createTable('file_versions')
    .addColumn('id', 'integer', id)
    .addColumn('fileid', 'integer', (c) => c.notNull())
    .addColumn('owner', 'varchar(64)', (c) => c.notNull())
    // seconds: the content's mtime when it was current (Nextcloud names versions by it)
    .addColumn('version', 'bigint', (c) => c.notNull())
    .addColumn('blob_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('blob_codec', 'varchar(32)', (c) => c.notNull())
    .addColumn('blob_seal', 'text')
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('mimetype', 'varchar(255)', (c) => c.notNull())
    .addColumn('etag', 'varchar(64)', (c) => c.notNull())
    .addColumn('checksum', 'text')
    .addColumn('author', 'varchar(64)')
    .addColumn('label', 'varchar(255)')
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('file_versions_file').on('file_versions').columns(['fileid', 'version']).unique().execute();
  await db.schema.createIndex('file_versions_owner').on('file_versions').columns(['owner', 'version']).execute();
  await db.schema.createIndex('file_versions_blob').on('file_versions').column('blob_id').execute();
  // who wrote each file's current content (becomes the version's author on overwrite)
  await db.schema.createTable('file_authors')
    .addColumn('fileid', 'integer', (c) => c.primaryKey())
    .addColumn('author', 'varchar(64)', (c) => c.notNull())
    .execute();
  await db.schema.createTable('trash_items')
    .addColumn('id', 'integer', id)
    .addColumn('owner', 'varchar(64)', (c) => c.notNull())
    .addColumn('fileid', 'integer', (c) => c.notNull())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('original_location', 'text', (c) => c.notNull())
    .addColumn('deleted_at', 'bigint', (c) => c.notNull())
    .addColumn('deleted_by', 'varchar(64)', (c) => c.notNull())
    .addColumn('kind', 'varchar(8)', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('trash_items_name').on('trash_items').columns(['owner', 'name', 'deleted_at']).unique().execute();
  await db.schema.createIndex('trash_items_deleter').on('trash_items').column('deleted_by').execute();
  await db.schema.createTable('trash_nodes')
    .addColumn('fileid', 'integer', (c) => c.primaryKey())
    .addColumn('item_id', 'integer', (c) => c.notNull())
    .addColumn('owner', 'varchar(64)', (c) => c.notNull())
    .addColumn('parent_id', 'integer')
    // relative to the trashed node ('' for the node itself)
    .addColumn('rel_path', 'text', (c) => (isPg ? c.notNull().modifyEnd(sql`collate "C"`) : c.notNull()))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('kind', 'varchar(8)', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('mtime', 'bigint', (c) => c.notNull())
    .addColumn('etag', 'varchar(64)', (c) => c.notNull())
    .addColumn('mimetype', 'varchar(255)', (c) => c.notNull())
    .addColumn('blob_id', 'varchar(64)')
    .addColumn('blob_codec', 'varchar(32)')
    .addColumn('checksum', 'text')
    .addColumn('favorite', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('blob_seal', 'text')
    .execute();
  await db.schema.createIndex('trash_nodes_item').on('trash_nodes').columns(['item_id', 'rel_path']).unique().execute();
  await db.schema.createIndex('trash_nodes_blob').on('trash_nodes').column('blob_id').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['trash_nodes', 'trash_items', 'file_authors', 'file_versions']) await db.schema.dropTable(t).execute();
}
