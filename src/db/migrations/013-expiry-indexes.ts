import type { Kysely } from 'kysely';

/**
 * Issue #15, expiry with flat memory: it pages through a user's versions file by file and through
 * their trash oldest first. These indexes serve those keyset pages (without them each page scans
 * and sorts all of the user's rows). `if not exists`: a test rolling the schema back to 011 runs it again.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex('file_versions_owner_file').ifNotExists().on('file_versions').columns(['owner', 'fileid', 'version']).execute();
  await db.schema.createIndex('trash_items_owner_age').ifNotExists().on('trash_items').columns(['owner', 'deleted_at', 'id']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('trash_items_owner_age').on('trash_items').execute();
  await db.schema.dropIndex('file_versions_owner_file').on('file_versions').execute();
}
