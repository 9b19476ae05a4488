import type { Kysely } from 'kysely';

import type { RowSealer } from '../row-sealer.ts';

/**
 * Version rows get seals of their own domain (RowSealer.version; docs/FORMAT.md, "Versions and
 * trash items"): until now a version kept its file row's seal, so whoever could write the database
 * could copy a version's fields into the file row and roll the file back with every check passing.
 * A row whose seal matches is sealed anew as a version; one that does not keeps its seal and stays
 * refused (re-sealing it would launder an altered row).
 */
type Seal = (fileId: number, blobId: string, codec: string, size: number) => string;

/** Seals every version row whose seal is `from`'s as `to`'s, a page at a time; other rows keep theirs. */
async function reseal(db: Kysely<any>, sealer: RowSealer, from: Seal, to: Seal): Promise<void> {
  let after = 0;
  for (;;) {
    const rows = await db.selectFrom('file_versions').select(['id', 'fileid', 'blob_id', 'blob_codec', 'blob_seal', 'size'])
      .where('id', '>', after).orderBy('id').limit(1000).execute();
    if (rows.length === 0) break;
    for (const r of rows) {
      const fields = [Number(r.fileid), r.blob_id as string, (r.blob_codec ?? 'plain') as string, Number(r.size)] as const;
      if (!sealer.matches(from(...fields), r.blob_seal)) continue;
      await db.updateTable('file_versions').set({ blob_seal: to(...fields) }).where('id', '=', r.id).execute();
    }
    after = Number(rows[rows.length - 1].id);
  }
}

export function versionSealsMigration(sealer: RowSealer | undefined) {
  return {
    async up(db: Kysely<any>): Promise<void> {
      if (sealer) await reseal(db, sealer, (...f) => sealer.node(...f), (...f) => sealer.version(...f));
    },
    async down(db: Kysely<any>): Promise<void> {
      if (sealer) await reseal(db, sealer, (...f) => sealer.version(...f), (...f) => sealer.node(...f));
    },
  };
}
