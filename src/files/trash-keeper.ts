import type { Executor } from './node-repository.ts';
import type { FileNode } from './types.ts';

/**
 * The port through which a replacing COPY or MOVE puts the node it replaces in the trash bin
 * (src/trash/ implements it), inside the operation's transaction: the replaced file comes back
 * with its file id and versions, as after a DELETE. (A file copied onto a file is an overwrite
 * instead: its previous content becomes a version, see VersionKeeper.)
 */
export interface TrashKeeper {
  /** Moves `node` and its subtree out of the tree into its owner's trash (`deletedBy` acted). */
  keep(ex: Executor, node: FileNode, deletedBy: string, now: number): Promise<void>;
}
