import type { Actor } from '../actor.ts';

/**
 * What the files layer tells about content that landed in a tree, for bookkeeping that depends on
 * where content sits: per-user-key sharing adds data keys to a shared folder's keyring
 * (sharing/share-key-sync.ts). Passed to FilesService at construction; absent means nothing to do.
 * Implementations never throw (a failure is theirs to log).
 */
export interface ContentEvents {
  /**
   * A write by `actor` committed blob `blobId` as the content of `fileId` in `owner`'s tree;
   * `keyId` is the hex id of the key the blob store wrapped its data key under (undefined: plain).
   */
  afterWrite(actor: Actor, owner: string, fileId: number, blobId: string, keyId: string | undefined): Promise<void>;
  /** Files arrived at or below `fileId` of `owner`'s tree by `actor` (a copy, a move from another tree, or below another shared node). */
  afterArrival(actor: Actor, owner: string, fileId: number): Promise<void>;
  /** Nodes at or above `fileId` of `owner`'s tree whose placement matters (shared nodes), nearest first. */
  sharedAncestors(owner: string, fileId: number): Promise<number[]>;
}
