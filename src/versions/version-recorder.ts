import type { RowSealer } from '../db/row-sealer.ts';
import type { Executor } from '../files/node-repository.ts';
import type { VersionKeeper } from '../files/version-keeper.ts';
import type { FileNode } from '../files/types.ts';
import type { VersionRepository } from './version-repository.ts';
import type { RetentionQueue } from './retention-queue.ts';

/**
 * FilesService's VersionKeeper: inside the write's transaction, the overwritten blob becomes a
 * version row (the same blob, no copy; its seal moves to the version domain, see #versionSeal), and
 * the writer is recorded as the author of the new content. Built before FilesService (which takes it whole);
 * VersionService builds on the same repository.
 */
export class VersionRecorder implements VersionKeeper {
  readonly #repo: VersionRepository;
  readonly #grew: RetentionQueue | undefined;
  readonly #sealer: RowSealer | undefined;

  /**
   * `grew`: where to mark owners whose versions grew (a prompt expiry when over their space);
   * `sealer`: row seals, when configured.
   */
  constructor(repo: VersionRepository, opts: { grew?: RetentionQueue; sealer?: RowSealer } = {}) {
    this.#repo = repo;
    this.#grew = opts.grew;
    this.#sealer = opts.sealer;
  }

  /**
   * The seal of the version `before`'s content becomes: the version domain's when its file row's
   * seal matches; otherwise the row's own seal, unchanged, so a tampered row stays refused instead
   * of being sealed anew.
   */
  #versionSeal(before: FileNode): string | null {
    const seal = before.blobSeal ?? null;
    if (!this.#sealer || !before.blobId) return seal;
    const codec = before.blobCodec ?? 'plain';
    if (!this.#sealer.matches(this.#sealer.node(before.fileId, before.blobId, codec, before.size), seal)) return seal;
    return this.#sealer.version(before.fileId, before.blobId, codec, before.size);
  }

  async keep(ex: Executor, before: FileNode, now: number): Promise<boolean> {
    if (!before.blobId || before.kind !== 'file') return false;
    await this.#repo.insert(ex, {
      fileId: before.fileId, owner: before.owner, version: before.mtime, blobId: before.blobId, blobCodec: before.blobCodec ?? 'plain',
      blobSeal: this.#versionSeal(before), size: before.size, mimetype: before.mimetype, etag: before.etag, checksum: before.checksum,
      label: null, createdAt: now,
    });
    this.#grew?.mark(before.owner);
    return true;
  }

  async wrote(ex: Executor, file: Pick<FileNode, 'fileId' | 'owner'>, author: string, created: boolean): Promise<void> {
    if (created && author === file.owner) return; // no row means the owner
    await this.#repo.setAuthor(ex, file.fileId, author, file.owner);
  }
}
