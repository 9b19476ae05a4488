import type { Kysely } from 'kysely';

/**
 * Notifications (Nextcloud's notifications app: one row per message to one user, deleted when the
 * user dismisses it) and the activity stream (Nextcloud's activity app: one row per file event per
 * user who sees it, expired after a retention). Self-contained: only new tables.
 */
export async function up(db: Kysely<any>): Promise<void> {
  const isPg = (db.getExecutor().adapter as { constructor: { name: string } }).constructor.name.startsWith('Postgres');
  const id = (c: any) => (isPg ? c.generatedByDefaultAsIdentity().primaryKey() : c.autoIncrement().primaryKey());
  await db.schema.createTable('notifications')
    .addColumn('id', 'integer', id)
    .addColumn('uid', 'varchar(64)', (c) => c.notNull())
    .addColumn('app', 'varchar(32)', (c) => c.notNull())
    .addColumn('object_type', 'varchar(64)', (c) => c.notNull())
    .addColumn('object_id', 'varchar(64)', (c) => c.notNull())
    // who caused it (a user id, '' for the server): the subject names them
    .addColumn('actor', 'varchar(64)', (c) => c.notNull())
    .addColumn('subject', 'varchar(255)', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('link', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('notifications_uid').on('notifications').columns(['uid', 'id']).execute();
  await db.schema.createTable('activities')
    .addColumn('id', 'integer', id)
    // the user whose stream it is in (Nextcloud's affecteduser)
    .addColumn('uid', 'varchar(64)', (c) => c.notNull())
    // who did it (a user id; '' for a public link or the server)
    .addColumn('actor', 'varchar(64)', (c) => c.notNull())
    .addColumn('app', 'varchar(32)', (c) => c.notNull())
    .addColumn('type', 'varchar(32)', (c) => c.notNull())
    .addColumn('object_type', 'varchar(32)', (c) => c.notNull())
    .addColumn('object_id', 'bigint', (c) => c.notNull())
    // the path as `uid` sees it ('/Shared/a.txt'), when the event happened
    .addColumn('object_name', 'text', (c) => c.notNull())
    // the other party of a share event (recipient user or group), a move's old path (as `uid` saw it), else ''
    .addColumn('other', 'text', (c) => c.notNull())
    .addColumn('created_at', 'bigint', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('activities_uid').on('activities').columns(['uid', 'id']).execute();
  await db.schema.createIndex('activities_object').on('activities').columns(['uid', 'object_type', 'object_id']).execute();
  await db.schema.createIndex('activities_time').on('activities').column('created_at').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('activities').execute();
  await db.schema.dropTable('notifications').execute();
}
