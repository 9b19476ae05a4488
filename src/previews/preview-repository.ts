import type { Db } from '../db/database.ts';
import { num } from '../db/schema.ts';
import { QueryTemplate } from '../db/query-template.ts';

const BATCH = 500;

/** Params: source blob ids (an overwrite asks for one: the hot path of a small PUT). */
const BLOBS_OF_SOURCES = new QueryTemplate<{ blob_id: string }>((db, ids) => db
  .selectFrom('previews').select('blob_id').where('source_blob_id', 'in', ids as string[]));

/** A `previews` row: one cached preview of one file version. */
export interface PreviewRow {
  readonly blobId: string;
  readonly fileId: number;
  readonly sourceBlobId: string;
  readonly spec: string;
  readonly codec: string;
  readonly size: number;
  readonly mimetype: string;
  readonly seal: string;
}

/** The `previews` table: which preview blob belongs to which file version. */
export class PreviewRepository {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  /** The row of preview blob `blobId` made from version `sourceBlobId` of `fileId`, or undefined. */
  async find(blobId: string, fileId: number, sourceBlobId: string): Promise<PreviewRow | undefined> {
    const r = await this.#db.selectFrom('previews').selectAll().where('blob_id', '=', blobId)
      .where('fileid', '=', fileId).where('source_blob_id', '=', sourceBlobId).executeTakeFirst();
    return r && {
      blobId: r.blob_id, fileId: num(r.fileid), sourceBlobId: r.source_blob_id, spec: r.spec, codec: r.codec,
      size: num(r.size), mimetype: r.mimetype, seal: r.seal,
    };
  }

  /** Inserts a row; a row for the same preview blob already there wins. */
  async insert(r: PreviewRow, createdAt: number): Promise<void> {
    await this.#db.insertInto('previews').values({
      blob_id: r.blobId, fileid: r.fileId, source_blob_id: r.sourceBlobId, spec: r.spec, codec: r.codec, size: r.size,
      mimetype: r.mimetype, seal: r.seal, created_at: createdAt,
    }).onConflict((oc) => oc.column('blob_id').doNothing()).execute();
  }

  /** Preview blobs made from any of these versions. */
  async blobsOfSources(sourceBlobIds: readonly string[]): Promise<string[]> {
    if (sourceBlobIds.length === 0) return [];
    if (sourceBlobIds.length > 1) {
      return (await this.#db.selectFrom('previews').select('blob_id').where('source_blob_id', 'in', sourceBlobIds).execute()).map((r) => r.blob_id);
    }
    return (await BLOBS_OF_SOURCES.execute(this.#db, sourceBlobIds)).rows.map((r) => r.blob_id);
  }

  /** Preview blobs of `fileId` made from another version than `currentBlobId` (all when null). */
  async staleBlobsOf(fileId: number, currentBlobId: string | null): Promise<string[]> {
    let q = this.#db.selectFrom('previews').select('blob_id').where('fileid', '=', fileId);
    if (currentBlobId) q = q.where('source_blob_id', '!=', currentBlobId);
    return (await q.execute()).map((r) => r.blob_id);
  }

  /**
   * Preview blobs whose version no file references any more; `referenced` tells which versions are
   * still referenced (the node repository owns that question).
   */
  async orphanBlobs(referenced: (sourceBlobIds: string[]) => Promise<Set<string>>): Promise<string[]> {
    const sources = (await this.#db.selectFrom('previews').select('source_blob_id').distinct().execute()).map((r) => r.source_blob_id);
    const out: string[] = [];
    for (let i = 0; i < sources.length; i += BATCH) {
      const part = sources.slice(i, i + BATCH);
      const live = await referenced(part);
      out.push(...await this.blobsOfSources(part.filter((b) => !live.has(b))));
    }
    return out;
  }

  /** Which of these blobs are preview blobs (for the garbage collector). */
  async referencedBlobs(blobIds: readonly string[]): Promise<Set<string>> {
    if (blobIds.length === 0) return new Set();
    return new Set((await this.#db.selectFrom('previews').select('blob_id').where('blob_id', 'in', blobIds).execute()).map((r) => r.blob_id));
  }

  /** Deletes the rows of these preview blobs. */
  async delete(blobIds: readonly string[]): Promise<void> {
    if (blobIds.length === 0) return;
    await this.#db.deleteFrom('previews').where('blob_id', 'in', blobIds).execute();
  }
}
