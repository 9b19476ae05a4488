import { sql, type Kysely } from 'kysely';

/**
 * Sharing: groups and their members, shares (user, group, public link) addressed by stable file id,
 * and share mounts (where a received share appears in a recipient's root, one row per recipient).
 */
export async function up(db: Kysely<any>): Promise<void> {
  const isPg = (db.getExecutor().adapter as { constructor: { name: string } }).constructor.name.startsWith('Postgres');
  const autoId = (col: any) => (isPg ? col.generatedByDefaultAsIdentity().primaryKey() : col.autoIncrement().primaryKey());
  const textC = (c: any) => (isPg ? c.notNull().modifyEnd(sql`collate "C"`) : c.notNull());

  await db.schema.createTable('groups')
    .addColumn('gid', 'varchar(64)', (c) => c.primaryKey())
    .addColumn('display_name', 'varchar(255)', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();

  await db.schema.createTable('group_members')
    .addColumn('gid', 'varchar(64)', (c) => c.notNull())
    .addColumn('uid', 'varchar(64)', (c) => c.notNull())
    .addPrimaryKeyConstraint('group_members_pk', ['gid', 'uid'])
    .execute();
  await db.schema.createIndex('group_members_uid').on('group_members').column('uid').execute();

  await db.schema.createTable('shares')
    .addColumn('id', 'integer', autoId)
    .addColumn('share_type', 'integer', (c) => c.notNull())
    // who owns the file (uid_file_owner) and who created the share (uid_owner; differs for reshares)
    .addColumn('owner', 'varchar(64)', (c) => c.notNull())
    .addColumn('initiator', 'varchar(64)', (c) => c.notNull())
    .addColumn('file_id', 'integer', (c) => c.notNull())
    .addColumn('item_type', 'varchar(6)', (c) => c.notNull())
    .addColumn('share_with', 'varchar(255)')
    .addColumn('permissions', 'integer', (c) => c.notNull())
    .addColumn('token', 'varchar(64)', (c) => c.unique())
    .addColumn('password_hash', 'varchar(255)')
    .addColumn('expiration', 'bigint')
    .addColumn('stime', 'bigint', (c) => c.notNull())
    .addColumn('file_target', 'text', textC)
    .addColumn('note', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('label', 'varchar(255)', (c) => c.notNull().defaultTo(''))
    .execute();
  await db.schema.createIndex('shares_file').on('shares').columns(['file_id']).execute();
  await db.schema.createIndex('shares_owner').on('shares').columns(['owner']).execute();
  await db.schema.createIndex('shares_initiator').on('shares').columns(['initiator']).execute();
  await db.schema.createIndex('shares_with').on('shares').columns(['share_type', 'share_with']).execute();

  await db.schema.createTable('share_mounts')
    .addColumn('share_id', 'integer', (c) => c.notNull())
    .addColumn('uid', 'varchar(64)', (c) => c.notNull())
    .addColumn('file_target', 'text', textC)
    // a group member who removed the share from their own tree keeps a hidden row
    .addColumn('hidden', 'integer', (c) => c.notNull().defaultTo(0))
    .addPrimaryKeyConstraint('share_mounts_pk', ['share_id', 'uid'])
    .execute();
  await db.schema.createIndex('share_mounts_uid').on('share_mounts').columns(['uid', 'file_target']).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ['share_mounts', 'shares', 'group_members', 'groups']) await db.schema.dropTable(t).ifExists().execute();
}
