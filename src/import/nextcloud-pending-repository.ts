import type { Db } from '../db/database.ts';
import type { Executor } from '../files/node-repository.ts';

/** One file still in Nextcloud's encrypted form. */
export interface PendingFile {
  readonly fileId: number;
  readonly owner: string;
  /** The owner's raw Nextcloud share key of the file (RSA-OAEP of the file key). */
  readonly shareKey: Buffer;
  /** oc_filecache.encrypted of the file. */
  readonly ncVersion: number;
  readonly error: string | null;
}

/** Per-user totals for ./occ import:nextcloud:status. */
export interface PendingTotals { readonly owner: string; readonly files: number; readonly bytes: number; readonly failed: number }

/** The one owner of `import_pending_files` (migration 011). */
export class NcPendingRepository {
  readonly #db: Db;
  constructor(db: Db) { this.#db = db; }

  async insert(ex: Executor, p: Omit<PendingFile, 'error'>): Promise<void> {
    await ex.insertInto('import_pending_files')
      .values({ fileid: p.fileId, owner: p.owner, share_key: p.shareKey.toString('base64'), nc_version: p.ncVersion, error: null }).execute();
  }

  async byFileId(fileId: number): Promise<PendingFile | undefined> {
    const r = await this.#db.selectFrom('import_pending_files').selectAll().where('fileid', '=', fileId).executeTakeFirst();
    return r ? toPending(r) : undefined;
  }

  /** The next `limit` pending files of `owner` after file id `after` (keyset paging). */
  async page(owner: string, after: number, limit: number): Promise<PendingFile[]> {
    const rows = await this.#db.selectFrom('import_pending_files').selectAll()
      .where('owner', '=', owner).where('fileid', '>', after).orderBy('fileid').limit(limit).execute();
    return rows.map(toPending);
  }

  async hasAny(owner: string): Promise<boolean> {
    return (await this.#db.selectFrom('import_pending_files').select('fileid').where('owner', '=', owner).limit(1).executeTakeFirst()) !== undefined;
  }

  async delete(ex: Executor, fileId: number): Promise<void> {
    await ex.deleteFrom('import_pending_files').where('fileid', '=', fileId).execute();
  }

  async setError(fileId: number, error: string): Promise<void> {
    await this.#db.updateTable('import_pending_files').set({ error: error.slice(0, 1000) }).where('fileid', '=', fileId).execute();
  }

  /** Pending files and plaintext bytes per owner (sizes from the files' rows). */
  async totals(): Promise<PendingTotals[]> {
    const rows = await this.#db.selectFrom('import_pending_files as p').leftJoin('nodes as n', 'n.fileid', 'p.fileid')
      .select((eb) => ['p.owner', eb.fn.countAll<number>().as('files'), eb.fn.sum<number>('n.size').as('bytes'), eb.fn.count<number>('p.error').as('failed')])
      .groupBy('p.owner').orderBy('p.owner').execute();
    return rows.map((r) => ({ owner: r.owner, files: Number(r.files), bytes: Number(r.bytes ?? 0), failed: Number(r.failed) }));
  }
}

function toPending(r: { fileid: number; owner: string; share_key: string; nc_version: number; error: string | null }): PendingFile {
  return { fileId: Number(r.fileid), owner: r.owner, shareKey: Buffer.from(r.share_key, 'base64'), ncVersion: Number(r.nc_version), error: r.error };
}
