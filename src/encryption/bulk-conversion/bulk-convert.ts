import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { AppError, NotFoundError } from '../../errors.ts';
import { PLAIN_CODEC, hasLocalPaths, type BlobStore, type ByteRange } from '../../storage/blob-store.ts';
import { newBlobId } from '../../storage/blob-id.ts';
import { systemActor } from '../../actor.ts';
import { ConvertBatcher, type StagedConversion } from './convert-batch.ts';
import { ConvertJournal } from './convert-journal.ts';
import type { EncryptedBlobStore } from '../encrypted-blob-store.ts';
import { rowContext, type ConvertibleNode, type EncryptionService } from '../encryption-service.ts';
import { runPool } from './task-pool.ts';
import { BLOB_HOLDERS, type FileRows } from '../file-rows.ts';
import { SMALL_BLOB } from '../../storage/buffer-sizes.ts';

/** Files fetched (and journaled) at a time. */
const PAGE = 128;
const ENCRYPT_ALL = systemActor('encrypt-all');
const DECRYPT_ALL = systemActor('decrypt-all');

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
  /** Of `converted`, the kept versions and the files in the trash bin (their blobs are converted too). */
  readonly history: { readonly versions: number; readonly trash: number };
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
  rows: FileRows;
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
 * Each file goes new blob (durable) → row switch guarded by the old blob id → old blob deleted, with
 * a crash journal around it (ConvertJournal), so a run killed at any instant and started again
 * finishes with every file intact, none half-done and no orphaned blobs. Row switches are batched
 * (ConvertBatcher: one transaction and one journal append per batch), journal entries are written a
 * page at a time. Works while the server runs: a file written meanwhile is skipped (its new version
 * is written in the current mode).
 */
export class BulkConverter {
  readonly #o: BulkConvertOptions;
  constructor(o: BulkConvertOptions) { this.#o = o; }

  /** Files and bytes still to convert. */
  async pending(target: ConvertTarget, owner?: string): Promise<{ files: number; bytes: number }> {
    return this.#o.rows.countFiles(target === 'encrypt' ? 'plain' : 'encrypted', owner);
  }

  /**
   * Converts every pending file. Failures of single files (damaged blobs) are collected, not thrown.
   * @throws ConflictError when another conversion runs; database errors.
   */
  async run(opts: RunOptions): Promise<ConvertSummary> {
    const { target } = opts;
    const journal = new ConvertJournal({ dir: this.#o.workDir, rows: this.#o.rows, rawBlobs: this.#o.rawBlobs });
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
      const history = { versions: 0, trash: 0 };
      const failed: ConvertFailure[] = [];
      let stopped = false;
      const shouldStop = () => (stopped ||= opts.shouldStop?.() ?? false);
      const report = () => opts.onProgress?.({ done, total, bytesDone: bytes, bytesTotal, elapsedMs: Date.now() - start });
      const settle = () => {
        done++;
        if (done > total) { total = done; bytesTotal = Math.max(bytesTotal, bytes); }
        report();
      };
      const batcher = new ConvertBatcher({
        rows: this.#o.rows, blobs: this.#o.blobs, journal, sealer: this.#o.blobs.seal,
        onSettled: (s, r) => {
          if (r === 'converted') {
            converted++;
            bytes += s.node.size;
            if (s.node.holder === 'version') history.versions++;
            else if (s.node.holder === 'trash') history.trash++;
          } else skipped++;
          settle();
        },
      });
      report();
      await runPool(this.#pages(target, journal, opts.owner), opts.concurrency ?? 4, async ({ node, newId }) => {
        let staged: StagedConversion;
        try {
          staged = await this.#stage(node, newId, target);
        } catch (err) {
          const f = await this.#failure(node, err);
          if (f) failed.push(f); else skipped++;
          settle();
          return;
        }
        await batcher.add(staged);
      }, shouldStop);
      await batcher.flush();
      clean = true;
      return { target, converted, history, skipped, failed, bytes, seconds: (Date.now() - start) / 1000, recovered, interrupted: stopped };
    } finally {
      await journal.close(clean);
    }
  }

  /**
   * Pages of files to convert, each with the id of its new blob. A page's journal entries are
   * written with one append before any of its blobs is, so every blob a crash can leave is named
   * in the journal.
   */
  async *#pages(target: ConvertTarget, journal: ConvertJournal, owner?: string): AsyncGenerator<{ node: ConvertibleNode; newId: string }> {
    // the live files, then the versions and trashed files: they keep blobs of their own (bound to the file id)
    for (const holder of BLOB_HOLDERS) {
      let after = 0;
      for (;;) {
        const page = await this.#o.encryption.nodesToConvert(target, { after, owner, limit: PAGE, holder });
        if (page.length === 0) break;
        const items = page.map((node) => ({ node, newId: newBlobId() }));
        await journal.beginMany(items.map((x) => ({ newId: x.newId, oldId: x.node.blobId, fileid: x.node.fileid })));
        for (const x of items) yield x;
        after = page[page.length - 1]!.rowId;
      }
    }
  }

