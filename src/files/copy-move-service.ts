import type { Readable } from 'node:stream';
import { transact, type Db } from '../db/database.ts';
import { AlreadyExistsError, ConflictError, ForbiddenError, NotFoundError, QuotaExceededError } from '../errors.ts';
import type { Actor } from '../actor.ts';
import type { BlobStore } from '../storage/blob-store.ts';
import type { ContentEvents } from './content-events.ts';
import { newBlobId } from '../storage/blob-id.ts';
import type { TrashKeeper } from './trash-keeper.ts';
import type { FileWriter } from './file-writer.ts';
import type { FilesService } from './files-service.ts';
import { newEtag, type Executor, type NodeRepository } from './node-repository.ts';
import { PropertyRepository } from './property-repository.ts';
import { baseName, isSameOrInside, normalizePath, parentPath } from './paths.ts';
import type { CopyMoveOptions, FileNode, WriteResult } from './types.ts';

/** A path in one user's tree. */
export interface TreeRef {
  /** Owner of the tree. */
  readonly uid: string;
  /** Path in that tree ('' = root). */
  readonly path: string;
}

export interface CopyMoveServiceDeps {
  db: Db;
  repo: NodeRepository;
  blobs: BlobStore;
  /** For quota, home creation and reading content. */
  files: FilesService;
  /** Told where content arrived (see ContentEvents); absent = nothing to tell. */
  events?: ContentEvents;
  /** Where a replaced destination goes (the trash bin, issue #15); absent: it is deleted. */
  trash?: TrashKeeper;
  /** Writes a file copied onto a file, as a PUT (its old content a version). */
  writer: FileWriter;
}

/** One node of a copied subtree: where it goes, and the content already written for it. */
interface Planned {
  readonly from: FileNode;
  readonly fileId: number;
  readonly path: string;
  readonly blobId: string | null;
  readonly codec: string | null;
  readonly size: number;
}

const nowSeconds = () => Math.floor(Date.now() / 1000);
/** Files whose content is copied at the same time (each one a stream: memory stays bounded). */
const CONTENT_PARALLELISM = 4;

/**
 * COPY and MOVE of files and folders, within one user's tree and between two users' trees
 * (a received share: the file then belongs to the owner of the tree it lands in, as in Nextcloud).
 *
 * Within a tree, MOVE is a rename (file ids survive) and COPY streams each file into a new blob;
 * a file copied onto a file overwrites it (its id kept, its old content a version), while anything
 * else a COPY or MOVE replaces goes to the trash.
 * Between trees, both stream each file's content into a new blob bound to the new owner and a new
 * file id (re-encrypted under the new owner's key when encryption is on), one file at a time
 * (memory bounded by one stream, plus the subtree's rows); then one transaction inserts every
 * target row, checks the receiving owner's quota and, for MOVE, deletes the source rows after
 * checking they did not change meanwhile. A crash leaves the old state or the new one, and at
 * worst unreferenced blobs for garbage collection.
 */
export class CopyMoveService {
  readonly #db: Db;
  readonly #repo: NodeRepository;
  readonly #props = new PropertyRepository();
  readonly #blobs: BlobStore;
  readonly #files: FilesService;
  readonly #events: ContentEvents | undefined;
  readonly #trash: TrashKeeper | undefined;
  readonly #writer: FileWriter;

  constructor(deps: CopyMoveServiceDeps) {
    this.#db = deps.db;
    this.#repo = deps.repo;
    this.#blobs = deps.blobs;
    this.#files = deps.files;
    this.#events = deps.events;
    this.#trash = deps.trash;
    this.#writer = deps.writer;
  }

