import { Readable } from 'node:stream';
import { digestStream, formatChecksums, parseChecksums } from './checksums.ts';
import { transact, type Db } from '../db/database.ts';
import {
  AlreadyExistsError, BlobMissingError, ConflictError, ForbiddenError, NotFoundError,
} from '../errors.ts';
import type { Actor } from '../actor.ts';
import type { Logger } from '../logger.ts';
import type { BlobContext, BlobStore, ByteRange } from '../storage/blob-store.ts';

import { CopyMoveService, type TreeRef } from './copy-move-service.ts';
import type { ContentEvents } from './content-events.ts';
import { FileWriter } from './file-writer.ts';
import { DeadProperties } from './dead-properties.ts';
import { DIR_MIMETYPE } from './mimetypes.ts';
import { NodeRepository, newEtag, type Executor } from './node-repository.ts';
import { baseName, normalizePath, parentPath } from './paths.ts';
import { assertValidMtime } from './mtime.ts';
import type { RowSealer } from '../db/row-sealer.ts';
import type { VersionKeeper } from './version-keeper.ts';
import type { TrashKeeper } from './trash-keeper.ts';
import type { TreeAction, TreeChangeSink } from './tree-changes.ts';
import type {
  CopyMoveOptions, FileContent, FileNode, Quota, WriteOptions, WriteResult,
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
  /** Keeps overwritten content (a write, a file copied onto a file) as versions (src/versions/); absent: the old blob is deleted. */
  versions?: VersionKeeper;
  /** Puts what a replacing COPY/MOVE replaces in the trash (src/trash/); absent: it is deleted. */
  trash?: TrashKeeper;
  /** Told of every committed change (push notifications); absent in unit tests. */
  changes?: TreeChangeSink;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);

function ctxOf(actor: Actor, node: FileNode): BlobContext {
  return { fileId: node.fileId, owner: node.owner, actor, row: { size: node.size, seal: node.blobSeal ?? null, ...(node.sealedAs === 'version' ? { version: true } : {}) } };
}

/**
 * The namespace tree of every user: files and folders live in the database, content in the
 * BlobStore under opaque ids. Every write is new blob → commit row → delete old blob, so a crash
 * leaves the old or the new version and at worst an orphaned blob for garbage collection.
 * `BlobStore.put` resolves only once the content is durable (fsynced), so no committed row ever
 * points at unwritten data; no directory fsync per blob is needed for that (the blob's link is
 * journaled metadata that any later fsync — SQLite's, the next blob's — makes durable first on a
 * local journaled filesystem, and a blob lost before its commit is only an orphan).
 * Writes of content are FileWriter's (file-writer.ts), copies and moves CopyMoveService's; every
 * method that reads or writes content takes the acting user first (src/actor.ts).
 */
export class FilesService {
  readonly #repo: NodeRepository;
  /** Dead WebDAV properties of the nodes. */
  readonly properties: DeadProperties;
  readonly #db: Db;
  readonly #blobs: BlobStore;
  readonly #log: Logger;
  /** Users whose root folder is known to exist (saves a query on every write). */
  readonly #homes = new Set<string>();
  readonly #copyMove: CopyMoveService;
  readonly #writer: FileWriter;
  readonly #checkRow: FilesServiceDeps['checkRow'];
  readonly #onReleased: FilesServiceDeps['onBlobsReleased'];
  readonly #changes: TreeChangeSink | undefined;

  constructor(deps: FilesServiceDeps) {
    this.#onReleased = deps.onBlobsReleased;
    this.#db = deps.db;
    this.properties = new DeadProperties(deps.db);
    this.#changes = deps.changes;
    this.#repo = new NodeRepository(deps.db, deps.sealer);
    this.#checkRow = deps.checkRow;
    this.#blobs = deps.blobs;
    this.#log = deps.log;
    this.#writer = new FileWriter({ db: deps.db, repo: this.#repo, blobs: deps.blobs, files: this, events: deps.events, versions: deps.versions });
    this.#copyMove = new CopyMoveService({ db: deps.db, repo: this.#repo, blobs: deps.blobs, files: this, writer: this.#writer, events: deps.events, trash: deps.trash });
  }

