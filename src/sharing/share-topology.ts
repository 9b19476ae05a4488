import type { Db } from '../db/database.ts';
import { num } from '../db/schema.ts';
import { subtreeBounds } from '../files/node-repository.ts';
import type { ShareTopology } from '../encryption/share-keys/share-keys.ts';

/** Paths of `p` and of each folder above it (not the root, which cannot be shared). */
function selfAndAncestors(p: string): string[] {
  const out: string[] = [];
  for (let cur = p; cur !== ''; cur = cur.includes('/') ? cur.slice(0, cur.lastIndexOf('/')) : '') out.push(cur);
  return out;
}

/**
 * Answers the share-key layer's questions from the database (nodes and shares tables): which
 * shared nodes enclose a file, which lie below a node, which encrypted files a node holds. A shared
 * node is one with at least one share row, expired or not (keys stay until the share is deleted).
 */
export class DbShareTopology implements ShareTopology {
  readonly #db: Db;
  constructor(db: Db) { this.#db = db; }

  async sharedAncestors(owner: string, fileId: number): Promise<number[]> {
    const row = await this.#db.selectFrom('nodes').select(['owner', 'path']).where('fileid', '=', fileId).executeTakeFirst();
    if (!row || row.owner !== owner || row.path === '') return [];
    const paths = selfAndAncestors(row.path);
    const rows = await this.#db.selectFrom('nodes as n').innerJoin('shares as s', 's.file_id', 'n.fileid')
      .select(['n.fileid', 'n.path']).distinct()
      .where('n.owner', '=', owner).where('n.path', 'in', paths).execute();
    return rows.sort((a, b) => b.path.length - a.path.length).map((r) => num(r.fileid));
  }

  async sharedBelow(owner: string, nodeFileId: number): Promise<number[]> {
    const node = await this.#db.selectFrom('nodes').select(['owner', 'path']).where('fileid', '=', nodeFileId).executeTakeFirst();
    if (!node || node.owner !== owner) return [];
    const { lo, hi } = subtreeBounds(node.path);
    const rows = await this.#db.selectFrom('nodes as n').innerJoin('shares as s', 's.file_id', 'n.fileid')
      .select('n.fileid').distinct()
      .where('n.owner', '=', owner).where('n.path', '>=', lo).where('n.path', '<', hi).execute();
    return rows.map((r) => num(r.fileid)).filter((id) => id !== nodeFileId);
  }

  async encryptedFilesBelow(owner: string, nodeFileId: number): Promise<{ fileId: number; blobId: string }[]> {
    const node = await this.#db.selectFrom('nodes').select(['owner', 'path', 'kind', 'blob_id', 'blob_codec']).where('fileid', '=', nodeFileId).executeTakeFirst();
    if (!node || node.owner !== owner) return [];
    if (node.kind === 'file') return node.blob_id && node.blob_codec === 'cfe1' ? [{ fileId: nodeFileId, blobId: node.blob_id }] : [];
    const { lo, hi } = subtreeBounds(node.path);
    const rows = await this.#db.selectFrom('nodes').select(['fileid', 'blob_id'])
      .where('owner', '=', owner).where('kind', '=', 'file').where('blob_codec', '=', 'cfe1')
      .where('path', '>=', lo).where('path', '<', hi).execute();
    return rows.filter((r) => r.blob_id !== null).map((r) => ({ fileId: num(r.fileid), blobId: r.blob_id! }));
  }
}