  /**
   * Moves `from` to `to`. Same tree: a rename (file ids kept). Two trees: content streamed into
   * the receiving tree, then the source removed in the same transaction (new file ids).
   * @throws NotFoundError (source), AlreadyExistsError (destination exists and overwrite is false),
   *   ConflictError (missing parent; source changed during a move between trees), ForbiddenError
   *   (root, onto or into itself), QuotaExceededError (receiving owner), the content store's errors.
   */
  async move(actor: Actor, from: TreeRef, to: TreeRef, opts: CopyMoveOptions = {}): Promise<WriteResult> {
    const s = normalizePath(from.path);
    const d = normalizePath(to.path);
    if (s === '' || d === '') throw new ForbiddenError('the root folder cannot be moved or replaced');
    if (from.uid !== to.uid) return this.#arrived(actor, await this.#transfer(actor, { uid: from.uid, path: s }, { uid: to.uid, path: d }, opts, true));
    if (isSameOrInside(d, s)) throw new ForbiddenError('cannot move a resource onto or into itself');
    // Keys never move with a rename: a node moved below a shared node it was not below before has
    // its data keys added to that node's keyring (ContentEvents.afterArrival).
    const node = this.#events ? await this.#repo.byPath(this.#db, from.uid, s) : undefined;
    const before = node ? await this.#events!.sharedAncestors(from.uid, node.fileId) : [];
    const res = await this.#rename(from.uid, s, d, opts);
    const nearest = this.#events ? (await this.#events.sharedAncestors(res.node.owner, res.node.fileId))[0] : undefined;
    return nearest !== undefined && !before.includes(nearest) ? this.#arrived(actor, res) : res;
  }

