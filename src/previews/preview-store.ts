import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Actor } from '../actor.ts';
import type { Db } from '../db/database.ts';
import type { RowSealer } from '../db/row-sealer.ts';
import { AlreadyExistsError, CryptoError, ForbiddenError, NotFoundError } from '../errors.ts';
import type { Logger } from '../logger.ts';
import { readAll, type BlobContext, type BlobStore } from '../storage/blob-store.ts';
import { NodeRepository } from '../files/node-repository.ts';
import { PreviewRepository } from './preview-repository.ts';

/** The file version a preview is made from. */
export interface PreviewSource {
  readonly fileId: number;
  readonly owner: string;
  /** The version's content blob. */
  readonly blobId: string;
}

/** A cached preview's bytes. */
export interface CachedPreview {
  readonly data: Buffer;
  readonly mimetype: string;
}

/**
 * The blob id of the preview `spec` of a version: derived from the version's blob id, so that the
 * encryption header (which binds file id and blob id) also binds the preview to that version, and a
 * preview of an older version can never be read as one of the current version.
 */
export function previewBlobId(sourceBlobId: string, spec: string): string {
  return createHash('sha256').update('coffer preview\0').update(sourceBlobId).update('\0').update(spec).digest('hex').slice(0, 32);
}

/** The name a preview row is sealed under (RowSealer.chunk; contains no `/`, unlike upload chunks). */
function sealName(src: PreviewSource, spec: string): string {
  return `preview:${src.fileId}:${src.blobId}:${spec}`;
}

const BATCH = 500;

/**
 * Cached previews: each one a blob in the content store (so the encryption decorator encrypts it
 * with the same keys as the file — the owner's, or the share key in per-user-key mode — and binds
 * it to file id and blob id) and a `previews` row saying which version and size it is, sealed like
 * file rows so that a plain preview is served only for a row nobody altered.
 */
export class PreviewStore {
  readonly #db: Db;
  readonly #rows: PreviewRepository;
  readonly #nodes: NodeRepository;
  readonly #blobs: BlobStore;
  readonly #sealer: RowSealer | undefined;
  readonly #log: Logger;

  constructor(deps: { db: Db; blobs: BlobStore; sealer?: RowSealer; log: Logger }) {
    this.#db = deps.db;
    this.#rows = new PreviewRepository(deps.db);
    this.#nodes = new NodeRepository(deps.db);
    this.#blobs = deps.blobs;
    this.#sealer = deps.sealer;
    this.#log = deps.log;
  }

  #ctx(src: PreviewSource, actor: Actor): BlobContext {
    return { fileId: src.fileId, owner: src.owner, actor };
  }

  /**
   * The cached preview `spec` of the version, or undefined. A row whose blob is missing, fails
   * authentication (reported to the audit log by the store) or is not open to this reader (per-user
   * keys: made before the file moved into a share, under keys the sharee has not) is dropped, so
   * that it is made again from the file, read with the reader's own grant.
   * @throws database errors; CryptoError/NotFoundError when the reader's keys are unusable
   */
  async get(actor: Actor, src: PreviewSource, spec: string): Promise<CachedPreview | undefined> {
    const id = previewBlobId(src.blobId, spec);
    const row = await this.#rows.find(id, src.fileId, src.blobId);
    if (!row) return undefined;
    const ctx: BlobContext = { ...this.#ctx(src, actor), row: { size: row.size, seal: row.seal, chunk: sealName(src, spec) } };
    try {
      const data = await readAll(await this.#blobs.get(id, row.codec, ctx));
      return { data, mimetype: row.mimetype };
    } catch (err) {
      if (!(err instanceof NotFoundError) && !(err instanceof CryptoError) && !(err instanceof ForbiddenError)) throw err;
      this.#log.warn({ err, fileId: src.fileId }, 'cached preview unreadable; dropping it');
      await this.#drop([id]);
      return undefined;
    }
  }

  /**
   * Stores a preview of the version (first the blob, durably, then its row). A concurrent request
   * that stored the same preview first wins; ours is then not stored.
   * @throws storage and database errors; CryptoError/NotFoundError when keys are unusable
   */
  async put(actor: Actor, src: PreviewSource, spec: string, preview: CachedPreview): Promise<void> {
    const id = previewBlobId(src.blobId, spec);
    let res;
    try {
      res = await this.#blobs.put(id, Readable.from([preview.data]), this.#ctx(src, actor));
    } catch (err) {
      if (err instanceof AlreadyExistsError) return;
      throw err;
    }
    const seal = this.#sealer?.chunk(sealName(src, spec), id, res.codec, res.size) ?? '';
    await this.#rows.insert({
      blobId: id, fileId: src.fileId, sourceBlobId: src.blobId, spec, codec: res.codec, size: res.size, mimetype: preview.mimetype, seal,
    }, Math.floor(Date.now() / 1000));
  }

  /** Deletes the previews of these versions (their content blobs were released). */
  async dropSources(sourceBlobIds: readonly string[]): Promise<void> {
    for (let i = 0; i < sourceBlobIds.length; i += BATCH) {
      const part = sourceBlobIds.slice(i, i + BATCH);
      await this.#drop(await this.#rows.blobsOfSources(part));
    }
  }

  /** Deletes the previews of a file's other versions than `currentBlobId`. */
  async dropStale(fileId: number, currentBlobId: string | null): Promise<void> {
    await this.#drop(await this.#rows.staleBlobsOf(fileId, currentBlobId));
  }

  /**
   * Deletes at once the previews of versions no file row references any more (encrypt-all and
   * decrypt-all replace every version's blob: the previews of the old ones, plain or encrypted,
   * must not wait for the garbage collector's grace period). Returns how many were deleted.
   */
  async purgeOrphans(): Promise<number> {
    const gone = await this.#rows.orphanBlobs((ids) => this.#nodes.referencedBlobs(this.#db, ids));
    await this.#drop(gone);
    return gone.length;
  }

  /** Rows first (no row may point at a deleted blob), then blobs; a failed blob delete is left to the collector. */
  async #drop(ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#rows.delete(ids);
    for (const id of ids) {
      await this.#blobs.delete(id).catch((err: unknown) => this.#log.warn({ err, blobId: id }, 'could not delete preview blob; garbage collection will'));
    }
  }
}
