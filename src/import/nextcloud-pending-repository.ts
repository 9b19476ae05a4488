import type { Db } from '../db/database.ts';
import { num } from '../db/schema.ts';
import type { Executor } from '../files/node-repository.ts';

/** One blob still in Nextcloud's encrypted form (a file's content, an old version, a trashed file). */
export interface PendingBlob {
  readonly blobId: string;
  /** The file id the blob is bound to (of the file, of the file a version belongs to, of the trashed file). */
  readonly fileId: number;
  readonly owner: string;
  /** The owner's raw Nextcloud share key of the blob's file key (RSA-OAEP of it). */
  readonly shareKey: Buffer;
  /** oc_filecache.encrypted of the blob. */
  readonly ncVersion: number;
  /** Plaintext bytes. */
  readonly size: number;
  readonly error: string | null;
}

/** Per-user totals for ./occ import:nextcloud:status (files, versions and trashed files alike). */
export interface PendingTotals { readonly owner: string; readonly files: number; readonly bytes: number; readonly failed: number }

/** The one owner of `import_pending_blobs` (migration 012). */
export class NcPendingRepository {
  readonly #db: Db;
  constructor(db: Db) { this.#db = db; }

  async insert(ex: Executor, p: Omit<PendingBlob, 'error'>): Promise<void> {
    await ex.insertInto('import_pending_blobs').values({
      blob_id: p.blobId, fileid: p.fileId, owner: p.owner, share_key: p.shareKey.toString('base64'), nc_version: p.ncVersion, size: p.size, error: null,
    }).execute();
  }

  async byBlobId(blobId: string): Promise<PendingBlob | undefined> {
    const r = await this.#db.selectFrom('import_pending_blobs').selectAll().where('blob_id', '=', blobId).executeTakeFirst();
    return r ? toPending(r) : undefined;
  }

  /** The next `limit` pending blobs of `owner` after blob id `after` (keyset paging). */
  async page(owner: string, after: string, limit: number): Promise<PendingBlob[]> {
    const rows = await this.#db.selectFrom('import_pending_blobs').selectAll()
      .where('owner', '=', owner).where('blob_id', '>', after).orderBy('blob_id').limit(limit).execute();
    return rows.map(toPending);
  }

  async hasAny(owner: string): Promise<boolean> {
    return (await this.#db.selectFrom('import_pending_blobs').select('blob_id').where('owner', '=', owner).limit(1).executeTakeFirst()) !== undefined;
  }

  async delete(ex: Executor, blobId: string): Promise<void> {
    await ex.deleteFrom('import_pending_blobs').where('blob_id', '=', blobId).execute();
  }

  async setError(blobId: string, error: string): Promise<void> {
    await this.#db.updateTable('import_pending_blobs').set({ error: error.slice(0, 1000) }).where('blob_id', '=', blobId).execute();
  }

  /**
   * Pending blobs and their plaintext bytes per owner: those a file, version or trash row still
   * names (a pending version that expired, or a trashed file purged, before the owner's login left
   * its row for the conversion to drop).
   */
  async totals(): Promise<PendingTotals[]> {
    const rows = await this.#db.selectFrom('import_pending_blobs as p')
      .where((eb) => eb.or([
        eb.exists(eb.selectFrom('nodes as n').select('n.fileid').whereRef('n.blob_id', '=', 'p.blob_id')),
        eb.exists(eb.selectFrom('file_versions as v').select('v.id').whereRef('v.blob_id', '=', 'p.blob_id')),
        eb.exists(eb.selectFrom('trash_nodes as t').select('t.fileid').whereRef('t.blob_id', '=', 'p.blob_id')),
      ]))
      .select((eb) => ['p.owner', eb.fn.countAll<number>().as('files'), eb.fn.sum<number>('p.size').as('bytes'), eb.fn.count<number>('p.error').as('failed')])
      .groupBy('p.owner').orderBy('p.owner').execute();
    return rows.map((r) => ({ owner: r.owner, files: Number(r.files), bytes: Number(r.bytes ?? 0), failed: Number(r.failed) }));
  }
}

function toPending(r: { blob_id: string; fileid: number; owner: string; share_key: string; nc_version: number; size: number | string | bigint; error: string | null }): PendingBlob {
  return {
    blobId: r.blob_id, fileId: Number(r.fileid), owner: r.owner, shareKey: Buffer.from(r.share_key, 'base64'), ncVersion: Number(r.nc_version),
    size: num(r.size), error: r.error,
  };
}