  /** Tells the events port that content arrived at `res.node`. */
  async #arrived(actor: Actor, res: WriteResult): Promise<WriteResult> {
    await this.#events?.afterArrival(actor, res.node.owner, res.node.fileId);
    return res;
  }

  /** A rename within `uid`'s tree (file ids kept; a replaced destination's blobs deleted after the commit). */
  async #rename(uid: string, s: string, d: string, opts: CopyMoveOptions): Promise<WriteResult> {
    const res = await transact(this.#db, async (trx) => {
      const node = await this.#repo.byPath(trx, uid, s);
      if (!node) throw new NotFoundError(`${s} does not exist`);
      const parent = await this.#files.parentDir(trx, uid, d);
      const existing = await this.#repo.byPath(trx, uid, d);
      let blobs: string[] = [];
      if (existing) {
        if (opts.overwrite === false) throw new AlreadyExistsError(`${d} already exists`);
        blobs = await this.#replace(trx, existing, uid);
        await this.#repo.propagate(trx, uid, d, -existing.size);
      }
      await this.#repo.relocate(trx, node, d, baseName(d), parent.fileId);
      const now = nowSeconds();
      await this.#repo.propagate(trx, uid, s, -node.size, now);
      await this.#repo.propagate(trx, uid, d, node.size, now);
      const moved = await this.#repo.byPath(trx, uid, d);
      return { node: moved!, created: !existing, blobs };
    });
    await this.#files.deleteBlobsQuietly(res.blobs);
    return { node: res.node, created: res.created };
  }

  /**
   * Copies a file or folder (new file ids; checksums, mtimes and dead properties come along;
   * `depth: 0` copies a folder without its members). `to` may be in another user's tree.
   * A file copied onto an existing file overwrites it, as a PUT of the source's content would: the
   * destination keeps its file id and dead properties, its previous content becomes a version.
   * @throws NotFoundError, AlreadyExistsError, ConflictError, ForbiddenError, QuotaExceededError (see move).
   */
  async copy(actor: Actor, from: TreeRef, to: TreeRef, opts: CopyMoveOptions = {}): Promise<WriteResult> {
    const s = normalizePath(from.path);
    const d = normalizePath(to.path);
    if (d === '') throw new ForbiddenError('the root folder cannot be replaced');
    if (from.uid === to.uid && isSameOrInside(d, s)) throw new ForbiddenError('cannot copy a resource onto or into itself');
    return this.#arrived(actor, await this.#transfer(actor, { uid: from.uid, path: s }, { uid: to.uid, path: d }, opts, false));
  }

  /** Streams the subtree at `from` into `to` and commits it (removing the source when `move`). */
  async #transfer(actor: Actor, from: TreeRef, to: TreeRef, opts: CopyMoveOptions, move: boolean): Promise<WriteResult> {
    const s = from.path;
    const d = to.path;
    const node = await this.#files.stat(from.uid, s);
    const existing = await this.#files.tryStat(to.uid, d);
    if (existing && opts.overwrite === false) throw new AlreadyExistsError(`${d} already exists`);
    await this.#files.ensureHome(to.uid);
    // New content is bound to the folder it lands in (per-user keys: the nearest shared ancestor's key).
    const landing = await this.#files.parentDir(this.#db, to.uid, d);
    const deep = node.kind === 'dir' && (move || opts.depth !== 0);
    const sources = deep ? [node, ...await this.#repo.descendants(this.#db, from.uid, s)] : [node];
    const total = sources.reduce((n, x) => n + (x.kind === 'file' ? x.size : 0), 0);
    const quota = await this.#files.quota(to.uid);
    if (quota.total !== null && quota.used - (existing?.size ?? 0) + total > quota.total) throw new QuotaExceededError(`not enough space for ${d}`);
    if (!move && node.kind === 'file' && existing?.kind === 'file') return this.#overwrite(actor, node, to.uid, existing);

    // Content first, each file bound to its new file id and owner; a few files at a time (the
    // durable writes overlap), each one streamed, so memory stays bounded whatever the sizes.
    const planned: Planned[] = new Array(sources.length);
    const written: string[] = [];
    try {
      let next = 0;
      let failed = false;
      const worker = async () => {
        while (!failed && next < sources.length) {
          const i = next++;
          const src = sources[i]!;
          try {
            const fileId = await this.#repo.allocateFileId();
            let blobId: string | null = null;
            let codec: string | null = null;
            let size = src.kind === 'file' ? src.size : 0;
            if (src.kind === 'file' && src.blobId) {
              blobId = newBlobId();
              const content = await this.#openSource(actor, src);
              const put = await this.#blobs.put(blobId, content.stream, { fileId, owner: to.uid, actor, parentId: landing.fileId });
              written.push(blobId);
              codec = put.codec;
              size = put.size;
            }
            planned[i] = { from: src, fileId, path: d + src.path.slice(s.length), blobId, codec, size };
          } catch (err) {
            failed = true;
            throw err;
          }
        }
      };
      const settled = await Promise.allSettled(Array.from({ length: Math.min(CONTENT_PARALLELISM, sources.length) }, worker));
      const failure = settled.find((x): x is PromiseRejectedResult => x.status === 'rejected');
      if (failure) throw failure.reason;
      const sizes = folderSizes(planned);
      const res = await transact(this.#db, async (trx) => {
        const released: string[] = [];
        const cur = await this.#repo.byPath(trx, to.uid, d);
        if (cur) {
          if (opts.overwrite === false) throw new AlreadyExistsError(`${d} already exists`);
          released.push(...await this.#replace(trx, cur, from.uid));
          await this.#repo.propagate(trx, to.uid, d, -cur.size);
        }
        const parent = await this.#files.parentDir(trx, to.uid, d);
        const idByPath = new Map<string, number>([[parentPath(d), parent.fileId]]);
        let rootNode: FileNode | undefined;
        for (const x of planned) {
          const n = await this.#repo.insert(trx, {
            fileId: x.fileId, owner: to.uid, parentId: idByPath.get(parentPath(x.path))!, path: x.path, name: baseName(x.path),
            kind: x.from.kind, size: x.from.kind === 'dir' ? sizes.get(x.path) ?? 0 : x.size, mtime: x.from.mtime, etag: newEtag(),
            mimetype: x.from.mimetype, blobId: x.blobId, blobCodec: x.codec, checksum: x.from.checksum,
          });
          idByPath.set(x.path, x.fileId);
          await this.#props.copyProperties(trx, x.from.fileId, x.fileId);
          rootNode ??= n;
        }
        await this.#repo.propagate(trx, to.uid, d, rootNode!.size, nowSeconds());
        // after the copies took the dead properties along; the trees differ, so no path clashes
        if (move) released.push(...await this.#removeSource(trx, from, sources));
        const limit = await this.#repo.userQuota(trx, to.uid);
        if (limit !== null && from.uid !== to.uid) {
          const root = await this.#repo.byPath(trx, to.uid, '');
          if ((root?.size ?? 0) > limit) throw new QuotaExceededError(`not enough space for ${d}`);
        }
        return { node: rootNode!, created: !cur, released };
      });
      await this.#files.deleteBlobsQuietly(res.released);
      return { node: res.node, created: res.created };
    } catch (err) {
      await this.#files.deleteBlobsQuietly(written);
      throw err;
    }
  }

  /**
   * COPY of file `src` onto file `dst` of `owner`'s tree: a write of the source's content, as a PUT
   * is written (FileWriter: bound to `dst`'s file id, compare-and-swap, quota, the old blob kept as
   * a version, `actor` the author), with the source's mtime and checksums; `dst` must still be that
   * file. A MOVE never comes here: the moved file keeps its own id, and a blob is bound to its file
   * id (docs/FORMAT.md), so the replaced file goes to the trash instead.
   * @throws ConflictError (the destination was replaced meanwhile), QuotaExceededError, the writer's errors.
   */
  async #overwrite(actor: Actor, src: FileNode, owner: string, dst: FileNode): Promise<WriteResult> {
    const content = await this.#openSource(actor, src);
    return this.#writer.write(actor, owner, dst.path, content.stream, { mtime: src.mtime, checksum: src.checksum ?? undefined, sameFile: dst.fileId });
  }

  /**
   * Takes a replaced destination out of the tree: to the trash (it comes back with its file ids
   * and versions), or deleted without a trash; returns the blobs to delete.
   */
  async #replace(trx: Executor, node: FileNode, by: string): Promise<string[]> {
    if (!this.#trash) return this.#repo.deleteSubtree(trx, node);
    await this.#trash.keep(trx, node, by, nowSeconds());
    return [];
  }

  /**
   * Deletes the moved subtree inside the commit transaction, after checking that it is still the
   * one whose content was copied (same nodes, same blobs): a write in between would otherwise be lost.
   * @throws ConflictError when the source changed meanwhile (nothing is committed then).
   */
  async #removeSource(trx: Executor, from: TreeRef, sources: FileNode[]): Promise<string[]> {
    const root = await this.#repo.byPath(trx, from.uid, from.path);
    if (!root || root.fileId !== sources[0]!.fileId) throw new ConflictError(`${from.path} changed during the move`);
    // Locks the ancestors' rows (PostgreSQL): writers below the source wait for this commit.
    await this.#repo.propagate(trx, from.uid, from.path, 0);
    const now = root.kind === 'dir' ? await this.#repo.descendants(trx, from.uid, from.path) : [];
    const was = new Map(sources.slice(1).map((n) => [n.fileId, n.blobId]));
    const same = root.blobId === sources[0]!.blobId && now.length === was.size
      && now.every((n) => was.has(n.fileId) && was.get(n.fileId) === n.blobId);
    if (!same) throw new ConflictError(`${from.path} changed during the move`);
    const blobs = await this.#repo.deleteSubtree(trx, root);
    await this.#repo.propagate(trx, from.uid, from.path, -root.size, nowSeconds());
    return blobs;
  }

  /**
   * Opens a source file's content. A blob gone meanwhile is a concurrent overwrite or delete
   * (its old blob is removed after the commit): a conflict the client may retry, not a 404.
   * @throws ConflictError when the file changed; the content store's errors otherwise.
   */
  async #openSource(actor: Actor, src: FileNode): Promise<{ stream: Readable }> {
    try {
      return await this.#files.openNode(actor, src);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
      const now = await this.#repo.byId(this.#db, src.fileId);
      if (!now || now.blobId !== src.blobId) throw new ConflictError(`${src.path} changed during the copy`);
      throw err;
    }
  }
}

/** Recursive size of every planned folder, in one pass (each file adds to its ancestors). */
function folderSizes(planned: readonly Planned[]): Map<string, number> {
  const sizes = new Map<string, number>();
  const root = planned[0];
  if (!root || root.from.kind !== 'dir') return sizes;
  for (const x of planned) if (x.from.kind === 'dir') sizes.set(x.path, 0);
  for (const x of planned) {
    if (x.from.kind !== 'file') continue;
    for (let p = parentPath(x.path); ; p = parentPath(p)) {
      if (!sizes.has(p)) break;
      sizes.set(p, sizes.get(p)! + x.size);
      if (p === root.path) break;
    }
  }
  return sizes;
}
