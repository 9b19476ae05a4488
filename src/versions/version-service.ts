import type { Actor } from '../actor.ts';
import { transact, type Db } from '../db/database.ts';
import { ConflictError, ForbiddenError, NotFoundError, ValidationError } from '../errors.ts';
import type { FilesService } from '../files/files-service.ts';
import { newEtag, type NodeRepository } from '../files/node-repository.ts';
import type { FileContent, FileNode } from '../files/types.ts';
import type { Logger } from '../logger.ts';
import type { BlobStore, ByteRange } from '../storage/blob-store.ts';
import { ancestorsOf } from '../files/paths.ts';
import type { VersionRepository, FileVersion } from './version-repository.ts';
import type { VersionRecorder } from './version-recorder.ts';

/** Versions removed per transaction by versions:cleanup. */
const CLEANUP_PAGE = 500;

/** Share permission bits this service needs (sharing/share-types.ts: read 1, update 2). */
const READ = 1;
const UPDATE = 2;

/**
 * What a user may do on a node of another user's tree through received shares (0: nothing).
 * Implemented over the share resolver (src/versions/share-permissions.ts).
 */
export type SharePermissions = (uid: string, node: Pick<FileNode, 'owner' | 'path'>) => Promise<number>;

export interface VersionServiceDeps {
  db: Db;
  repo: VersionRepository;
  /** The keeper FilesService writes through (the restore keeps the current content the same way). */
  recorder: VersionRecorder;
  nodes: NodeRepository;
  files: FilesService;
  /** The store the version blobs live in (as FilesService's). */
  blobs: BlobStore;
  log: Logger;
  permissions: SharePermissions;
  /** Seconds since the epoch (tests pass a controlled clock). */
  now?: () => number;
}

/** The maximum length of a version label (Nextcloud's column is 255). */
export const MAX_LABEL = 255;

/**
 * Versions of files (issue #15), Nextcloud's files_versions with zero copy: an overwrite keeps the
 * previous blob as the version (the row points at it; the encryption header still binds it to the
 * file id and its blob id, and its row seal is the one the file row had), a restore swaps blobs
 * back (the current content becomes a version in turn; the file keeps its id). Owners and share
 * recipients (read to list and download, update to restore, label and delete) act on them.
 */
export class VersionService {
  readonly #db: Db;
  readonly #nodes: NodeRepository;
  readonly #files: FilesService;
  readonly #blobs: BlobStore;
  readonly #log: Logger;
  readonly #permissions: SharePermissions;
  readonly #now: () => number;
  readonly repo: VersionRepository;
  readonly #recorder: VersionRecorder;

  constructor(deps: VersionServiceDeps) {
    this.#db = deps.db;
    this.repo = deps.repo;
    this.#recorder = deps.recorder;
    this.#nodes = deps.nodes;
    this.#files = deps.files;
    this.#blobs = deps.blobs;
    this.#log = deps.log;
    this.#permissions = deps.permissions;
    this.#now = deps.now ?? (() => Math.floor(Date.now() / 1000));
  }

  // --- the API (DAV, web) ---

  /**
   * The file `fileId` as `actor` may see it, with the permissions they have on it.
   * @throws NotFoundError (no such file, a folder, or not visible to the actor)
   */
  async file(actor: Actor, fileId: number): Promise<{ node: FileNode; permissions: number }> {
    const node = await this.#nodes.byId(this.#db, fileId);
    if (!node || node.kind !== 'file') throw new NotFoundError(`file ${fileId} does not exist`);
    if (actor.kind === 'system') return { node, permissions: 31 };
    if (actor.kind !== 'user') throw new NotFoundError(`file ${fileId} does not exist`);
    if (node.owner === actor.uid) return { node, permissions: 31 };
    const permissions = await this.#permissions(actor.uid, node);
    if ((permissions & READ) === 0) throw new NotFoundError(`file ${fileId} does not exist`);
    return { node, permissions };
  }

