import type { Executor } from './node-repository.ts';
import type { FileNode } from './types.ts';

/**
 * The port through which FilesService keeps an overwritten file's content as a version (the
 * versions service implements it, src/versions/). Called inside the write's transaction, so the
 * new content and the version commit together: a crash leaves the old state or the new state with
 * its version, never a lost version or an orphaned blob that garbage collection would take.
 */
export interface VersionKeeper {
  /**
   * Keeps `before`'s blob as a version of its file (no copy: the row points at the same blob).
   * @returns true when the blob is now referenced by a version (the caller must not delete it).
   */
  keep(ex: Executor, before: FileNode, now: number): Promise<boolean>;
  /**
   * Records that `author` wrote the current content of `file` (the author of its future version);
   * `created`: the file is new (so nobody else is on record yet).
   */
  wrote(ex: Executor, file: Pick<FileNode, 'fileId' | 'owner'>, author: string, created: boolean): Promise<void>;
}
