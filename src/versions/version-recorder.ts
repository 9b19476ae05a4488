import type { Executor } from '../files/node-repository.ts';
import type { VersionKeeper } from '../files/version-keeper.ts';
import type { FileNode } from '../files/types.ts';
import type { VersionRepository } from './version-repository.ts';
import type { RetentionQueue } from './retention-queue.ts';

/**
 * FilesService's VersionKeeper: inside the write's transaction, the overwritten blob becomes a
 * version row (the same blob and the row seal the file row had: zero copy), and the writer is
 * recorded as the author of the new content. Built before FilesService (which takes it whole);
 * VersionService builds on the same repository.
 */
export class VersionRecorder implements VersionKeeper {
  readonly #repo: VersionRepository;
  readonly #grew: RetentionQueue | undefined;

  /** `grew`: where to mark owners whose versions grew (a prompt expiry when over their space). */
  constructor(repo: VersionRepository, grew?: RetentionQueue) {
    this.#repo = repo;
    this.#grew = grew;
  }

  async keep(ex: Executor, before: FileNode, now: number): Promise<boolean> {
    if (!before.blobId || before.kind !== 'file') return false;
    await this.#repo.insert(ex, {
      fileId: before.fileId, owner: before.owner, version: before.mtime, blobId: before.blobId, blobCodec: before.blobCodec ?? 'plain',
      blobSeal: before.blobSeal ?? null, size: before.size, mimetype: before.mimetype, etag: before.etag, checksum: before.checksum,
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
