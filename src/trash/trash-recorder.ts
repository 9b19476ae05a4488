import type { Executor, NodeRepository } from '../files/node-repository.ts';
import type { TrashKeeper } from '../files/trash-keeper.ts';
import type { FileNode } from '../files/types.ts';
import type { TrashItem, TrashRepository } from './trash-repository.ts';
import type { RetentionQueue } from '../versions/retention-queue.ts';

/**
 * Moves a node to the trash inside a given transaction: a trash item row, then the node's rows
 * moved to `trash_nodes` (NodeRepository.moveSubtreeToTrash). The caller adjusts the sizes of the
 * folders above. Built before FilesService (which takes it whole, for replacing COPY/MOVE).
 */
export class TrashRecorder implements TrashKeeper {
  readonly #repo: TrashRepository;
  readonly #nodes: NodeRepository;
  readonly #grew: RetentionQueue | undefined;

  /** `grew`: where to mark owners whose trash grew (a prompt expiry when over their space). */
  constructor(repo: TrashRepository, nodes: NodeRepository, grew?: RetentionQueue) {
    this.#repo = repo;
    this.#nodes = nodes;
    this.#grew = grew;
  }

  async keep(ex: Executor, node: FileNode, deletedBy: string, now: number): Promise<void> {
    await this.trash(ex, node, deletedBy, now);
  }

  /** As keep, returning the item. */
  async trash(ex: Executor, node: FileNode, deletedBy: string, now: number): Promise<TrashItem> {
    const item = await this.#repo.insertItem(ex, {
      owner: node.owner, fileId: node.fileId, name: node.name, originalLocation: node.path, deletedAt: now, deletedBy, kind: node.kind, size: node.size,
    });
    await this.#nodes.moveSubtreeToTrash(ex, node, item.id);
    this.#grew?.mark(node.owner);
    return item;
  }
}
