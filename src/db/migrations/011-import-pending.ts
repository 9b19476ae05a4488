import type { Kysely } from 'kysely';

/**
 * Files imported from a Nextcloud with per-user keys whose owner's login password the importer did
 * not have (issue #16): their content is kept in Nextcloud's encrypted form until the owner's first
 * login, with the owner's share key of each file (the file key RSA-encrypted to the owner's
 * Nextcloud key pair). A row goes when its file is converted (or deleted). Self-contained: one new table.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createTable('import_pending_files')
    .addColumn('fileid', 'integer', (c) => c.primaryKey())
    .addColumn('owner', 'varchar(64)', (c) => c.notNull())
    // base64 of the raw share key (512 bytes for RSA-4096)
    .addColumn('share_key', 'text', (c) => c.notNull())
    // oc_filecache.encrypted: the write counter signed into every block
    .addColumn('nc_version', 'integer', (c) => c.notNull())
    // the last conversion failure (a block whose signature fails), null while none
    .addColumn('error', 'text')
    .execute();
  await db.schema.createIndex('import_pending_files_owner').on('import_pending_files').columns(['owner', 'fileid']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('import_pending_files').execute();
}
