import type { Db } from '../db/database.ts';
import { num } from '../db/schema.ts';
import { AppError } from '../errors.ts';
import { PLAIN_CODEC, type BlobStore } from '../storage/blob-store.ts';
import { newBlobId } from '../storage/local-blob-store.ts';
import { ConvertJournal } from './convert-journal.ts';
import type { EncryptedBlobStore } from './encrypted-blob-store.ts';
import type { ConvertibleNode, EncryptionService } from './encryption-service.ts';
import { runPool } from './task-pool.ts';

export type ConvertTarget = 'encrypt' | 'decrypt';

export interface ConvertProgress {
  /** Files settled so far (converted + skipped + failed). */
  readonly done: number;
  readonly total: number;
  /** Plaintext bytes of the converted files. */
  readonly bytesDone: number;
  readonly bytesTotal: number;
  readonly elapsedMs: number;
}

export interface ConvertFailure {
  readonly fileid: number;
  readonly owner: string;
  /** Path in the owner's tree. */
  readonly path: string;
  readonly reason: string;
  /** The failure is an integrity error (CryptoError). */
  readonly integrity: boolean;
}

export interface ConvertSummary {
  readonly target: ConvertTarget;
  readonly converted: number;
  /** Files changed or deleted by someone else during the run (their new content is already in the target form or will be). */
  readonly skipped: number;
  readonly failed: readonly ConvertFailure[];
  readonly bytes: number;
  readonly seconds: number;
  /** Unfinished conversions of a killed earlier run that were cleaned up first. */
  readonly recovered: number;
  /** Whether the run stopped early on request (SIGINT). */
  readonly interrupted: boolean;
}

export interface BulkConvertOptions {
  db: Db;
  encryption: EncryptionService;
  /** The encryption decorator (app.blobs). */
  blobs: EncryptedBlobStore;
  /** The store underneath (app.rawBlobs). */
  rawBlobs: BlobStore;
  /** Where the lock and crash journal live (the data directory). */
  workDir: string;
}

export interface RunOptions {
  target: ConvertTarget;
  /** Only this user's files. */
  owner?: string;
  /** Concurrent conversions (default 4). */
  concurrency?: number;
  onProgress?: (p: ConvertProgress) => void;
  /** Called once the lock is held and a killed earlier run is cleaned up (`recovered` unfinished files). */
  onStart?: (info: { recovered: number; files: number; bytes: number }) => void;
  /** Polled between files: true stops dispatching new files (in-flight ones finish). */
  shouldStop?: () => boolean;
}

/**
 * encrypt-all / decrypt-all: converts every `plain` (or encrypted) blob with a small worker pool.
 * Each file goes new blob → row switch guarded by the old blob id → old blob deleted, with a crash
 * journal around it (ConvertJournal), so a run killed at any instant and started again finishes
 * with every file intact, none half-done and no orphaned blobs. Works while the server runs: a file
 * written meanwhile is skipped (its new version is written in the current mode).
 */
