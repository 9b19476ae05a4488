import { randomBytes } from 'node:crypto';
import { sql, type Transaction } from 'kysely';
import type { Db } from '../db/database.ts';
import { num, type Database, type NodesTable } from '../db/schema.ts';
import type { DeadProperty, FileNode, PropPatchOp } from './types.ts';
import { ancestorsOf } from './paths.ts';

/** A database handle or an open transaction. */
export type Executor = Db | Transaction<Database>;

type NodeRow = { [K in keyof NodesTable]: NodesTable[K] extends { __select__: infer S } ? S : NodesTable[K] };

/** A fresh etag (16 hex chars). */
export function newEtag(): string {
  return randomBytes(8).toString('hex');
}

/** Maps a `nodes` row to a FileNode. */
export function toNode(r: Record<string, unknown>): FileNode {
  const row = r as unknown as NodeRow;
  return {
    fileId: num(row.fileid as number),
    owner: row.owner,
    parentId: row.parent_id === null ? null : num(row.parent_id),
    path: row.path,
    name: row.name,
    kind: row.kind,
    size: num(row.size as number),
    mtime: num(row.mtime as number),
    etag: row.etag,
    mimetype: row.mimetype,
    checksum: row.checksum,
    favorite: num(row.favorite) === 1,
    blobId: row.blob_id,
    blobCodec: row.blob_codec,
  };
}

/** Lower and upper bounds of the subtree below `p` (exclusive of `p`): path >= lo AND path < hi. */
export function subtreeBounds(p: string): { lo: string; hi: string } {
  return p === '' ? { lo: '', hi: '\u{10FFFF}' } : { lo: `${p}/`, hi: `${p}0` };
}

/**
 * The queries on the `nodes` and `properties` tables. Every method takes the executor to use, so
 * the service composes them inside one transaction.
 */
