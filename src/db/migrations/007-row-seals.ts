import type { Kysely } from 'kysely';

import type { RowSealer } from '../row-sealer.ts';

/**
 * Row seals: `nodes.blob_seal` and `upload_chunks.blob_seal`, an HMAC of what the row says about
 * its blob under a key from the instance secret. The rows that exist are sealed here, once, in the
 * migration that adds the column: a seal is never written for a row that already had its column,
 * so emptying a seal (or deleting this migration's record: the column exists, the migration fails
 * and the server does not start) cannot get an altered row sealed later.
 */
export function rowSealsMigration(sealer: RowSealer | undefined) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      await db.schema.alterTable('nodes').addColumn('blob_seal', 'varchar(64)').execute();
      await db.schema.alterTable('upload_chunks').addColumn('blob_seal', 'varchar(64)').execute();
      if (!sealer) return;
      let after = 0;
      for (;;) {
        const rows = await db.selectFrom('nodes').select(['fileid', 'blob_id', 'blob_codec', 'size'])
          .where('blob_id', 'is not', null).where('fileid', '>', after).orderBy('fileid').limit(1000).execute();
        if (rows.length === 0) break;
        for (const r of rows) {
          const seal = sealer.node(Number(r.fileid), r.blob_id, r.blob_codec ?? 'plain', Number(r.size));
          await db.updateTable('nodes').set({ blob_seal: seal }).where('fileid', '=', r.fileid).execute();
        }
        after = Number(rows[rows.length - 1].fileid);
      }
      const chunks = await db.selectFrom('upload_chunks').select(['uid', 'upload_id', 'name', 'blob_id', 'blob_codec', 'size']).execute();
      for (const c of chunks) {
        const seal = sealer.chunk(`${c.uid}/${c.upload_id}/${c.name}`, c.blob_id, c.blob_codec, Number(c.size));
        await db.updateTable('upload_chunks').set({ blob_seal: seal })
          .where('uid', '=', c.uid).where('upload_id', '=', c.upload_id).where('name', '=', c.name).execute();
      }
    },
    async down(db: Kysely<any>): Promise<void> {
      await db.schema.alterTable('upload_chunks').dropColumn('blob_seal').execute();
      await db.schema.alterTable('nodes').dropColumn('blob_seal').execute();
    },
  };
}
