import { Readable } from 'node:stream';
import { transact, type Db } from '../db/database.ts';
import { AlreadyExistsError, LockedError, NotFoundError, QuotaExceededError, ValidationError } from '../errors.ts';
import type { Actor } from '../actor.ts';
import type { Logger } from '../logger.ts';
import type { BlobContext, BlobStore } from '../storage/blob-store.ts';
import { newBlobId } from '../storage/blob-id.ts';
import type { TreeRef } from './copy-move-service.ts';
import type { FilesService } from './files-service.ts';
import type { WriteOptions, WriteResult } from './types.ts';
import { assertValidMtime } from './mtime.ts';
import type { RowSealer } from '../db/row-sealer.ts';
import { UploadRepository, type ChunkInfo, type UploadInfo } from './upload-repository.ts';

/** How a chunk row names itself in its seal. */
export function chunkRef(uid: string, uploadId: string, name: string): string {
  return `${uid}/${uploadId}/${name}`;
}

export interface UploadServiceDeps {
  db: Db;
  /** The content store callers use (the encryption decorator when encryption is on). */
  blobs: BlobStore;
  files: FilesService;
  log?: Logger;
  /** Seals what each chunk row says about its blob (encryption/row-seal.ts); absent in unit tests. */
  sealer?: RowSealer;
}

/** Uploads untouched for this long are removed by `cleanup` (24 h). */
export const STALE_UPLOAD_SECONDS = 24 * 60 * 60;

/** Chunk names: a decimal index (desktop 16 digits, v2 1..10000) or rclone's `start-end`. */
const CHUNK_NAME = /^(\d{1,20})(?:-(\d{1,20}))?$/;
/** Chunks are bound to this file id: they belong to no file yet. */
const CHUNK_FILE_ID = 0;

const nowSeconds = () => Math.floor(Date.now() / 1000);

/** @throws ValidationError for an unusable upload id. */
export function assertUploadId(id: string): void {
  if (id.length === 0 || id.length > 200 || id === '.' || id === '..' || id === '.file' || /[\/\\\0-\x1f\x7f]/.test(id)) {
    throw new ValidationError('Invalid upload id');
  }
}

/** Parses a chunk name. @throws ValidationError when it is not a number or `start-end`. */
export function parseChunkName(name: string): { index: bigint; start: number | null; end: number | null } {
  const m = CHUNK_NAME.exec(name);
  if (!m) throw new ValidationError('Chunk names must be numbers (or start-end byte offsets)');
  if (m[2] === undefined) return { index: BigInt(m[1]!), start: null, end: null };
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start - 1) throw new ValidationError('Invalid chunk byte range');
  return { index: BigInt(m[1]!), start, end };
}

/** Orders chunk names numerically (first number, then the second of `start-end`). */
export function compareChunkNames(a: string, b: string): number {
  const pa = CHUNK_NAME.exec(a);
  const pb = CHUNK_NAME.exec(b);
  if (!pa || !pb) return a < b ? -1 : a > b ? 1 : 0;
  const x = BigInt(pa[1]!) - BigInt(pb[1]!);
  if (x !== 0n) return x < 0n ? -1 : 1;
  const y = BigInt(pa[2] ?? '0') - BigInt(pb[2] ?? '0');
  return y < 0n ? -1 : y > 0n ? 1 : 0;
}

/**
 * Chunked uploads (Nextcloud "chunking NG": desktop 3.7, v2 with Destination, rclone names).
 * Each chunk is a blob in the content store (so it is encrypted when encryption is on), with a row
 * in `upload_chunks`; assembly streams the chunks, in numeric order of their names, into
 * `FilesService.writeFile`, which makes the final write atomic.
 */
export class UploadService {
  readonly #db: Db;
  readonly #blobs: BlobStore;
  readonly #files: FilesService;
  readonly #log: Logger | undefined;
  /** Uploads being assembled by this process (a second MOVE gets 423 and may retry). */
  readonly #assembling = new Set<string>();
  readonly #sealer: RowSealer | undefined;
  readonly #repo = new UploadRepository();

