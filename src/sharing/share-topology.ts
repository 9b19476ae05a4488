import type { Db } from '../db/database.ts';
import { NodeRepository } from '../files/node-repository.ts';
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
 * least one share row, expired or not (keys stay until the share is deleted).
 */
export class DbShareTopology implements ShareTopology {
  readonly #db: Db;
  readonly #nodes: NodeRepository;
  constructor(db: Db) { this.#db = db; this.#nodes = new NodeRepository(db); }

  async #owned(owner: string, fileId: number) {
    const node = await this.#nodes.byId(this.#db, fileId);
    return node?.owner === owner ? node : undefined;
  }

  async sharedAncestors(owner: string, fileId: number): Promise<number[]> {
    const node = await this.#owned(owner, fileId);
    if (!node || node.path === '') return [];
    const rows = await this.#nodes.sharedNodes(this.#db, owner, { paths: selfAndAncestors(node.path) });
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
    if (node.kind === 'file') return node.blobId && node.blobCodec === FORMAT_ID ? [{ fileId: nodeFileId, blobId: node.blobId }] : [];
    return this.#nodes.filesBelowWithCodec(this.#db, owner, node.path, FORMAT_ID);
  }
}
