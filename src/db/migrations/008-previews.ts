import type { Kysely } from 'kysely';

/**
 * Preview cache: one row per stored thumbnail. The thumbnail itself is a blob in the content store
 * (encrypted like the file when encryption is on); the row ties it to the file id and to the file
 * version (`source_blob_id`) it was made from, so that a new version never serves an old preview
 * and the garbage collector keeps only previews of live versions. Previews are not nodes: they
 * count in no quota and appear in no listing.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('previews')
    .addColumn('blob_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('fileid', 'bigint', (c) => c.notNull())
    .addColumn('source_blob_id', 'varchar(64)', (c) => c.notNull())
    .addColumn('spec', 'varchar(32)', (c) => c.notNull())
    .addColumn('codec', 'varchar(16)', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    .addColumn('mimetype', 'varchar(32)', (c) => c.notNull())
    .addColumn('seal', 'varchar(64)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('previews_source').on('previews').column('source_blob_id').execute();
  await db.schema.createIndex('previews_fileid').on('previews').column('fileid').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('previews').execute();
}