  constructor(deps: UploadServiceDeps) {
    this.#db = deps.db;
    this.#blobs = deps.blobs;
    this.#files = deps.files;
    this.#log = deps.log;
    this.#sealer = deps.sealer;
  }

  /**
   * Fails early when `totalLength` bytes cannot fit in the user's quota (counting the bytes
   * freed by overwriting `destination`, when known).
   * @throws QuotaExceededError
   */
  async checkQuota(uid: string, totalLength: number, destination?: string | null): Promise<void> {
    const q = await this.#files.quota(uid);
    if (q.total === null) return;
    let replaced = 0;
    if (destination) {
      const node = await this.#files.tryStat(uid, destination).catch(() => undefined);
      if (node?.kind === 'file') replaced = node.size;
    }
    if (q.used - replaced + totalLength > q.total) throw new QuotaExceededError('Not enough free space for this upload');
  }

  /**
   * Starts an upload (MKCOL).
   * @throws ValidationError (bad id or length), AlreadyExistsError (exists), QuotaExceededError.
   */
  async create(uid: string, uploadId: string, opts: { destination?: string | null; totalLength?: number | null } = {}, now = nowSeconds()): Promise<UploadInfo> {
    assertUploadId(uploadId);
    const total = opts.totalLength ?? null;
    if (total !== null && (!Number.isSafeInteger(total) || total < 0)) throw new ValidationError('Invalid OC-Total-Length');
    if (await this.tryGet(uid, uploadId)) throw new AlreadyExistsError('Upload already exists');
    if (total !== null) await this.checkQuota(uid, total, opts.destination);
    const upload: UploadInfo = { uid, uploadId, destination: opts.destination ?? null, totalLength: total, createdAt: now };
    try {
      await this.#repo.insert(this.#db, upload);
    } catch (err) {
      if (await this.tryGet(uid, uploadId)) throw new AlreadyExistsError('Upload already exists');
      throw err;
    }
    return upload;
  }

  tryGet(uid: string, uploadId: string): Promise<UploadInfo | undefined> {
    return this.#repo.get(this.#db, uid, uploadId);
  }

  /** @throws NotFoundError */
  async get(uid: string, uploadId: string): Promise<UploadInfo> {
    const u = await this.tryGet(uid, uploadId);
    if (!u) throw new NotFoundError('No such upload');
    return u;
  }

  /** The user's uploads in progress. */
  list(uid: string): Promise<UploadInfo[]> {
    return this.#repo.list(this.#db, uid);
  }

