import { createHash } from 'node:crypto';
import type { LinkActor, UserActor } from '../actor.ts';
import { ForbiddenError, NotFoundError } from '../errors.ts';
import type { FilesService } from '../files/files-service.ts';
import { joinPath, normalizePath } from '../files/paths.ts';
import type { FileNode } from '../files/types.ts';
import type { Logger } from '../logger.ts';
import { assertPermitted } from '../sharing/share-access.ts';
import type { ShareWithNode } from '../sharing/share-repository.ts';
import type { ShareResolver } from '../sharing/share-resolver.ts';
import { has, PERMISSION_READ } from '../sharing/share-types.ts';
import { readAll } from '../storage/blob-store.ts';
import type { PreviewStore } from './preview-store.ts';
import { specKey, type PreviewSpec } from './preview-spec.ts';
import type { Thumbnailer } from './thumbnailer.ts';

/** The (unquoted) ETag of a preview: a digest of the file's id, version and etag, and the spec. */
export function previewEtag(node: Pick<FileNode, 'fileId' | 'etag' | 'blobId'>, spec: PreviewSpec): string {
  return createHash('sha256').update(`${node.fileId}\0${node.etag}\0${node.blobId ?? ''}\0${specKey(spec)}`).digest('base64url').slice(0, 27);
}

/** A preview ready to send. */
export interface Preview {
  readonly data: Buffer;
  readonly mimetype: string;
  /** Unquoted; changes with the file's version and the spec. */
  readonly etag: string;
  /** Whether it came from the cache. */
  readonly cached: boolean;
}

export interface PreviewServiceDeps {
  files: FilesService;
  shareResolver: ShareResolver;
  store: PreviewStore;
  thumbnailer: Thumbnailer;
  log: Logger;
}

/**
 * Previews of image files, on demand: looked up in the (encrypted) cache by file version and size,
 * else made from the file's content within the Thumbnailer's budget and cached. Who may see a
 * preview is decided exactly as who may download the file: the owner, a recipient of a share with
 * read permission that contains the file, a visitor of a link with read permission.
 * Content reads go through FilesService.openNode, which decrypts with the keys the key policy gives the actor
 * (the adapter runs it with the actor's grant, as for a download).
 */
export class PreviewService {
  readonly #files: FilesService;
  readonly #resolver: ShareResolver;
  readonly #store: PreviewStore;
  readonly #thumbs: Thumbnailer;
  readonly #log: Logger;

  constructor(deps: PreviewServiceDeps) {
    this.#files = deps.files;
    this.#resolver = deps.shareResolver;
    this.#store = deps.store;
    this.#thumbs = deps.thumbnailer;
    this.#log = deps.log;
  }

  /** Whether the file gets a preview (`nc:has-preview`): an image type we decode, within the size budget. */
  hasPreview(node: Pick<FileNode, 'kind' | 'mimetype' | 'size'>): boolean {
    return node.kind === 'file' && this.#thumbs.accepts(node.mimetype, node.size);
  }

  /** Deletes the previews of versions that no file has any more (after encrypt-all/decrypt-all). */
  purgeOrphans(): Promise<number> { return this.#store.purgeOrphans(); }

  /**
   * The file `fileId` as `actor` may read it: their own, or inside a share they received with read
   * permission. Anything else is "not found" (as Nextcloud's getFirstNodeById, it does not tell
   * whether the id exists).
   * @throws NotFoundError; database errors
   */
  async nodeById(actor: UserActor, fileId: number): Promise<FileNode> {
    const node = await this.#files.getById(fileId); // NotFoundError: the same answer as below
    if (node.owner === actor.uid) return node;
    for (const m of await this.#resolver.mountsOf(actor.uid)) {
      if (m.owner !== node.owner || !has(m.permissions, PERMISSION_READ)) continue;
      if (m.node.path === node.path || m.node.path === '' || node.path.startsWith(`${m.node.path}/`)) return node;
    }
    throw new NotFoundError(`file ${fileId} not found`);
  }

  /**
   * The file at `path` of `actor`'s tree (their own or a received share's).
   * @throws NotFoundError; ForbiddenError when the share does not permit reading; ValidationError (path)
   */
  async nodeByPath(actor: UserActor, path: string): Promise<FileNode> {
    const r = await this.#resolver.resolve(actor.uid, path);
    assertPermitted(r, 'read');
    return this.#files.stat(r.owner, r.path);
  }

  /**
   * The file of a public link: the shared file, or `rel` below a shared folder. The caller has
   * checked the link (token, password); this checks what it permits.
   * @throws ForbiddenError (upload-only link); NotFoundError; ValidationError (path)
   */
  async nodeInLink(link: ShareWithNode, rel: string): Promise<FileNode> {
    if (!has(link.share.permissions, PERMISSION_READ)) throw new ForbiddenError('This share does not allow downloads');
    if (link.node.kind !== 'dir') return link.node;
    const p = normalizePath(rel);
    if (p === '') throw new NotFoundError('a folder has no preview');
    return this.#files.stat(link.node.owner, joinPath(link.node.path, p));
  }

  /**
   * The preview of `node` to `spec`, for `actor` (who has been found allowed to read it).
   * @throws NotFoundError (a folder, not an image we decode, too large, damaged: no preview);
   *   PreviewBusyError; CryptoError from the content
   */
  async preview(actor: UserActor | LinkActor, node: FileNode, spec: PreviewSpec): Promise<Preview> {
    if (node.kind !== 'file' || !node.blobId || !this.hasPreview(node)) throw new NotFoundError('no preview for this file');
    const key = specKey(spec);
    const etag = previewEtag(node, spec);
    const src = { fileId: node.fileId, owner: node.owner, blobId: node.blobId };
    const hit = await this.#store.get(actor, src, key);
    if (hit) return { ...hit, etag, cached: true };
    const thumb = await this.#thumbs.render(async () => readAll((await this.#files.openNode(actor, node)).stream), spec);
    const out = { data: thumb.data, mimetype: thumb.mimetype };
    try {
      await this.#store.put(actor, src, key, out);
      // versions the release hook missed (a crash between commit and cleanup)
      await this.#store.dropStale(node.fileId, node.blobId);
    } catch (err) {
      // the preview is still good to send; it is made again next time
      this.#log.warn({ err, fileId: node.fileId }, 'could not cache a preview');
    }
    return { ...out, etag, cached: false };
  }
}
