import type { Kysely } from 'kysely';

/**
 * A recipient who deletes a file inside someone else's share sees it in their own trash bin as well
 * as the owner does (as in Nextcloud). Deleting it there for good, or emptying their bin, removes it
 * from their view only: the owner's item stays, so the flag sits on the owner's row.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('trash_items').addColumn('deleter_dismissed', 'integer', (c) => c.notNull().defaultTo(0)).execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('trash_items').dropColumn('deleter_dismissed').execute();
}
