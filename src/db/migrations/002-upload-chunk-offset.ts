import type { Kysely } from 'kysely';

/**
 * Chunked uploads: the byte offset a chunk claims (from an `OC-Chunk-Offset` header or an rclone
 * `start-end` name), so that assembly can refuse gaps and overlaps.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('upload_chunks').addColumn('chunk_offset', 'bigint').execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('upload_chunks').dropColumn('chunk_offset').execute();
}
