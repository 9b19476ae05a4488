import { unlink } from 'node:fs/promises';
import type { Db } from '../db/database.ts';
import type { Logger } from '../logger.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import type { LockService } from './lock-service.ts';
import type { UploadService } from './upload-service.ts';
import { NodeRepository } from './node-repository.ts';
import { UploadRepository } from './upload-repository.ts';
import { PreviewRepository } from '../previews/preview-repository.ts';
import { VersionRepository } from '../versions/version-repository.ts';
import { TrashRepository } from '../trash/trash-repository.ts';
import { STALE_UPLOAD_SECONDS } from './upload-service.ts';

/** Default grace period: a blob younger than this is never collected (it may be about to be committed). */
export const DEFAULT_BLOB_GRACE_SECONDS = 60 * 60;

export interface CleanupOptions {
  /** Orphaned blobs and temp files younger than this are kept (default 1 h). */
  graceSeconds?: number;
  /** Chunked uploads idle for this long are removed (default 24 h). */
  uploadMaxAgeSeconds?: number;
  /** Only count, delete nothing. */
  dryRun?: boolean;
  /** Clock override (ms since the epoch), for tests. */
  nowMs?: number;
}

export interface CleanupReport {
  /** Blobs in the store that no `nodes`/`upload_chunks` row references (deleted unless dryRun). */
  orphanedBlobs: number;
  /** Temp files left by interrupted writes. */
  tempFiles: number;
  /** Stale chunked uploads. */
  staleUploads: number;
  /** Expired WebDAV locks. */
  expiredLocks: number;
  /** Expired or idle web sessions ended (with their key wrappings in per-user-key mode). */
  endedSessions: number;
  /** Cached previews of file versions that no file row references any more (rows dropped; their blobs are then orphans). */
  orphanedPreviews: number;
  /** Blobs examined. */
  blobsScanned: number;
}

interface TempCapable { staleTempFiles(olderThanMs: number): AsyncIterable<string> }
function hasTempFiles(s: BlobStore): s is BlobStore & TempCapable {
  return typeof (s as Partial<TempCapable>).staleTempFiles === 'function';
}

const BATCH = 500;

/**
 * Collects what crashes and abandoned clients leave behind: blobs no row references (nodes, upload
 * chunks, versions, trashed files; a PUT killed
 * after its blob was written but before the row was committed, an old blob whose delete did not
 * happen), temp files of interrupted writes, stale chunked uploads, expired locks and expired web
 * sessions.
 * Safe to run while the server serves: a blob is only collected once it is older than the grace
 * period (writes commit their row right after the blob is complete).
 */
export class GarbageCollector {
  readonly #db: Db;
  readonly #nodes: NodeRepository;
  readonly #chunks = new UploadRepository();
  readonly #previews: PreviewRepository;
  readonly #versions = new VersionRepository();
  readonly #trash = new TrashRepository();
  readonly #raw: BlobStore;
  readonly #uploads: UploadService;
  readonly #locks: LockService;
  readonly #log: Logger | undefined;
  readonly #sessions: { cleanup(): Promise<number> } | undefined;

  constructor(deps: { db: Db; rawBlobs: BlobStore; uploads: UploadService; locks: LockService; sessions?: { cleanup(): Promise<number> }; log?: Logger }) {
    this.#sessions = deps.sessions;
    this.#db = deps.db;
    this.#nodes = new NodeRepository(deps.db);
    this.#previews = new PreviewRepository(deps.db);
    this.#raw = deps.rawBlobs;
    this.#uploads = deps.uploads;
    this.#locks = deps.locks;
    this.#log = deps.log;
  }

  /**
   * One full pass.
   * @throws database or storage errors (nothing is left half-done: each deletion is independent).
   */
  async run(opts: CleanupOptions = {}): Promise<CleanupReport> {
    const now = opts.nowMs ?? Date.now();
    const graceMs = Math.max(0, opts.graceSeconds ?? DEFAULT_BLOB_GRACE_SECONDS) * 1000;
    const report: CleanupReport = { orphanedBlobs: 0, tempFiles: 0, staleUploads: 0, expiredLocks: 0, endedSessions: 0, orphanedPreviews: 0, blobsScanned: 0 };
    const nowSec = Math.floor(now / 1000);

    // Uploads first: their chunk blobs become orphans collected below in the same pass.
    if (!opts.dryRun) {
      report.staleUploads = await this.#uploads.cleanup(nowSec, opts.uploadMaxAgeSeconds ?? STALE_UPLOAD_SECONDS);
      report.expiredLocks = await this.#locks.purgeExpired(nowSec);
      report.endedSessions = (await this.#sessions?.cleanup()) ?? 0;
      // Previews of released versions whose cleanup did not run: their rows go here, their blobs
      // (orphans from now on) below, once past the grace period.
      const orphans = await this.#previews.orphanBlobs((ids) => this.#nodes.referencedBlobs(this.#db, ids));
      await this.#previews.delete(orphans);
      report.orphanedPreviews = orphans.length;
    }

    let batch: string[] = [];
    const flush = async () => {
      if (batch.length === 0) return;
      const ids = batch;
      batch = [];
      const byNodes = await this.#nodes.referencedBlobs(this.#db, ids);
      const byChunks = await this.#chunks.referencedBlobs(this.#db, ids);
      const byPreviews = await this.#previews.referencedBlobs(ids);
      // versions and trashed files reference their blobs too (zero copy)
      const byVersions = await this.#versions.referenced(this.#db, ids);
      const byTrash = await this.#trash.referenced(this.#db, ids);
      for (const id of ids) {
        if (byNodes.has(id) || byChunks.has(id) || byPreviews.has(id) || byVersions.has(id) || byTrash.has(id)) continue;
        report.orphanedBlobs++;
        if (!opts.dryRun) await this.#raw.delete(id);
      }
    };
    for await (const b of this.#raw.list()) {
      report.blobsScanned++;
      if (now - b.mtimeMs < graceMs) continue;
      batch.push(b.blobId);
      if (batch.length >= BATCH) await flush();
    }
    await flush();

    if (hasTempFiles(this.#raw)) {
      for await (const p of this.#raw.staleTempFiles(graceMs)) {
        report.tempFiles++;
        if (!opts.dryRun) await unlink(p).catch(() => {});
      }
    }
    if (!opts.dryRun && (report.orphanedBlobs || report.tempFiles || report.staleUploads || report.expiredLocks || report.orphanedPreviews)) {
      this.#log?.info({ ...report }, 'files cleanup');
    }
    return report;
  }
}
