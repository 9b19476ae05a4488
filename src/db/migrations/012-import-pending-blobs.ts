import { sql, type Kysely } from 'kysely';

/**
 * Issue #16, second step: what is kept in Nextcloud's encrypted form is a blob, not a file. Old
 * versions and trashed files of a user without recovery are kept pending too, and an overwrite (or
 * a delete) of a pending file turns its blob into a version (trash node) that must stay readable
 * and be converted: one file id then has several pending blobs, each with its own `encrypted`
 * counter. So the pending rows are keyed by blob id (the blob a node, version or trash node names),
 * with the file id the blob is bound to and its plaintext size (status totals). Rows of 011 move
 * over to the blob they describe.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('import_pending_blobs')
    .addColumn('blob_id', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('fileid', 'integer', (c) => c.notNull())
    .addColumn('owner', 'varchar(64)', (c) => c.notNull())
    // base64 of the raw share key (512 bytes for RSA-4096)
    .addColumn('share_key', 'text', (c) => c.notNull())
    // oc_filecache.encrypted of the blob: the write counter signed into every block
    .addColumn('nc_version', 'integer', (c) => c.notNull())
    .addColumn('size', 'bigint', (c) => c.notNull())
    // the last conversion failure (a block whose signature fails), null while none
    .addColumn('error', 'text')
    .execute();
  await db.schema.createIndex('import_pending_blobs_owner').on('import_pending_blobs').columns(['owner', 'blob_id']).execute();
  // Under 011 only a file's imported content was pending, so the one `nc-pending` blob bound to a
  // pending row's file id is that content, wherever an overwrite (a version) or a delete (the
  // trash) has put it since.
  for (const holder of ['nodes', 'file_versions', 'trash_nodes']) {
    await sql`insert into import_pending_blobs (blob_id, fileid, owner, share_key, nc_version, size, error)
      select h.blob_id, p.fileid, p.owner, p.share_key, p.nc_version, h.size, p.error
      from import_pending_files p join ${sql.table(holder)} h on h.fileid = p.fileid
      where h.blob_codec = 'nc-pending' and h.blob_id is not null`.execute(db);
  }
  await db.schema.dropTable('import_pending_files').execute();
}

/** Back to 011's table: only the pending blobs the files' rows name fit it (at most one per file). */
export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('import_pending_files')
    .addColumn('fileid', 'integer', (c) => c.primaryKey())
    .addColumn('owner', 'varchar(64)', (c) => c.notNull())
    .addColumn('share_key', 'text', (c) => c.notNull())
    .addColumn('nc_version', 'integer', (c) => c.notNull())
    .addColumn('error', 'text')
    .execute();
  await db.schema.createIndex('import_pending_files_owner').on('import_pending_files').columns(['owner', 'fileid']).execute();
  await sql`insert into import_pending_files (fileid, owner, share_key, nc_version, error)
    select p.fileid, p.owner, p.share_key, p.nc_version, p.error
    from import_pending_blobs p join nodes n on n.blob_id = p.blob_id`.execute(db);
  await db.schema.dropTable('import_pending_blobs').execute();
}