  /**
   * The versions of a file, newest first, with the author of its current content and the
   * actor's permissions on it (update: may restore, label, delete). @throws NotFoundError
   */
  async list(actor: Actor, fileId: number): Promise<{ node: FileNode; versions: FileVersion[]; author: string | null; permissions: number }> {
    const { node, permissions } = await this.file(actor, fileId);
    const versions = await this.repo.list(this.#db, node.fileId);
    const author = await this.repo.authorOf(this.#db, node.fileId, node.owner);
    return { node, versions, author, permissions };
  }

  /** One version. @throws NotFoundError */
  async get(actor: Actor, fileId: number, version: number): Promise<{ node: FileNode; version: FileVersion; permissions: number }> {
    const { node, permissions } = await this.file(actor, fileId);
    const v = await this.repo.get(this.#db, node.fileId, version);
    if (!v) throw new NotFoundError(`version ${version} of file ${fileId} does not exist`);
    return { node, version: v, permissions };
  }

  /** The version as a file node (its blob, size, seal), for reading. */
  asNode(node: FileNode, v: FileVersion): FileNode {
    return {
      ...node, size: v.size, mtime: v.version, etag: v.etag, mimetype: v.mimetype, checksum: v.checksum,
      blobId: v.blobId, blobCodec: v.blobCodec, blobSeal: v.blobSeal, sealedAs: 'version',
    };
  }

  /**
   * Opens a version's content (a range of it): decrypted and verified against the file id and its
   * own blob id, and against the row seal it kept. @throws NotFoundError; CryptoError when tampered
   */
  async open(actor: Actor, fileId: number, version: number, range?: ByteRange): Promise<FileContent> {
    const { node, version: v } = await this.get(actor, fileId, version);
    return this.#files.openNode(actor, this.asNode(node, v), range);
  }

  /**
   * Makes a version the file's content again: the version's blob becomes the file's (no copy),
   * the current content becomes a version, the file keeps its id; its mtime becomes the version's
   * (as Nextcloud's rollback touches the file).
   * @throws NotFoundError; ForbiddenError without update permission; ConflictError on a concurrent write;
   *   CryptoError (audited, nothing changed) when the version's row does not match its seal
   */
  async restore(actor: Actor, fileId: number, version: number): Promise<FileNode> {
    const { node: seen, permissions } = await this.get(actor, fileId, version);
    if ((permissions & UPDATE) === 0) throw new ForbiddenError('no permission to restore versions of this file');
    const now = this.#now();
    let previous: string | null = null;
    const restored = await transact(this.#db, async (trx) => {
      const cur = await this.#nodes.byId(trx, seen.fileId);
      const v = await this.repo.get(trx, seen.fileId, version);
      if (!cur || !v) throw new NotFoundError(`version ${version} of file ${fileId} does not exist`);
      // the file row is sealed anew over the version's fields: they must be the version's own
      this.#files.verifyRow(actor, this.asNode(cur, v));
      const author = await this.repo.authorOf(trx, cur.fileId, cur.owner);
      await this.repo.remove(trx, [v.id]);
      if (cur.blobId) await this.#recorder.keep(trx, cur, now);
      previous = cur.blobId;
      const etag = newEtag();
      const swapped = await this.#nodes.swapContent(trx, cur.fileId, cur.blobId, {
        blobId: v.blobId, blobCodec: v.blobCodec, size: v.size, mtime: v.version, etag, checksum: v.checksum, mimetype: v.mimetype,
      });
      if (!swapped) throw new ConflictError(`${cur.path} changed during the restore`);
      await this.repo.setAuthor(trx, cur.fileId, v.author ?? author, cur.owner);
      await this.#nodes.propagate(trx, cur.owner, cur.path, v.size - cur.size);
      return { ...cur, blobId: v.blobId, blobCodec: v.blobCodec, size: v.size, mtime: v.version, etag, checksum: v.checksum, mimetype: v.mimetype };
    });
    this.#log.info({ fileId, version, by: actor.kind === 'user' ? actor.uid : actor.kind }, 'version restored');
    await this.#files.changedElsewhere(restored.owner, restored.path, restored.fileId, previous ? [previous] : [], { action: 'restored', actor });
    return restored;
  }

  /** Sets (or clears, with '') a version's label. @throws NotFoundError, ForbiddenError, ValidationError */
  async setLabel(actor: Actor, fileId: number, version: number, label: string): Promise<void> {
    const { version: v, permissions } = await this.get(actor, fileId, version);
    if ((permissions & UPDATE) === 0) throw new ForbiddenError('no permission to label versions of this file');
    const trimmed = label.trim();
    if ([...trimmed].length > MAX_LABEL) throw new ValidationError(`a version label is limited to ${MAX_LABEL} characters`);
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(trimmed)) throw new ValidationError('a version label cannot contain control characters');
    await this.repo.setLabel(this.#db, v.id, trimmed === '' ? null : trimmed);
  }

  /** Deletes one version for good. @throws NotFoundError, ForbiddenError */
  async delete(actor: Actor, fileId: number, version: number): Promise<void> {
    const { version: v, permissions } = await this.get(actor, fileId, version);
    if ((permissions & UPDATE) === 0) throw new ForbiddenError('no permission to delete versions of this file');
    const blobs = await transact(this.#db, (trx) => this.repo.remove(trx, [v.id]));
    await this.deleteBlobs(blobs);
  }

  /**
   * Deletes every version of `uid`'s files (`versions:cleanup`), a page at a time (flat memory; each
   * page's rows in one transaction, then their blobs). Versions made while it runs stay.
   * @returns how many
   */
  async cleanup(uid: string): Promise<number> {
    const maxId = await this.repo.maxIdOf(this.#db, uid);
    let n = 0;
    for (;;) {
      const page = await this.repo.oldestPage(this.#db, uid, undefined, CLEANUP_PAGE, maxId);
      if (page.length === 0) return n;
      const blobs = await transact(this.#db, (trx) => this.repo.remove(trx, page.map((v) => v.id)));
      await this.deleteBlobs(blobs);
      n += page.length;
    }
  }

  /** Owners with versions. */
  owners(): Promise<string[]> { return this.repo.owners(this.#db); }

  /** Count and bytes of `uid`'s versions. */
  usage(uid: string): Promise<{ count: number; bytes: number }> { return this.repo.usage(this.#db, uid); }

  /** Deletes released blobs; a failure is left to garbage collection. */
  async deleteBlobs(ids: string[]): Promise<void> {
    for (const id of ids) {
      await this.#blobs.delete(id).catch((err: unknown) => this.#log.warn({ err, blobId: id }, 'could not delete blob; garbage collection will'));
    }
  }

  /** Whether `path` of `owner` lies within the shared node `shared` (for share permission checks). */
  static within(node: Pick<FileNode, 'owner' | 'path'>, shared: Pick<FileNode, 'owner' | 'path'>): boolean {
    return node.owner === shared.owner && (node.path === shared.path || ancestorsOf(node.path).includes(shared.path));
  }
}
