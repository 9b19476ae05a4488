import { num } from '../db/schema.ts';
import type { Executor } from './node-repository.ts';

/** A chunked upload in progress (`/remote.php/dav/uploads/<uid>/<uploadId>`). */
export interface UploadInfo {
  readonly uid: string;
  readonly uploadId: string;
  /** Target path given at MKCOL (chunking v2), relative to the user's root. */
  readonly destination: string | null;
  /** `OC-Total-Length` given at MKCOL. */
  readonly totalLength: number | null;
  /** Seconds since the epoch. */
  readonly createdAt: number;
}

/** One stored chunk. */
export interface ChunkInfo {
  readonly name: string;
  readonly size: number;
  /** Seconds since the epoch (when it was stored). */
  readonly mtime: number;
  /** Byte offset the chunk claims, when known. */
  readonly offset: number | null;
  readonly blobId: string;
  readonly codec: string;
  /** Row seal of blobId/codec/size (encryption/row-seal.ts). */
  readonly seal?: string | null;
}

type UploadRow = { uid: string; upload_id: string; destination: string | null; total_length: number | string | bigint | null; created_at: number | string | bigint };
type ChunkRow = { name: string; size: number | string | bigint; mtime: number | string | bigint; chunk_offset: number | string | bigint | null; blob_id: string; blob_codec: string; blob_seal?: string | null };

const toUpload = (r: UploadRow): UploadInfo => ({
  uid: r.uid, uploadId: r.upload_id, destination: r.destination,
  totalLength: r.total_length === null ? null : num(r.total_length), createdAt: num(r.created_at),
});
const toChunk = (r: ChunkRow): ChunkInfo => ({
  name: r.name, size: num(r.size), mtime: num(r.mtime), offset: r.chunk_offset === null ? null : num(r.chunk_offset),
  blobId: r.blob_id, codec: r.blob_codec, seal: r.blob_seal ?? null,
});

/**
 * The queries on the `uploads` and `upload_chunks` tables (a chunk row belongs to its upload as a
 * node's properties to the node). Stateless: every method takes the executor.
 */
export class UploadRepository {
  async insert(ex: Executor, u: UploadInfo): Promise<void> {
    await ex.insertInto('uploads').values({
      uid: u.uid, upload_id: u.uploadId, destination: u.destination, total_length: u.totalLength, created_at: u.createdAt,
    }).execute();
  }

  async get(ex: Executor, uid: string, uploadId: string): Promise<UploadInfo | undefined> {
    const r = await ex.selectFrom('uploads').selectAll().where('uid', '=', uid).where('upload_id', '=', uploadId).executeTakeFirst();
    return r ? toUpload(r as UploadRow) : undefined;
  }

  async list(ex: Executor, uid: string): Promise<UploadInfo[]> {
    const rows = await ex.selectFrom('uploads').selectAll().where('uid', '=', uid).orderBy('upload_id').execute();
    return rows.map((r) => toUpload(r as UploadRow));
  }

  /** Uploads created before `cutoff` (seconds). */
  async createdBefore(ex: Executor, cutoff: number): Promise<UploadInfo[]> {
    const rows = await ex.selectFrom('uploads').selectAll().where('created_at', '<', cutoff).execute();
    return rows.map((r) => toUpload(r as UploadRow));
  }

  /** Deletes an upload and its chunk rows (not their blobs). */
  async delete(ex: Executor, uid: string, uploadId: string): Promise<void> {
    await ex.deleteFrom('upload_chunks').where('uid', '=', uid).where('upload_id', '=', uploadId).execute();
    await ex.deleteFrom('uploads').where('uid', '=', uid).where('upload_id', '=', uploadId).execute();
  }

  /** The upload's chunks, in no particular order. */
  async chunks(ex: Executor, uid: string, uploadId: string): Promise<ChunkInfo[]> {
    const rows = await ex.selectFrom('upload_chunks').selectAll().where('uid', '=', uid).where('upload_id', '=', uploadId).execute();
    return rows.map((r) => toChunk(r as ChunkRow));
  }

  async chunk(ex: Executor, uid: string, uploadId: string, name: string): Promise<{ blobId: string; size: number } | undefined> {
    const r = await ex.selectFrom('upload_chunks').select(['blob_id', 'size'])
      .where('uid', '=', uid).where('upload_id', '=', uploadId).where('name', '=', name).executeTakeFirst();
    return r ? { blobId: r.blob_id, size: num(r.size) } : undefined;
  }

  /** Bytes of all of `uid`'s stored chunks. */
  async pendingBytes(ex: Executor, uid: string): Promise<number> {
    const r = await ex.selectFrom('upload_chunks').select((eb) => eb.fn.sum<number | string | null>('size').as('s')).where('uid', '=', uid).executeTakeFirst();
    return num(r?.s ?? 0);
  }

  /** Seconds of the newest chunk of an upload, or null without chunks. */
  async lastChunkAt(ex: Executor, uid: string, uploadId: string): Promise<number | null> {
    const r = await ex.selectFrom('upload_chunks').select((eb) => eb.fn.max('mtime').as('m'))
      .where('uid', '=', uid).where('upload_id', '=', uploadId).executeTakeFirst();
    return r?.m === null || r?.m === undefined ? null : num(r.m as number);
  }

  /** Stores a chunk row, replacing the row of the same name when `replace`. */
  async putChunk(ex: Executor, uid: string, uploadId: string, c: ChunkInfo, replace: boolean): Promise<void> {
    const values = { blob_id: c.blobId, blob_codec: c.codec, size: c.size, mtime: c.mtime, chunk_offset: c.offset, blob_seal: c.seal ?? null };
    if (replace) {
      await ex.updateTable('upload_chunks').set(values).where('uid', '=', uid).where('upload_id', '=', uploadId).where('name', '=', c.name).execute();
    } else {
      await ex.insertInto('upload_chunks').values({ uid, upload_id: uploadId, name: c.name, ...values }).execute();
    }
  }

  async deleteChunk(ex: Executor, uid: string, uploadId: string, name: string): Promise<void> {
    await ex.deleteFrom('upload_chunks').where('uid', '=', uid).where('upload_id', '=', uploadId).where('name', '=', name).execute();
  }

  /** Blobs of chunk rows whose upload row is gone. */
  async orphanChunkBlobs(ex: Executor): Promise<string[]> {
    const rows = await ex.selectFrom('upload_chunks').select('blob_id')
      .where(({ not, exists, selectFrom }) => not(exists(selectFrom('uploads').select('uploads.upload_id')
        .whereRef('uploads.uid', '=', 'upload_chunks.uid').whereRef('uploads.upload_id', '=', 'upload_chunks.upload_id'))))
      .execute();
    return rows.map((r) => r.blob_id);
  }

  async deleteChunkOfBlob(ex: Executor, blobId: string): Promise<void> {
    await ex.deleteFrom('upload_chunks').where('blob_id', '=', blobId).execute();
  }

  /** Which of `blobIds` a chunk row names. */
  async referencedBlobs(ex: Executor, blobIds: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    if (blobIds.length === 0) return out;
    for (const r of await ex.selectFrom('upload_chunks').select('blob_id').where('blob_id', 'in', blobIds).execute()) out.add(r.blob_id);
    return out;
  }
}
