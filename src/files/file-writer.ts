import type { Readable } from 'node:stream';
import type { Actor } from '../actor.ts';
import { transact, type Db } from '../db/database.ts';
import { AppError, ConflictError, PreconditionFailedError, QuotaExceededError, ValidationError } from '../errors.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import { newBlobId } from '../storage/blob-id.ts';
import { pipeSource } from '../storage/source-pipe.ts';
import { HashingCounter, formatChecksums, parseChecksums } from './checksums.ts';
import type { ContentEvents } from './content-events.ts';
import type { FilesService } from './files-service.ts';
import { mimetypeFor } from './mimetypes.ts';
import { newEtag, type NodeRepository } from './node-repository.ts';
import { baseName, normalizePath, parentPath } from './paths.ts';
import { assertValidMtime } from './mtime.ts';
import type { FileNode, WriteOptions, WriteResult } from './types.ts';
import type { VersionKeeper } from './version-keeper.ts';

const nowSeconds = () => Math.floor(Date.now() / 1000);

/**
 * A file's new content (FilesService.writeFile): new blob → commit row → delete old blob, so a crash
 * leaves the old or the new version and at worst an orphaned blob for garbage collection.
 * `BlobStore.put` resolves only once the content is durable (fsynced), so no committed row ever
 * points at unwritten data. A small write costs one query for the early checks (node, parent, root
 * size, quota), the content, then one transaction of three statements (re-check,
 * insert/compare-and-swap, one update of the whole ancestor chain).
 */
export class FileWriter {
  readonly #db: Db;
  readonly #repo: NodeRepository;
  readonly #blobs: BlobStore;
  readonly #files: FilesService;
  readonly #events: ContentEvents | undefined;
  readonly #versions: VersionKeeper | undefined;

  constructor(deps: { db: Db; repo: NodeRepository; blobs: BlobStore; files: FilesService; events?: ContentEvents; versions?: VersionKeeper }) {
    this.#db = deps.db;
    this.#repo = deps.repo;
    this.#blobs = deps.blobs;
    this.#files = deps.files;
    this.#events = deps.events;
    this.#versions = deps.versions;
  }