export class BulkConverter {
  readonly #o: BulkConvertOptions;
  constructor(o: BulkConvertOptions) { this.#o = o; }

  /** Files and bytes still to convert. */
  async pending(target: ConvertTarget, owner?: string): Promise<{ files: number; bytes: number }> {
    let q = this.#o.db.selectFrom('nodes')
      .select((eb) => [eb.fn.countAll().as('n'), eb.fn.sum('size').as('bytes')])
      .where('kind', '=', 'file').where('blob_id', 'is not', null);
    q = target === 'encrypt' ? q.where('blob_codec', '=', PLAIN_CODEC) : q.where('blob_codec', '!=', PLAIN_CODEC);
    if (owner) q = q.where('owner', '=', owner);
    const r = await q.executeTakeFirst();
    return { files: num((r?.n ?? 0) as number), bytes: num((r?.bytes ?? 0) as number) };
  }

  /**
   * Converts every pending file. Failures of single files (damaged blobs) are collected, not thrown.
   * @throws ConflictError when another conversion runs; database errors.
   */
  async run(opts: RunOptions): Promise<ConvertSummary> {
    const { target } = opts;
    const journal = new ConvertJournal({ dir: this.#o.workDir, db: this.#o.db, rawBlobs: this.#o.rawBlobs });
    await journal.lock();
    let clean = false;
    try {
      const recovered = await journal.recover();
      const start = Date.now();
      const todo = await this.pending(target, opts.owner);
      opts.onStart?.({ recovered, files: todo.files, bytes: todo.bytes });
      let total = todo.files;
      let bytesTotal = todo.bytes;
      let done = 0, converted = 0, skipped = 0, bytes = 0;
      const failed: ConvertFailure[] = [];
      let stopped = false;
      const shouldStop = () => (stopped ||= opts.shouldStop?.() ?? false);
      const report = () => opts.onProgress?.({ done, total, bytesDone: bytes, bytesTotal, elapsedMs: Date.now() - start });
      report();
      await runPool(this.#pages(target, opts.owner), opts.concurrency ?? 4, async (node) => {
        try {
          const r = await this.#convertOne(node, target, journal);
          if (r === 'converted') { converted++; bytes += node.size; } else skipped++;
        } catch (err) {
          const f = await this.#failure(node, err);
          if (f) failed.push(f); else skipped++;
        }
        done++;
        if (done > total) { total = done; bytesTotal = Math.max(bytesTotal, bytes); }
        report();
      }, shouldStop);
      clean = true;
      return { target, converted, skipped, failed, bytes, seconds: (Date.now() - start) / 1000, recovered, interrupted: stopped };
    } finally {
      await journal.close(clean);
    }
  }

  async *#pages(target: ConvertTarget, owner?: string): AsyncGenerator<ConvertibleNode> {
    let after = 0;
    for (;;) {
      const page = await this.#o.encryption.nodesToConvert(target, { after, owner, limit: 256 });
      if (page.length === 0) return;
      for (const n of page) yield n;
      after = page[page.length - 1]!.fileid;
    }
  }

  /** As EncryptionService.reencryptBlob, with the crash journal around the blob writes. */
  async #convertOne(node: ConvertibleNode, target: ConvertTarget, journal: ConvertJournal): Promise<'converted' | 'skipped'> {
    const { blobs, db } = this.#o;
    const ctx = { fileId: node.fileid, owner: node.owner };
    const newId = newBlobId();
    await journal.begin(newId, node.blobId, node.fileid);
    let codec: string;
    try {
      const src = await blobs.get(node.blobId, node.codec, ctx);
      const res = target === 'encrypt' ? await blobs.putEncrypted(newId, src, ctx) : await blobs.putPlain(newId, src, ctx);
      codec = res.codec;
    } catch (err) {
      await blobs.delete(newId).catch(() => {});
      await journal.end(newId);
      throw err;
    }
    const upd = await db.updateTable('nodes').set({ blob_id: newId, blob_codec: codec })
      .where('fileid', '=', node.fileid).where('blob_id', '=', node.blobId).executeTakeFirst();
    if (Number(upd.numUpdatedRows) !== 1) {
      await blobs.delete(newId);
      await journal.end(newId);
      return 'skipped';
    }
    await blobs.delete(node.blobId);
    await journal.end(newId);
    return 'converted';
  }

  /** A failure to report, or undefined when the file changed or vanished meanwhile (skip it). */
  async #failure(node: ConvertibleNode, err: unknown): Promise<ConvertFailure | undefined> {
    const row = await this.#o.db.selectFrom('nodes').select(['blob_id', 'path']).where('fileid', '=', node.fileid).executeTakeFirst();
    if (!row || row.blob_id !== node.blobId) return undefined;
    if (!(err instanceof AppError)) throw err;
    return { fileid: node.fileid, owner: node.owner, path: row.path, reason: err.message, integrity: err.code === 'crypto' };
  }
}
