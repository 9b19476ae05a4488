/**
 * The port through which the files service reports committed changes to a tree (the push
 * notifications listen here). It is told after the commit, never inside a transaction, and it
 * must not throw or block: reporting is best effort and a write never fails because of it.
 */

/** One committed change: a node of `owner`'s tree at `path` (the node itself, or a moved/deleted one). */
export interface TreeChange {
  readonly owner: string;
  /** Canonical path in the owner's tree ('' = root). */
  readonly path: string;
  /** The node's file id, when one is known (a deleted node's id, a written file's id). */
  readonly fileId?: number;
}

export interface TreeChangeSink {
  /** Called once per committed change; returns at once (work happens asynchronously). */
  changed(change: TreeChange): void;
}
