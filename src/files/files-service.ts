import { Readable } from 'node:stream';
import { pipeSource } from '../storage/source-pipe.ts';
import { HashingCounter, digestStream, formatChecksums, parseChecksums } from './checksums.ts';
import { transact, type Db } from '../db/database.ts';
import {
  AlreadyExistsError, AppError, BlobMissingError, ConflictError, ForbiddenError, NotFoundError, PreconditionFailedError, QuotaExceededError, ValidationError,
} from '../errors.ts';
import type { Actor } from '../actor.ts';
import type { Logger } from '../logger.ts';
import type { BlobContext, BlobStore, ByteRange } from '../storage/blob-store.ts';
import { newBlobId } from '../storage/blob-id.ts';
import { CopyMoveService, type TreeRef } from './copy-move-service.ts';
import type { ContentEvents } from './content-events.ts';
import { assertPropertyBounds } from './dead-property-bounds.ts';
import { DIR_MIMETYPE, mimetypeFor } from './mimetypes.ts';
import { NodeRepository, newEtag, type Executor } from './node-repository.ts';
import { PropertyRepository } from './property-repository.ts';
import { baseName, normalizePath, parentPath } from './paths.ts';
import { assertValidMtime } from './mtime.ts';
import type { RowSealer } from '../db/row-sealer.ts';
import type { VersionKeeper } from './version-keeper.ts';
import type { TrashKeeper } from './trash-keeper.ts';
import type { TreeChangeSink } from './tree-changes.ts';
import type {
  CopyMoveOptions, DeadProperty, FileContent, FileNode, PropPatchOp, Quota, WriteOptions, WriteResult,
} from './types.ts';

export interface FilesServiceDeps {
  db: Db;
  blobs: BlobStore;
  log: Logger;
  /** Seals what each file row says about its blob (encryption/row-seal.ts); absent in unit tests. */
  sealer?: RowSealer;
  /** Checks a row's seal before its content is opened. @throws CryptoError (reported) when it does not match. */
  checkRow?: (blobId: string, codec: string, ctx: BlobContext) => void;
  /** Told about content that landed (per-user-key sharing keeps keyrings in step); absent = nothing to tell. */
  events?: ContentEvents;
  /**
   * Told which content blobs (file versions) were released, after they are deleted: their cached
   * previews go with them. Must not throw for a missing preview; a failure is logged.
   */
  onBlobsReleased?: (blobIds: string[]) => Promise<void>;
  /** Keeps overwritten content as versions (src/versions/); absent: an overwrite deletes the old blob. */
  versions?: VersionKeeper;
  /** Puts what a replacing COPY/MOVE replaces in the trash (src/trash/); absent: it is deleted. */
  trash?: TrashKeeper;
  /** Told of every committed change (push notifications); absent in unit tests. */
  changes?: TreeChangeSink;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

function ctxOf(actor: Actor, node: FileNode): BlobContext {
  return { fileId: node.fileId, owner: node.owner, actor, row: { size: node.size, seal: node.blobSeal ?? null } };
}

/**
 * The namespace tree of every user: files and folders live in the database, content in the
 * BlobStore under opaque ids. Every write is new blob → commit row → delete old blob, so a crash
 * leaves the old or the new version and at worst an orphaned blob for garbage collection.
 * `BlobStore.put` resolves only once the content is durable (fsynced), so no committed row ever
 * points at unwritten data; no directory fsync per blob is needed for that (the blob's link is
 * journaled metadata that any later fsync — SQLite's, the next blob's — makes durable first on a
 * local journaled filesystem, and a blob lost before its commit is only an orphan).
 * A small write costs: one query for the early checks (node, parent, root size, quota), the
 * content, then one transaction of three statements (re-check, insert/compare-and-swap, one
 * update of the whole ancestor chain); file ids come from a pool (NodeRepository.allocateFileId).
 */
export class FilesService {
  readonly #repo: NodeRepository;
  readonly #props = new PropertyRepository();
  readonly #db: Db;
  readonly #blobs: BlobStore;
  readonly #log: Logger;
  /** Users whose root folder is known to exist (saves a query on every write). */
  readonly #homes = new Set<string>();
  readonly #copyMove: CopyMoveService;
  readonly #checkRow: FilesServiceDeps['checkRow'];
  readonly #events: ContentEvents | undefined;
  readonly #onReleased: FilesServiceDeps['onBlobsReleased'];
  readonly #versions: VersionKeeper | undefined;
  readonly #changes: TreeChangeSink | undefined;