export class NodeRepository {
  readonly #db: Db;
  constructor(db: Db) { this.#db = db; }

  get db(): Db { return this.#db; }

  /** Allocates a new file id (ids are needed before content is written). */
  async allocateFileId(ex: Executor = this.#db): Promise<number> {
    const row = await ex.insertInto('file_ids').defaultValues().returning('id').executeTakeFirstOrThrow();
    return num(row.id);
  }

  async byPath(ex: Executor, owner: string, path: string): Promise<FileNode | undefined> {
    const row = await ex.selectFrom('nodes').selectAll().where('owner', '=', owner).where('path', '=', path).executeTakeFirst();
    return row ? toNode(row) : undefined;
  }

  async byId(ex: Executor, fileId: number): Promise<FileNode | undefined> {
    const row = await ex.selectFrom('nodes').selectAll().where('fileid', '=', fileId).executeTakeFirst();
    return row ? toNode(row) : undefined;
  }

  async children(ex: Executor, parentId: number): Promise<FileNode[]> {
    const rows = await ex.selectFrom('nodes').selectAll().where('parent_id', '=', parentId).orderBy('name').execute();
    return rows.map(toNode);
  }

  /** All nodes strictly below `path`, ordered by path. */
  async descendants(ex: Executor, owner: string, path: string): Promise<FileNode[]> {
    const { lo, hi } = subtreeBounds(path);
    let q = ex.selectFrom('nodes').selectAll().where('owner', '=', owner).where('path', '>=', lo).where('path', '<', hi);
    if (path === '') q = q.where('path', '<>', '');
    return (await q.orderBy('path').execute()).map(toNode);
  }

  async insert(ex: Executor, n: Omit<FileNode, 'favorite'> & { favorite?: boolean }): Promise<FileNode> {
    await ex.insertInto('nodes').values({
      fileid: n.fileId, owner: n.owner, parent_id: n.parentId, path: n.path, name: n.name, kind: n.kind,
      size: n.size, mtime: n.mtime, etag: n.etag, mimetype: n.mimetype, blob_id: n.blobId, blob_codec: n.blobCodec,
      checksum: n.checksum, favorite: n.favorite ? 1 : 0,
    }).execute();
    return { ...n, favorite: n.favorite ?? false };
  }

  /**
   * Adds `sizeDelta` to every ancestor of `path` and gives them a new etag, so that sync clients
   * see the change from the root down. `touchParentMtime` also sets the direct parent's mtime.
   */
  async propagate(ex: Executor, owner: string, path: string, sizeDelta: number, touchParentMtime?: number): Promise<void> {
    const ancestors = ancestorsOf(path);
    if (ancestors.length === 0) return;
    const etag = newEtag();
    await ex.updateTable('nodes')
      .set({ etag, size: sql`size + ${sizeDelta}` as never })
      .where('owner', '=', owner).where('path', 'in', ancestors)
      .execute();
    if (touchParentMtime !== undefined) {
      await ex.updateTable('nodes').set({ mtime: touchParentMtime })
        .where('owner', '=', owner).where('path', '=', ancestors[ancestors.length - 1]).execute();
    }
  }

  /** Deletes a node and its subtree with their properties; returns the blob ids that were referenced. */
  async deleteSubtree(ex: Executor, node: FileNode): Promise<string[]> {
    const { lo, hi } = subtreeBounds(node.path);
    const below = ex.selectFrom('nodes').select('fileid').where('owner', '=', node.owner).where('path', '>=', lo).where('path', '<', hi);
    const blobRows = await ex.selectFrom('nodes').select('blob_id')
      .where('owner', '=', node.owner)
      .where((eb) => eb.or([eb('fileid', '=', node.fileId), eb.and([eb('path', '>=', lo), eb('path', '<', hi)])]))
      .where('blob_id', 'is not', null).execute();
    await ex.deleteFrom('properties').where((eb) => eb.or([eb('fileid', '=', node.fileId), eb('fileid', 'in', below)])).execute();
    await ex.deleteFrom('nodes').where('owner', '=', node.owner).where('path', '>=', lo).where('path', '<', hi).execute();
    await ex.deleteFrom('nodes').where('fileid', '=', node.fileId).execute();
    return blobRows.map((r) => r.blob_id!).filter(Boolean);
  }

  /** Renames `node` to `dst` under `dstParentId`, rewriting every descendant's path in one statement. */
  async relocate(ex: Executor, node: FileNode, dst: string, dstName: string, dstParentId: number): Promise<void> {
    const { lo, hi } = subtreeBounds(node.path);
    if (node.kind === 'dir') {
      await ex.updateTable('nodes')
        .set({ path: sql`${dst} || substr(path, ${node.path.length + 1})` as never })
        .where('owner', '=', node.owner).where('path', '>=', lo).where('path', '<', hi)
        .execute();
    }
    await ex.updateTable('nodes').set({ path: dst, name: dstName, parent_id: dstParentId }).where('fileid', '=', node.fileId).execute();
  }

  async properties(ex: Executor, fileIds: number[]): Promise<Map<number, DeadProperty[]>> {
    const out = new Map<number, DeadProperty[]>();
    if (fileIds.length === 0) return out;
    for (let i = 0; i < fileIds.length; i += 500) {
      const rows = await ex.selectFrom('properties').selectAll().where('fileid', 'in', fileIds.slice(i, i + 500)).execute();
      for (const r of rows) {
        const id = num(r.fileid);
        const list = out.get(id) ?? [];
        list.push({ namespace: r.namespace, name: r.name, value: r.value });
        out.set(id, list);
      }
    }
    return out;
  }

  async applyPropPatch(ex: Executor, fileId: number, ops: PropPatchOp[]): Promise<void> {
    for (const op of ops) {
      if (op.op === 'set') {
        await ex.insertInto('properties').values({ fileid: fileId, namespace: op.prop.namespace, name: op.prop.name, value: op.prop.value })
          .onConflict((oc) => oc.columns(['fileid', 'namespace', 'name']).doUpdateSet({ value: op.prop.value }))
          .execute();
      } else {
        await ex.deleteFrom('properties').where('fileid', '=', fileId).where('namespace', '=', op.namespace).where('name', '=', op.name).execute();
      }
    }
  }

  async copyProperties(ex: Executor, fromId: number, toId: number): Promise<void> {
    const rows = await ex.selectFrom('properties').selectAll().where('fileid', '=', fromId).execute();
    if (rows.length) await ex.insertInto('properties').values(rows.map((r) => ({ ...r, fileid: toId }))).execute();
  }

  async userQuota(ex: Executor, uid: string): Promise<number | null> {
    const row = await ex.selectFrom('users').select('quota').where('uid', '=', uid).executeTakeFirst();
    return row?.quota === null || row?.quota === undefined ? null : num(row.quota);
  }
}
