import { sql } from 'kysely';
import type { Executor } from '../files/node-repository.ts';
import { subtreeBounds } from '../files/node-repository.ts';
import { num } from '../db/schema.ts';
import type { FileNode } from '../files/types.ts';

/** One deleted file or folder (the root of what one delete moved to the trash). */
export interface TrashItem {
  readonly id: number;
  readonly owner: string;
  readonly fileId: number;
  readonly name: string;
  /** Path in the owner's tree it was deleted from. */
  readonly originalLocation: string;
  /** Seconds. Unique per owner and name: Nextcloud's `<name>.d<deleted_at>`. */
  readonly deletedAt: number;
  readonly deletedBy: string;
  readonly kind: 'file' | 'dir';
  readonly size: number;
}

/** A node inside a trash item (`relPath` '' is the item itself). */
export interface TrashNode extends FileNode {
  readonly itemId: number;
  readonly relPath: string;
}

function toItem(r: Record<string, unknown>): TrashItem {
  return {
    id: num(r.id as number), owner: r.owner as string, fileId: num(r.fileid as number), name: r.name as string,
    originalLocation: r.original_location as string, deletedAt: num(r.deleted_at as number), deletedBy: r.deleted_by as string,
    kind: r.kind as 'file' | 'dir', size: num(r.size as number),
  };
}

function toTrashNode(r: Record<string, unknown>): TrashNode {
  return {
    itemId: num(r.item_id as number), relPath: r.rel_path as string,
    fileId: num(r.fileid as number), owner: r.owner as string, parentId: r.parent_id === null ? null : num(r.parent_id as number),
    path: r.rel_path as string, name: r.name as string, kind: r.kind as 'file' | 'dir', size: num(r.size as number),
    mtime: num(r.mtime as number), etag: r.etag as string, mimetype: r.mimetype as string, checksum: (r.checksum ?? null) as string | null,
    favorite: num(r.favorite as number) === 1, blobId: (r.blob_id ?? null) as string | null, blobCodec: (r.blob_codec ?? null) as string | null,
    blobSeal: (r.blob_seal ?? null) as string | null,
  };
}

/** The queries on `trash_items` and `trash_nodes` (the moves from and to `nodes` are NodeRepository's). */
export class TrashRepository {
  /** Inserts an item; `deletedAt` moves on to the next free second for a name deleted twice in one second. */
  async insertItem(ex: Executor, i: Omit<TrashItem, 'id'>): Promise<TrashItem> {
    const taken = new Set((await ex.selectFrom('trash_items').select('deleted_at')
      .where('owner', '=', i.owner).where('name', '=', i.name).where('deleted_at', '>=', i.deletedAt).execute()).map((r) => num(r.deleted_at)));
    let at = i.deletedAt;
    while (taken.has(at)) at++;
    const row = await ex.insertInto('trash_items').values({
      owner: i.owner, fileid: i.fileId, name: i.name, original_location: i.originalLocation, deleted_at: at,
      deleted_by: i.deletedBy, kind: i.kind, size: i.size,
    }).returning('id').executeTakeFirstOrThrow();
    return { ...i, id: num(row.id), deletedAt: at };
  }

  /** Items `uid` sees: their own, and those they deleted from others' shares; newest first. */
  async visibleTo(ex: Executor, uid: string): Promise<TrashItem[]> {
    return (await ex.selectFrom('trash_items').selectAll()
      .where((eb) => eb.or([eb('owner', '=', uid), eb('deleted_by', '=', uid)]))
      .orderBy('deleted_at', 'desc').orderBy('id', 'desc').execute()).map(toItem);
  }

  /** As visibleTo, each item with its root node, in one query (PROPFIND of a large trash). */
  async visibleWithRoots(ex: Executor, uid: string): Promise<{ item: TrashItem; root: TrashNode }[]> {
    const rows = await ex.selectFrom('trash_items as i').innerJoin('trash_nodes as n', (j) => j.onRef('n.item_id', '=', 'i.id').on('n.rel_path', '=', ''))
      .select(['i.id', 'i.owner', 'i.fileid', 'i.name', 'i.original_location', 'i.deleted_at', 'i.deleted_by', 'i.kind', 'i.size',
        'n.item_id', 'n.rel_path', 'n.parent_id', 'n.mtime', 'n.etag', 'n.mimetype', 'n.blob_id', 'n.blob_codec', 'n.checksum', 'n.favorite', 'n.blob_seal'])
      .where((eb) => eb.or([eb('i.owner', '=', uid), eb('i.deleted_by', '=', uid)]))
      .orderBy('i.deleted_at', 'desc').orderBy('i.id', 'desc').execute();
    return rows.map((r) => ({ item: toItem(r), root: toTrashNode(r) }));
  }