  constructor(deps: FilesServiceDeps) {
    this.#onReleased = deps.onBlobsReleased;
    this.#db = deps.db;
    this.#changes = deps.changes;
    this.#repo = new NodeRepository(deps.db, deps.sealer);
    this.#checkRow = deps.checkRow;
    this.#versions = deps.versions;
    this.#blobs = deps.blobs;
    this.#log = deps.log;
    this.#events = deps.events;
    this.#copyMove = new CopyMoveService({ db: deps.db, repo: this.#repo, blobs: deps.blobs, files: this, events: deps.events, trash: deps.trash });
  }

  /** The user's root folder, created on first use. */
  async ensureHome(uid: string): Promise<FileNode> {
    const existing = await this.#repo.byPath(this.#db, uid, '');
    if (existing) {
      this.#homes.add(uid);
      return existing;
    }
    const fileId = await this.#repo.allocateFileId();
    try {
      return await this.#repo.insert(this.#db, {
        fileId, owner: uid, parentId: null, path: '', name: '', kind: 'dir', size: 0, mtime: nowSeconds(),
        etag: newEtag(), mimetype: DIR_MIMETYPE, blobId: null, blobCodec: null, checksum: null,
      });
    } catch (err) {
      const again = await this.#repo.byPath(this.#db, uid, '');
      if (again) return again;
      throw err;
    }
  }

  /** @throws NotFoundError */
  async stat(uid: string, path: string): Promise<FileNode> {
    const p = normalizePath(path);
    const node = await this.#repo.byPath(this.#db, uid, p) ?? (p === '' ? await this.ensureHome(uid) : undefined);
    if (!node) throw new NotFoundError(`${p || '/'} does not exist`);
    return node;
  }

  async tryStat(uid: string, path: string): Promise<FileNode | undefined> {
    try {
      return await this.stat(uid, path);
    } catch (err) {
      if (err instanceof NotFoundError) return undefined;
      throw err;
    }
  }

  /** @throws NotFoundError */
  async getById(fileId: number): Promise<FileNode> {
    const node = await this.#repo.byId(this.#db, fileId);
    if (!node) throw new NotFoundError(`file ${fileId} does not exist`);
    return node;
  }

  /** Members of a folder, sorted by name. @throws NotFoundError; ConflictError for a file. */
  async children(uid: string, path: string): Promise<FileNode[]> {
    const node = await this.stat(uid, path);
    if (node.kind !== 'dir') throw new ConflictError(`${node.path} is not a folder`);
    return this.#repo.children(this.#db, node.fileId, node);
  }

  /** The node, then its descendants (by path) up to `maxDepth` levels below it. @throws NotFoundError */
  async *walk(uid: string, path: string, maxDepth: number): AsyncIterable<FileNode> {
    const node = await this.stat(uid, path);
    yield node;
    if (node.kind !== 'dir' || maxDepth <= 0) return;
    if (maxDepth === 1) {
      yield* await this.#repo.children(this.#db, node.fileId, node);
      return;
    }
    const base = node.path === '' ? 0 : node.path.split('/').length;
    for (const d of await this.#repo.descendants(this.#db, uid, node.path)) {
      if (d.path.split('/').length - base <= maxDepth) yield d;
    }
  }

  /** @throws AlreadyExistsError; ConflictError when the parent is missing or a file; ValidationError (mtime). */
  async mkdir(uid: string, path: string, opts: { mtime?: number } = {}): Promise<FileNode> {
    const p = normalizePath(path);
    if (p === '') throw new AlreadyExistsError('the root folder exists');
    if (opts.mtime !== undefined) assertValidMtime(opts.mtime);
    await this.ensureHome(uid);
    const fileId = await this.#repo.allocateFileId();
    const now = nowSeconds();
    const made = await transact(this.#db, async (trx) => {
      if (await this.#repo.byPath(trx, uid, p)) throw new AlreadyExistsError(`${p} already exists`);
      const parent = await this.parentDir(trx, uid, p);
      const node = await this.#repo.insert(trx, {
        fileId, owner: uid, parentId: parent.fileId, path: p, name: baseName(p), kind: 'dir', size: 0,
        mtime: opts.mtime ?? now, etag: newEtag(), mimetype: DIR_MIMETYPE, blobId: null, blobCodec: null, checksum: null,
      });
      await this.#repo.propagate(trx, uid, p, 0, now);
      return node;
    });
    this.#changed(uid, p, made.fileId);
    return made;
  }

  /** Reports a committed change to the sink (push notifications). */
  #changed(owner: string, path: string, fileId?: number): void {
    this.#changes?.changed(fileId === undefined ? { owner, path } : { owner, path, fileId });
  }

  /**
   * `actor` streams `source` into a new version of the file at `path` of `uid`'s tree (creating it if needed).
   * @throws ConflictError, PreconditionFailedError, QuotaExceededError, ValidationError (see FILES-API);
   *   403 errors of the key policy when `actor` holds no key for that place.
   */
  async writeFile(actor: Actor, uid: string, path: string, source: Readable, opts: WriteOptions = {}): Promise<WriteResult> {
    const p = normalizePath(path);
    if (p === '') throw new ConflictError('cannot write to the root folder');
    if (opts.mtime !== undefined) assertValidMtime(opts.mtime);
    if (!this.#homes.has(uid)) await this.ensureHome(uid);
    // One query for the early checks (before any byte is read): node, parent, root size, quota.
    const pre = await this.#repo.writeContext(this.#db, uid, p);
    const before = pre.node;
    this.#checkPreconditions(before, opts);
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
        this.#checkPreconditions(cur, opts);
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
          // versions (issue #15): the old blob becomes a version in this transaction, not garbage
          const kept = this.#versions ? await this.#versions.keep(trx, cur, nowSeconds()) : false;
          await this.#versions?.wrote(trx, cur.fileId, opts.author ?? uid);
          return { node: { ...cur, blobId: blob.id, blobCodec: blob.codec, size: blob.size, mtime, etag, checksum, mimetype }, created: false, oldBlob: kept ? null : cur.blobId };
        }
        const parent = checkParent(ctx.parent, p);
        const node = await this.#repo.insert(trx, {
          fileId: blob.fileId, owner: uid, parentId: parent.fileId, path: p, name: baseName(p), kind: 'file', size: blob.size,
          mtime, etag, mimetype, blobId: blob.id, blobCodec: blob.codec, checksum,
        });
        await this.#repo.propagate(trx, uid, p, blob.size, nowSeconds());
        await this.#versions?.wrote(trx, node.fileId, opts.author ?? uid);
        return { node, created: true, oldBlob: null as string | null };
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
      if (result.oldBlob) await this.deleteBlobsQuietly([result.oldBlob]);
      await this.#events?.afterWrite(actor, uid, blob.fileId, blob.id, blob.keyId);
      this.#changed(uid, p, result.node.fileId);
      return { node: result.node, created: result.created };
    } catch (err) {
      await this.#blobs.delete(blob.id).catch(() => {});
      throw err;
    }
  }

  /**
   * `actor` opens the content of the file at `path` of `uid`'s tree (or a validated inclusive range of it).
   * @throws NotFoundError; ConflictError for folders; 403 errors of the key policy (see openNode).
   */
  async openRead(actor: Actor, uid: string, path: string, range?: ByteRange): Promise<FileContent> {
    const node = await this.stat(uid, path);
    return this.openNode(actor, node, range);
  }

  /**
   * `actor` opens the content of a node already looked up.
   * @throws ConflictError for folders; UserKeyLockedError / ShareKeyNotSealedError (403) when the
   *   key policy gives `actor` no key to it; CryptoError when it fails authentication;
   *   BlobMissingError when the row still names a blob the store does not have; NotFoundError when
   *   the file was deleted or rewritten meanwhile.
   */
  async openNode(actor: Actor, node: FileNode, range?: ByteRange): Promise<FileContent> {
    if (node.kind !== 'file') throw new ConflictError(`${node.path} is a folder`);
    if (!node.blobId) return { node, stream: Readable.from([]), range };
    const ctx = ctxOf(actor, node);
    // before the empty-file shortcut: a row's size (0 included) is part of what its seal covers
    this.#checkRow?.(node.blobId, node.blobCodec ?? 'plain', ctx);
    if (node.size === 0) return { node, stream: Readable.from([]), range };
    const blobId = node.blobId;
    const stream = await this.#blobs.get(blobId, node.blobCodec ?? 'plain', ctx, range).catch(async (err: unknown) => {
      if (!(err instanceof NotFoundError)) throw err;
      // A blob deleted by a concurrent overwrite or delete is a 404; one the row still names is lost data.
      const now = await this.#repo.byId(this.#db, node.fileId);
      if (now?.blobId === blobId) throw new BlobMissingError({ blobId, fileId: node.fileId, owner: node.owner }, { cause: err });
      throw err;
    });
    return { node, stream, range };
  }

  /** Deletes a file or a folder with everything below it. @throws NotFoundError; ForbiddenError for the root. */
  async delete(uid: string, path: string): Promise<void> {
    const p = normalizePath(path);
    if (p === '') throw new ForbiddenError('the root folder cannot be deleted');
    const { blobs, fileId } = await transact(this.#db, async (trx) => {
      const node = await this.#repo.byPath(trx, uid, p);
      if (!node) throw new NotFoundError(`${p} does not exist`);
      const ids = await this.#repo.deleteSubtree(trx, node);
      await this.#repo.propagate(trx, uid, p, -node.size, nowSeconds());
      return { blobs: ids, fileId: node.fileId };
    });
    this.#changed(uid, p, fileId);
    await this.deleteBlobsQuietly(blobs);
  }

  /** Deletes a user's whole tree (user deletion). */
  async deleteAll(uid: string): Promise<void> {
    this.#homes.delete(uid);
    const blobs = await transact(this.#db, async (trx) => {
      const root = await this.#repo.byPath(trx, uid, '');
      return root ? this.#repo.deleteSubtree(trx, root) : [];
    });
    await this.deleteBlobsQuietly(blobs);
  }

  /** `actor` moves/renames within `uid`'s tree; file ids survive. @throws see CopyMoveService.move. */
  move(actor: Actor, uid: string, src: string, dst: string, opts: CopyMoveOptions = {}): Promise<WriteResult> {
    return this.#move(actor, { uid, path: src }, { uid, path: dst }, opts);
  }

  /** `actor` copies within `uid`'s tree (new file ids; checksums and dead properties come along). @throws see CopyMoveService.copy. */
  copy(actor: Actor, uid: string, src: string, dst: string, opts: CopyMoveOptions = {}): Promise<WriteResult> {
    return this.#copy(actor, { uid, path: src }, { uid, path: dst }, opts);
  }

  /**
   * Moves between two trees (or within one): the content lands in `to.uid`'s tree, owned by them.
   * @throws see CopyMoveService.move.
   */
  moveBetween(actor: Actor, from: TreeRef, to: TreeRef, opts: CopyMoveOptions = {}): Promise<WriteResult> {
    return this.#move(actor, from, to, opts);
  }

  /** Copies between two trees (or within one). @throws see CopyMoveService.copy. */
  copyBetween(actor: Actor, from: TreeRef, to: TreeRef, opts: CopyMoveOptions = {}): Promise<WriteResult> {
    return this.#copy(actor, from, to, opts);
  }

  async #move(actor: Actor, from: TreeRef, to: TreeRef, opts: CopyMoveOptions): Promise<WriteResult> {
    const r = await this.#copyMove.move(actor, from, to, opts);
    // the source's parent lost it (whoever sees only the source's side learns of it too)
    this.#changed(from.uid, normalizePath(from.path), r.node.fileId);
    this.#changed(to.uid, r.node.path, r.node.fileId);
    return r;
  }

  async #copy(actor: Actor, from: TreeRef, to: TreeRef, opts: CopyMoveOptions): Promise<WriteResult> {
    const r = await this.#copyMove.copy(actor, from, to, opts);
    this.#changed(to.uid, r.node.path, r.node.fileId);
    return r;
  }

  /** Sets a node's mtime (PROPPATCH lastmodified). @throws NotFoundError; ValidationError out of bounds */
  async setMtime(uid: string, path: string, mtime: number): Promise<FileNode> {
    assertValidMtime(mtime);
    const node = await this.stat(uid, path);
    const etag = newEtag();
    await transact(this.#db, async (trx) => {
      await this.#repo.setMtime(trx, node.fileId, mtime, etag);
      await this.#repo.propagate(trx, uid, node.path, 0);
    });
    this.#changed(uid, node.path, node.fileId);
    return { ...node, mtime, etag };
  }

  /** @throws NotFoundError */
  async setFavorite(uid: string, path: string, favorite: boolean): Promise<FileNode> {
    const node = await this.stat(uid, path);
    await this.#repo.setFavorite(this.#db, node.fileId, favorite);
    return { ...node, favorite };
  }

  async getProperties(fileId: number): Promise<DeadProperty[]> {
    return (await this.#props.properties(this.#db, [fileId])).get(fileId) ?? [];
  }

  /** Dead properties of many nodes at once (PROPFIND Depth 1). */
  getPropertiesOf(fileIds: number[]): Promise<Map<number, DeadProperty[]>> {
    return this.#props.properties(this.#db, fileIds);
  }

  /**
   * Applies PROPPATCH operations in document order, all or nothing, within the per-node bounds.
   * @throws QuotaExceededError (dead-property-bounds.ts: nothing is changed then)
   */
  async patchProperties(fileId: number, ops: PropPatchOp[]): Promise<void> {
    await transact(this.#db, async (trx) => {
      const before = await this.#props.propertyUsage(trx, fileId);
      await this.#props.applyPropPatch(trx, fileId, ops);
      assertPropertyBounds(before, await this.#props.propertyUsage(trx, fileId));
    });
  }

  async quota(uid: string): Promise<Quota> {
    const total = await this.#repo.userQuota(this.#db, uid);
    return { used: await this.#repo.usedBytes(this.#db, uid), total };
  }

  /** Hashes the stored content and records the checksum (PATCH X-Recalculate-Hash). @throws NotFoundError, ConflictError */
  async recalculateChecksum(actor: Actor, uid: string, path: string, algo: 'SHA1' | 'MD5' | 'ADLER32'): Promise<string> {
    const node = await this.stat(uid, path);
    const content = await this.openNode(actor, node);
    const digest = await digestStream(content.stream, algo);
    const map = parseChecksums(node.checksum);
    map.set(algo, digest);
    if (node.blobId) await this.#repo.setChecksum(this.#db, node.fileId, node.blobId, formatChecksums(map));
    return `${algo}:${digest}`;
  }

  #checkPreconditions(node: FileNode | undefined, opts: WriteOptions): void {
    if (opts.ifMatch?.length) {
      if (!node || !(opts.ifMatch.includes('*') || opts.ifMatch.includes(node.etag))) throw new PreconditionFailedError('If-Match does not match');
    }
    if (opts.ifNoneMatch?.length && node) {
      if (opts.ifNoneMatch.includes('*') || opts.ifNoneMatch.includes(node.etag)) throw new PreconditionFailedError('If-None-Match matches');
    }
  }

  /**
   * The folder `p` goes into (the home folder is created on demand outside transactions). Shared with
   * CopyMoveService. @throws ConflictError when it is missing or a file.
   */
  async parentDir(ex: Executor, uid: string, p: string): Promise<FileNode> {
    const pp = parentPath(p);
    const parent = await this.#repo.byPath(ex, uid, pp) ?? (pp === '' && ex === this.#db ? await this.ensureHome(uid) : undefined);
    if (!parent) throw new ConflictError(`parent folder ${pp || '/'} does not exist`);
    if (parent.kind !== 'dir') throw new ConflictError(`${pp} is not a folder`);
    return parent;
  }

  /** Deletes released blobs; a failure is logged and left to garbage collection. Shared with CopyMoveService. */
  async deleteBlobsQuietly(ids: string[]): Promise<void> {
    for (const id of ids) {
      await this.#blobs.delete(id).catch((err: unknown) => this.#log.warn({ err, blobId: id }, 'could not delete blob; garbage collection will'));
    }
    if (ids.length > 0 && this.#onReleased) {
      await this.#onReleased(ids).catch((err: unknown) => this.#log.warn({ err }, 'could not delete the previews of released blobs; garbage collection will'));
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