  /** The upload's chunks in numeric order of their names. */
  async chunks(uid: string, uploadId: string): Promise<ChunkInfo[]> {
    return (await this.#repo.chunks(this.#db, uid, uploadId)).sort((a, b) => compareChunkNames(a.name, b.name));
  }

  /**
   * `actor` stores one chunk (PUT) of `uid`'s upload, replacing a chunk of the same name. The chunk only becomes visible
   * once completely stored. `offset` is the client's OC-Chunk-Offset; an rclone `start-end` name
   * gives its own. `expectedSize` (Content-Length) guards against truncated bodies.
   * @throws NotFoundError (no upload), ValidationError (bad name, size mismatch), QuotaExceededError
   *   (OC-Total-Length beyond the free space, or the user's pending chunks beyond the whole quota).
   */
  async putChunk(actor: Actor, uid: string, uploadId: string, name: string, source: Readable,
    opts: { offset?: number | null; totalLength?: number | null; expectedSize?: number | null } = {}, now = nowSeconds()): Promise<{ chunk: ChunkInfo; created: boolean }> {
    const parsed = parseChunkName(name);
    const upload = await this.get(uid, uploadId);
    if (opts.totalLength != null) await this.checkQuota(uid, opts.totalLength, upload.destination);
    if (opts.offset != null && (!Number.isSafeInteger(opts.offset) || opts.offset < 0)) throw new ValidationError('Invalid OC-Chunk-Offset');
    const offset = parsed.start ?? opts.offset ?? null;
    const quotaTotal = (await this.#files.quota(uid)).total;
    const blobId = newBlobId();
    const put = await this.#blobs.put(blobId, source, this.#ctx(actor, uid));
    let old: string | undefined;
    try {
      if (opts.expectedSize != null && put.size !== opts.expectedSize) {
        throw new ValidationError(`Chunk is ${put.size} bytes, Content-Length said ${opts.expectedSize}`);
      }
      if (parsed.start !== null && parsed.end !== null && parsed.end !== parsed.start + put.size - 1 && parsed.end !== parsed.start + put.size) {
        throw new ValidationError(`Chunk ${name} holds ${put.size} bytes, which does not match its name`);
      }
      old = await transact(this.#db, async (trx) => {
        if (!await this.#repo.get(trx, uid, uploadId)) throw new NotFoundError('No such upload');
        const prev = await this.#repo.chunk(trx, uid, uploadId, name);
        if (quotaTotal !== null) {
          // Pending chunks never exceed the whole quota, so unassembled uploads cannot fill the disk.
          if (await this.#repo.pendingBytes(trx, uid) - (prev?.size ?? 0) + put.size > quotaTotal) {
            throw new QuotaExceededError('Pending chunked uploads exceed the quota');
          }
        }
        const seal = this.#sealer?.chunk(chunkRef(uid, uploadId, name), blobId, put.codec, put.size) ?? null;
        await this.#repo.putChunk(trx, uid, uploadId, { name, blobId, codec: put.codec, size: put.size, mtime: now, offset, seal }, prev !== undefined);
        return prev?.blobId;
      });
    } catch (err) {
      await this.#blobs.delete(blobId).catch(() => {});
      throw err;
    }
    if (old) await this.#blobs.delete(old).catch((err: unknown) => this.#log?.warn({ err }, 'could not delete replaced chunk blob'));
    return { chunk: { name, size: put.size, mtime: now, offset, blobId, codec: put.codec }, created: old === undefined };
  }

  /**
   * Checks that the chunks form one contiguous byte sequence: known offsets must follow on from
   * the previous chunk, plain indices must be consecutive, and the sum must equal `totalLength`.
   * @returns the total size.
   * @throws ValidationError describing the gap, overlap or length mismatch.
   */
  static verifyChunks(chunks: readonly ChunkInfo[], totalLength: number | null): number {
    let pos = 0;
    let prevIndex: bigint | null = null;
    for (const c of chunks) {
      const p = parseChunkName(c.name);
      if (c.offset !== null) {
        if (c.offset !== pos) throw new ValidationError(`Chunk ${c.name} starts at byte ${c.offset}, expected ${pos} (gap or overlap)`);
      } else if (p.start === null && prevIndex !== null && p.index !== prevIndex + 1n) {
        throw new ValidationError(`Chunk ${c.name} does not follow the previous chunk (missing chunk)`);
      }
      if (p.start === null) prevIndex = p.index;
      pos += c.size;
    }
    if (totalLength !== null && pos !== totalLength) {
      throw new ValidationError(`Chunks add up to ${pos} bytes, OC-Total-Length says ${totalLength}`);
    }
    return pos;
  }

  /**
   * `actor` assembles `uid`'s upload into `dest` (MOVE .file) and removes it. Nothing changes when the chunks
   * do not form a contiguous whole, the total is wrong, or a write precondition fails. `dest` is a
   * path of the uploader's tree, or a path in another owner's tree (a received share: the file is
   * written there, under that owner's quota; the caller has checked the share's permissions).
   * @throws NotFoundError (no upload), ValidationError (gap, total, checksum), LockedError (being
   *   assembled), and whatever FilesService.writeFile throws (Conflict, PreconditionFailed, Quota…).
   */
  async assemble(actor: Actor, uid: string, uploadId: string, dest: string | TreeRef, opts: WriteOptions & { totalLength?: number | null } = {}): Promise<WriteResult> {
    const into: TreeRef = typeof dest === 'string' ? { uid, path: dest } : dest;
    if (opts.mtime !== undefined) assertValidMtime(opts.mtime); // before any chunk is read
    const key = `${uid}\0${uploadId}`;
    if (this.#assembling.has(key)) throw new LockedError('This upload is already being assembled');
    this.#assembling.add(key);
    try {
      const upload = await this.get(uid, uploadId);
      const chunks = await this.chunks(uid, uploadId);
      const total = UploadService.verifyChunks(chunks, opts.totalLength ?? upload.totalLength);
      const ctx = this.#ctx(actor, uid);
      const blobs = this.#blobs;
      async function* concat(): AsyncGenerator<Buffer> {
        for (const c of chunks) {
          const s = await blobs.get(c.blobId, c.codec, { ...ctx, row: { size: c.size, seal: c.seal ?? null, chunk: chunkRef(uid, uploadId, c.name) } });
          for await (const b of s) yield b as Buffer;
        }
      }
      const { totalLength: _ignored, ...writeOpts } = opts;
      const result = await this.#files.writeFile(actor, into.uid, into.path, Readable.from(concat(), { objectMode: false }), { ...writeOpts, expectedSize: total });
      await this.remove(uid, uploadId).catch((err: unknown) => this.#log?.warn({ err }, 'could not remove assembled upload'));
      return result;
    } finally {
      this.#assembling.delete(key);
    }
  }

  /**
   * Aborts an upload (DELETE): removes its chunks and row.
   * @throws NotFoundError when there is no such upload.
   */
  async remove(uid: string, uploadId: string): Promise<void> {
    await this.get(uid, uploadId);
    await this.#purge(uid, uploadId);
  }

  /** Removes every upload of `uid` (user deletion). */
  async removeAllFor(uid: string): Promise<void> {
    for (const u of await this.list(uid)) await this.#purge(uid, u.uploadId);
  }

  /**
   * Removes one chunk.
   * @throws NotFoundError when there is no such chunk.
   */
  async removeChunk(uid: string, uploadId: string, name: string): Promise<void> {
    const r = await this.#repo.chunk(this.#db, uid, uploadId, name);
    if (!r) throw new NotFoundError('No such chunk');
    await this.#repo.deleteChunk(this.#db, uid, uploadId, name);
    await this.#blobs.delete(r.blobId).catch(() => {});
  }

  async #purge(uid: string, uploadId: string): Promise<void> {
    const rows = await this.#repo.chunks(this.#db, uid, uploadId);
    await transact(this.#db, (trx) => this.#repo.delete(trx, uid, uploadId));
    for (const r of rows) await this.#blobs.delete(r.blobId).catch(() => {});
  }

  /**
   * Removes uploads with no activity (creation or last chunk) for `maxAgeSeconds` (default 24 h),
   * and chunk rows whose upload is gone. Called by the background job and `files:cleanup`.
   * @returns the number of uploads removed.
   */
  async cleanup(now = nowSeconds(), maxAgeSeconds = STALE_UPLOAD_SECONDS): Promise<number> {
    const cutoff = now - maxAgeSeconds;
    let removed = 0;
    for (const u of await this.#repo.createdBefore(this.#db, cutoff)) {
      const lastActivity = Math.max(u.createdAt, await this.#repo.lastChunkAt(this.#db, u.uid, u.uploadId) ?? 0);
      if (lastActivity >= cutoff) continue;
      await this.#purge(u.uid, u.uploadId);
      removed++;
    }
    for (const blobId of await this.#repo.orphanChunkBlobs(this.#db)) {
      await this.#repo.deleteChunkOfBlob(this.#db, blobId);
      await this.#blobs.delete(blobId).catch(() => {});
    }
    if (removed > 0) this.#log?.info({ removed }, 'removed stale chunked uploads');
    return removed;
  }

  /** Chunks belong to no file yet (file id 0) and sit in the uploader's tree. */
  #ctx(actor: Actor, uid: string): BlobContext {
    return { fileId: CHUNK_FILE_ID, owner: uid, actor };
  }
}
