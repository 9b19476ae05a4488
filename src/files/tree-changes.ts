/**
 * The port through which the files service reports committed changes to a tree (push
 * notifications and the activity stream listen here). It is told after the commit, never inside a
 * transaction, and it must not throw or block: reporting is best effort and a write never fails
 * because of it.
 */

/** What happened, for the activity stream (absent: a change it does not record, such as an mtime). */
export type TreeAction = 'created' | 'changed' | 'deleted' | 'restored' | 'moved';

/** One committed change: a node of `owner`'s tree at `path` (the node itself, or a moved/deleted one). */
export interface TreeChange {
  readonly owner: string;
  /** Canonical path in the owner's tree ('' = root). */
  readonly path: string;
  /** The node's file id, when one is known (a deleted node's id, a written file's id). */
  readonly fileId?: number;
  readonly action?: TreeAction;
  /** Who did it: a user id; '' for a public link or the server. */
  readonly by?: string;
  /** A move within one tree ('moved'): the node's path before. */
  readonly from?: string;
}

export interface TreeChangeSink {
  /** Called once per committed change; returns at once (work happens asynchronously). */
  changed(change: TreeChange): void;
}

/** One sink that tells several (push and the activity stream). */
export function fanOut(...sinks: TreeChangeSink[]): TreeChangeSink {
  return { changed(change) { for (const s of sinks) s.changed(change); } };
}