  /** Creates the user's root folder unless this process knows it exists (saves a query on every write). */
  async ensureHomeOnce(uid: string): Promise<void> {
    if (!this.#homes.has(uid)) await this.ensureHome(uid);
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

  /**
   * Creates a folder (`opts.actor`: who did it, for the activity stream; default the server).
   * @throws AlreadyExistsError; ConflictError when the parent is missing or a file; ValidationError (mtime).
   */
  async mkdir(uid: string, path: string, opts: { mtime?: number; actor?: Actor } = {}): Promise<FileNode> {
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
    this.#changed(uid, p, made.fileId, 'created', opts.actor);
    return made;
  }

  /** Reports a committed change to the sink (push notifications; with `action`, the activity stream). */
  #changed(owner: string, path: string, fileId?: number, action?: TreeAction, actor?: Actor, from?: string): void {
    if (!this.#changes) return;
    const by = actor?.kind === 'user' ? actor.uid : '';
    this.#changes.changed({ owner, path, ...(fileId === undefined ? {} : { fileId }), ...(action ? { action, by } : {}), ...(from === undefined ? {} : { from }) });
  }

  /**
   * `actor` streams `source` into a new version of the file at `path` of `uid`'s tree (creating it if needed).
   * @throws see FileWriter.write
   */
  writeFile(actor: Actor, uid: string, path: string, source: Readable, opts: WriteOptions = {}): Promise<WriteResult> {
    return this.#writer.write(actor, uid, path, source, opts).then((r) => {
      this.#changed(uid, normalizePath(path), r.node.fileId, r.created ? 'created' : 'changed', actor);
      return r;
    });
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
   * Checks what `node`'s row says about its blob against its seal, as a read does, before those
   * fields move into another row (a version's restore): a tampered row is refused, never sealed anew.
   * @throws CryptoError (audited) when the row does not match its seal
   */
  verifyRow(actor: Actor, node: FileNode): void {
    if (node.blobId) this.#checkRow?.(node.blobId, node.blobCodec ?? 'plain', ctxOf(actor, node));
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
    this.#changed(uid, p, fileId, 'deleted');
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
    // the source's parent lost it (whoever sees only the source's side learns of it too); for the
    // activity stream a move within one tree is one 'moved', between trees a delete and a create
    const src = normalizePath(from.path);
    if (from.uid === to.uid) {
      this.#changed(from.uid, src, r.node.fileId);
      this.#changed(to.uid, r.node.path, r.node.fileId, 'moved', actor, src);
    } else {
      this.#changed(from.uid, src, r.node.fileId, 'deleted', actor);
      this.#changed(to.uid, r.node.path, r.node.fileId, 'created', actor);
    }
    return r;
  }

  async #copy(actor: Actor, from: TreeRef, to: TreeRef, opts: CopyMoveOptions): Promise<WriteResult> {
    const r = await this.#copyMove.copy(actor, from, to, opts);
    this.#changed(to.uid, r.node.path, r.node.fileId, r.created ? 'created' : 'changed', actor);
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
    await this.supersededQuietly(ids);
  }

  /**
   * Another service changed `owner`'s tree at `path` in its own transaction (the trash bin, a
   * version restore): blobs that stopped being current content lose what was derived from them
   * (previews), and whoever sees the path is told (push).
   */
  async changedElsewhere(owner: string, path: string, fileId: number, superseded: string[] = [],
    what?: { action: TreeAction; actor: Actor }): Promise<void> {
    await this.supersededQuietly(superseded);
    this.#changed(owner, normalizePath(path), fileId, what?.action, what?.actor);
  }

  /**
   * Content blobs that stopped being a file's current content (deleted, or kept as versions): what
   * is derived from them (cached previews) goes. A failure is logged and left to garbage collection.
   */
  async supersededQuietly(ids: string[]): Promise<void> {
    if (ids.length > 0 && this.#onReleased) {
      await this.#onReleased(ids).catch((err: unknown) => this.#log.warn({ err }, 'could not delete the previews of released blobs; garbage collection will'));
    }
  }
}