  /** Items of `owner` (expiry, cleanup), oldest first. */
  async ofOwner(ex: Executor, owner: string): Promise<TrashItem[]> {
    return (await ex.selectFrom('trash_items').selectAll().where('owner', '=', owner).orderBy('deleted_at').orderBy('id').execute()).map(toItem);
  }

  async owners(ex: Executor): Promise<string[]> {
    return (await ex.selectFrom('trash_items').select('owner').distinct().orderBy('owner').execute()).map((r) => r.owner);
  }

  /** The item named `name` deleted at `deletedAt` that `uid` sees. */
  async find(ex: Executor, uid: string, name: string, deletedAt: number): Promise<TrashItem | undefined> {
    const r = await ex.selectFrom('trash_items').selectAll().where('name', '=', name).where('deleted_at', '=', deletedAt)
      .where((eb) => eb.or([eb('owner', '=', uid), eb('deleted_by', '=', uid)])).orderBy('id').executeTakeFirst();
    return r ? toItem(r) : undefined;
  }

  async byId(ex: Executor, id: number): Promise<TrashItem | undefined> {
    const r = await ex.selectFrom('trash_items').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toItem(r) : undefined;
  }

  async node(ex: Executor, itemId: number, relPath: string): Promise<TrashNode | undefined> {
    const r = await ex.selectFrom('trash_nodes').selectAll().where('item_id', '=', itemId).where('rel_path', '=', relPath).executeTakeFirst();
    return r ? toTrashNode(r) : undefined;
  }

  async children(ex: Executor, itemId: number, parentId: number): Promise<TrashNode[]> {
    return (await ex.selectFrom('trash_nodes').selectAll().where('item_id', '=', itemId).where('parent_id', '=', parentId).orderBy('name').execute()).map(toTrashNode);
  }

  /** The node at `relPath` and everything below it. */
  async subtree(ex: Executor, itemId: number, relPath: string): Promise<TrashNode[]> {
    const { lo, hi } = subtreeBounds(relPath);
    let q = ex.selectFrom('trash_nodes').selectAll().where('item_id', '=', itemId);
    if (relPath !== '') q = q.where((eb) => eb.or([eb('rel_path', '=', relPath), eb.and([eb('rel_path', '>=', lo), eb('rel_path', '<', hi)])]));
    return (await q.orderBy('rel_path').execute()).map(toTrashNode);
  }

  /** Deletes the nodes at and below `relPath` of an item (the item row too when `relPath` is ''). */
  async removeSubtree(ex: Executor, itemId: number, relPath: string): Promise<void> {
    if (relPath === '') {
      await ex.deleteFrom('trash_nodes').where('item_id', '=', itemId).execute();
      await ex.deleteFrom('trash_items').where('id', '=', itemId).execute();
      return;
    }
    const { lo, hi } = subtreeBounds(relPath);
    await ex.deleteFrom('trash_nodes').where('item_id', '=', itemId)
      .where((eb) => eb.or([eb('rel_path', '=', relPath), eb.and([eb('rel_path', '>=', lo), eb('rel_path', '<', hi)])])).execute();
  }

  async deleteItem(ex: Executor, itemId: number): Promise<void> {
    await ex.deleteFrom('trash_items').where('id', '=', itemId).execute();
  }

  /** Takes `bytes` off an item (part of it restored or deleted) and off the trashed folders above `relPath`. */
  async shrink(ex: Executor, itemId: number, relPath: string, bytes: number): Promise<void> {
    await ex.updateTable('trash_items').set({ size: sql`size - ${bytes}` as never }).where('id', '=', itemId).execute();
    const parts = relPath.split('/');
    const above = [''];
    for (let i = 1; i < parts.length; i++) above.push(parts.slice(0, i).join('/'));
    await ex.updateTable('trash_nodes').set({ size: sql`size - ${bytes}` as never }).where('item_id', '=', itemId).where('rel_path', 'in', above).execute();
  }

  /** Count and bytes of `owner`'s trash. */
  async usage(ex: Executor, owner: string): Promise<{ count: number; bytes: number }> {
    const r = await ex.selectFrom('trash_items')
      .select((eb) => [eb.fn.countAll<number | string>().as('n'), sql<number | string | null>`sum(size)`.as('bytes')])
      .where('owner', '=', owner).executeTakeFirstOrThrow();
    return { count: num(r.n), bytes: num(r.bytes) };
  }

  /** Of `blobIds`, those a trashed file references (garbage collection keeps them). */
  async referenced(ex: Executor, blobIds: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    if (blobIds.length === 0) return out;
    for (const r of await ex.selectFrom('trash_nodes').select('blob_id').where('blob_id', 'in', blobIds).execute()) if (r.blob_id) out.add(r.blob_id);
    return out;
  }
}
