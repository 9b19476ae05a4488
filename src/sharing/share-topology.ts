import type { Db } from '../db/database.ts';
import { NodeRepository } from '../files/node-repository.ts';
import { parentPath } from '../files/paths.ts';
import { TrashRepository } from '../trash/trash-repository.ts';
import { VersionRepository } from '../versions/version-repository.ts';
import { FORMAT_ID } from '../crypto/format.ts';
import type { ShareTopology } from '../encryption/share-keys/share-keys.ts';

/** Paths of `p` and of each folder above it (not the root, which cannot be shared). */
function selfAndAncestors(p: string): string[] {
  const out: string[] = [];
  for (let cur = p; cur !== ''; cur = cur.includes('/') ? cur.slice(0, cur.lastIndexOf('/')) : '') out.push(cur);
  return out;
}

/**
 * Answers the share-key layer's questions from the node repository: which shared nodes enclose a
 * file, which lie below a node, which encrypted files a node holds. A shared node is one with at
 * least one share row, expired or not (keys stay until the share is deleted). A node's content
 * includes its files' versions and the items share recipients deleted from below it (they see and
 * restore both); a trashed file is enclosed by the shared nodes above where it was deleted from.
 */
export class DbShareTopology implements ShareTopology {
  readonly #db: Db;
  readonly #nodes: NodeRepository;
  readonly #versions = new VersionRepository();
  readonly #trash = new TrashRepository();
  constructor(db: Db) { this.#db = db; this.#nodes = new NodeRepository(db); }

  async #owned(owner: string, fileId: number) {
    const node = await this.#nodes.byId(this.#db, fileId);
    return node?.owner === owner ? node : undefined;
  }

  async sharedAncestors(owner: string, fileId: number): Promise<number[]> {
    const node = await this.#owned(owner, fileId);
    // a trashed node: the folders above where it was deleted from (not a node now at its old path)
    const paths = node ? selfAndAncestors(node.path) : await this.#trashedAncestors(owner, fileId);
    if (paths.length === 0) return [];
    const rows = await this.#nodes.sharedNodes(this.#db, owner, { paths });
    return rows.sort((a, b) => b.path.length - a.path.length).map((r) => r.fileId);
  }

  async sharedBelow(owner: string, nodeFileId: number): Promise<number[]> {
    const node = await this.#owned(owner, nodeFileId);
    if (!node) return [];
    const rows = await this.#nodes.sharedNodes(this.#db, owner, { below: node.path });
    return rows.map((r) => r.fileId).filter((id) => id !== nodeFileId);
  }

  async encryptedFilesBelow(owner: string, nodeFileId: number): Promise<{ fileId: number; blobId: string }[]> {
    const node = await this.#owned(owner, nodeFileId);
    if (!node) return [];
    const versions = await this.#versions.blobsAtOrBelow(this.#db, owner, node.path, FORMAT_ID);
    if (node.kind === 'file') return [...node.blobId && node.blobCodec === FORMAT_ID ? [{ fileId: nodeFileId, blobId: node.blobId }] : [], ...versions];
    return [
      ...await this.#nodes.filesBelowWithCodec(this.#db, owner, node.path, FORMAT_ID), ...versions,
      ...await this.#trash.filesDeletedByOthersBelow(this.#db, owner, node.path, FORMAT_ID),
    ];
  }

  /** The paths above where trashed node `fileId` was deleted from ([] when it is not in `owner`'s trash). */
  async #trashedAncestors(owner: string, fileId: number): Promise<string[]> {
    const at = await this.#trash.originalPathOf(this.#db, owner, fileId);
    return at === undefined ? [] : selfAndAncestors(parentPath(at));
  }
}