  /**
   * `actor` streams `source` into a new version of the file at `path` of `uid`'s tree (creating it if needed).
   * @throws ConflictError (also when `opts.sameFile` no longer holds), PreconditionFailedError, QuotaExceededError, ValidationError (see FILES-API);
   *   403 errors of the key policy when `actor` holds no key for that place.
   */
  async write(actor: Actor, uid: string, path: string, source: Readable, opts: WriteOptions = {}): Promise<WriteResult> {
    const p = normalizePath(path);
    if (p === '') throw new ConflictError('cannot write to the root folder');
    if (opts.mtime !== undefined) assertValidMtime(opts.mtime);
    await this.#files.ensureHomeOnce(uid);
    // One query for the early checks (before any byte is read): node, parent, root size, quota.
    const pre = await this.#repo.writeContext(this.#db, uid, p);
    const before = pre.node;
    this.#checkPreconditions(before, opts, p);
    if (!before) checkParent(pre.parent, p);
    if (before?.kind === 'dir') throw new ConflictError(`${p} is a folder`);
    if (opts.expectedSize !== undefined && pre.quota !== null
      && (pre.root?.size ?? 0) - (before?.size ?? 0) + opts.expectedSize > pre.quota) {
      throw new QuotaExceededError(`not enough space for ${p}`);
    }

    const sent = parseChecksums(opts.checksum);
    const algos = [...sent.keys()].filter((a) => a === 'SHA1' || a === 'MD5');
    // A byte stream with nothing to hash goes to the store as is (a Transform per small PUT costs
    // more CPU than its queries): the store counts the bytes, and fails the put itself when the
    // source errors or closes before its end. Object-mode sources (Readable.from) may carry
    // strings, which the counter turns into bytes.
    const counter = algos.length > 0 || source.readableObjectMode ? new HashingCounter(algos) : undefined;
    const fileId = before?.fileId ?? await this.#repo.allocateFileId();
    // the acting user wrote it (a chunked upload into a share, too), the owner when the server did
    const author = opts.author ?? (actor.kind === 'user' ? actor.uid : uid);
    const blobId = newBlobId();
    // A source that closes early (client gone) fails the put instead of hanging; a failed put
    // leaves the source (the request) alive for the adapter's answer.
    if (counter) pipeSource(source, counter);
    const put = await this.#blobs.put(blobId, counter ?? source, { fileId, owner: uid, actor, parentId: pre.parent?.fileId });
    const received = counter ? counter.bytes : put.size;

    // The blob is bound to `fileId` (the encryption layer authenticates it with the id). When a
    // concurrent writer created the same new path first, the row carries its file id: the content
    // is then re-bound to that id and the commit retried, so that unconditional PUTs to one path
    // all succeed (last writer wins) instead of failing with 409/500.
    let blob = { id: blobId, codec: put.codec, size: put.size, fileId, keyId: put.keyId };
    try {
      if (opts.expectedSize !== undefined && received !== opts.expectedSize) {
        throw new ValidationError(`expected ${opts.expectedSize} bytes, received ${received}`);
      }
      for (const [algo, want] of sent) {
        const got = counter?.digest(algo);
        if (got !== undefined && got !== want) throw new ValidationError(`${algo} checksum mismatch`);
      }
      const mtime = opts.mtime ?? nowSeconds();
      const mimetype = opts.mimetype ?? before?.mimetype ?? mimetypeFor(baseName(p));
      const commit = () => transact(this.#db, async (trx) => {
        // node, parent, root and quota re-read in one query inside the transaction
        const ctx = await this.#repo.writeContext(trx, uid, p);
        const cur = ctx.node;
        this.#checkPreconditions(cur, opts, p);
        if (cur?.kind === 'dir') throw new ConflictError(`${p} is a folder`);
        if (cur && cur.fileId !== blob.fileId) throw new RebindNeeded(cur.fileId);
        if (ctx.quota !== null && (ctx.root?.size ?? 0) - (cur?.size ?? 0) + blob.size > ctx.quota) {
          throw new QuotaExceededError(`not enough space for ${p}`);
        }
        const etag = newEtag();
        const checksum = formatChecksums(sent);
        if (cur) {
          // compare-and-swap on the blob: a writer that committed in between (PostgreSQL READ
          // COMMITTED lets both read the same row) would otherwise have its blob overwritten
          // without being deleted, and the size propagation computed from a stale row.
          const swapped = await this.#repo.swapContent(trx, cur.fileId, cur.blobId, {
            blobId: blob.id, blobCodec: blob.codec, size: blob.size, mtime, etag, checksum, mimetype,
          });
          if (!swapped) throw new RebindNeeded(cur.fileId);
          await this.#repo.propagate(trx, uid, p, blob.size - cur.size);
          // the old blob becomes a version in this transaction, not garbage
          const kept = this.#versions ? await this.#versions.keep(trx, cur, nowSeconds()) : false;
          await this.#versions?.wrote(trx, cur, author, false);
          return { node: { ...cur, blobId: blob.id, blobCodec: blob.codec, size: blob.size, mtime, etag, checksum, mimetype }, created: false, oldBlob: kept ? null : cur.blobId, kept: kept ? cur.blobId : null };
        }
        const parent = checkParent(ctx.parent, p);
        const node = await this.#repo.insert(trx, {
          fileId: blob.fileId, owner: uid, parentId: parent.fileId, path: p, name: baseName(p), kind: 'file', size: blob.size,
          mtime, etag, mimetype, blobId: blob.id, blobCodec: blob.codec, checksum,
        });
        await this.#repo.propagate(trx, uid, p, blob.size, nowSeconds());
        await this.#versions?.wrote(trx, node, author, true);
        return { node, created: true, oldBlob: null as string | null, kept: null as string | null };
      });
      let result;
      for (let attempt = 0; ; attempt++) {
        try {
          result = await commit();
          break;
        } catch (err) {
          let winner: number | undefined;
          if (err instanceof RebindNeeded) winner = err.fileId;
          else if (!(err instanceof AppError)) {
            // a concurrent insert of the same path (unique violation): rebind to the winner's id
            const now = await this.#repo.byPath(this.#db, uid, p).catch(() => undefined);
            if (now?.kind === 'file' && now.fileId !== blob.fileId) winner = now.fileId;
          }
          if (winner === undefined) throw err;
          if (attempt >= 5) throw new ConflictError(`${p} was replaced concurrently`);
          if (winner === blob.fileId) continue; // lost a race on the same row: just commit again
          const src = await this.#blobs.get(blob.id, blob.codec, { fileId: blob.fileId, owner: uid, actor, fresh: true });
          const rebound = newBlobId();
          const put2 = await this.#blobs.put(rebound, src, { fileId: winner, owner: uid, actor, parentId: pre.parent?.fileId });
          await this.#blobs.delete(blob.id).catch(() => {});
          blob = { id: rebound, codec: put2.codec, size: put2.size, fileId: winner, keyId: put2.keyId };
        }
      }
      if (result.oldBlob) await this.#files.deleteBlobsQuietly([result.oldBlob]);
      // a version keeps the blob, not what was derived from it as the current content
      if (result.kept) await this.#files.supersededQuietly([result.kept]);
      await this.#events?.afterWrite(actor, uid, blob.fileId, blob.id, blob.keyId);
      return { node: result.node, created: result.created };
    } catch (err) {
      await this.#blobs.delete(blob.id).catch(() => {});
      throw err;
    }
  }

  #checkPreconditions(node: FileNode | undefined, opts: WriteOptions, p: string): void {
    if (opts.sameFile !== undefined && node?.fileId !== opts.sameFile) throw new ConflictError(`${p} changed meanwhile`);
    if (opts.ifMatch?.length) {
      if (!node || !(opts.ifMatch.includes('*') || opts.ifMatch.includes(node.etag))) throw new PreconditionFailedError('If-Match does not match');
    }
    if (opts.ifNoneMatch?.length && node) {
      if (opts.ifNoneMatch.includes('*') || opts.ifNoneMatch.includes(node.etag)) throw new PreconditionFailedError('If-None-Match matches');
    }
  }
}

/** The parent folder of `p` as looked up. @throws ConflictError when it is missing or a file. */
function checkParent(parent: FileNode | undefined, p: string): FileNode {
  const pp = parentPath(p);
  if (!parent) throw new ConflictError(`parent folder ${pp || '/'} does not exist`);
  if (parent.kind !== 'dir') throw new ConflictError(`${pp} is not a folder`);
  return parent;
}

/** Internal: the path's row belongs to another file id than the one the new blob is bound to. */
class RebindNeeded extends Error {
  constructor(readonly fileId: number) { super('rebind needed'); }
}