  /**
   * Writes the file's content in the target form into the new blob `newId` (durable once this
   * returns). A failed write leaves no blob (its journal entry stays open; recovery or the end of
   * the run drops it).
   * @throws CryptoError when the source fails authentication; NotFoundError when its blob is gone.
   */
  async #stage(node: ConvertibleNode, newId: string, target: ConvertTarget): Promise<StagedConversion> {
    const { blobs } = this.#o;
    const ctx = rowContext(target === 'encrypt' ? ENCRYPT_ALL : DECRYPT_ALL, node);
    // before any read (#smallPlain reads the disk directly): a row altered to say plain is not converted
    blobs.checkRow(node.blobId, node.codec, ctx);
    // A plain blob is read with its known size (+ 1 byte, to notice a longer blob) as the range: the
    // read buffers then fit the file instead of a fresh 1 MiB buffer per read of every small file.
    let hint: ByteRange | undefined = node.codec === PLAIN_CODEC && node.size > 0 ? { start: 0, end: node.size } : undefined;
    try {
      // Small plain files (most files) are read whole, sealed in one go and written with one writev.
      const plain = target === 'encrypt' ? this.#smallPlain(node) : undefined;
      if (plain) return { node, newId, codec: (await blobs.putEncryptedBuffer(newId, plain, ctx)).codec };
      for (;;) {
        const src = await blobs.get(node.blobId, node.codec, ctx, hint);
        const res = target === 'encrypt' ? await blobs.putEncrypted(newId, src, ctx) : await blobs.putPlain(newId, src, ctx);
        if (hint && res.size > node.size) {
          // The blob is longer than its row says: convert all of it, as without the hint.
          await blobs.delete(newId);
          hint = undefined;
          continue;
        }
        return { node, newId, codec: res.codec };
      }
    } catch (err) {
      await blobs.delete(newId).catch(() => {});
      throw err;
    }
  }

  /**
   * A small plain blob on local disk, read synchronously and whole: four system calls on a file that
   * is usually cached, instead of five thread-pool round trips (stat, open, read, read, close) that
   * cost more CPU than the read itself. Undefined for anything else, and for a blob longer than
   * SMALL_BLOB whatever its row says (both are streamed through the store).
   * @throws NotFoundError when the blob is missing.
   */
  #smallPlain(node: ConvertibleNode): Buffer | undefined {
    const raw = this.#o.rawBlobs;
    if (node.codec !== PLAIN_CODEC || node.size > SMALL_BLOB || !hasLocalPaths(raw)) return undefined;
    let fd: number;
    try {
      fd = openSync(raw.pathOf(node.blobId), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`blob ${node.blobId} is missing`);
      throw err;
    }
    try {
      const size = fstatSync(fd).size;
      if (size > SMALL_BLOB) return undefined; // larger than its row says: stream it
      const buf = Buffer.allocUnsafe(size);
      let n = 0;
      while (n < size) {
        const r = readSync(fd, buf, n, size - n, n);
        if (r === 0) break;
        n += r;
      }
      return buf.subarray(0, n);
    } finally {
      closeSync(fd);
    }
  }

  /** A failure to report, or undefined when the file changed or vanished meanwhile (skip it). */
  async #failure(node: ConvertibleNode, err: unknown): Promise<ConvertFailure | undefined> {
    const row = await this.#o.rows.currentBlob(node.rowId ?? node.fileid, node.holder);
    if (!row || row.blobId !== node.blobId) return undefined;
    if (!(err instanceof AppError)) throw err;
    return { fileid: node.fileid, owner: node.owner, path: node.holder && node.holder !== 'node' ? node.path ?? row.path : row.path, reason: err.message, integrity: err.code === 'crypto' };
  }
}
