import { sql } from 'kysely';
import type { Executor } from '../files/node-repository.ts';
import { subtreeBounds } from '../files/node-repository.ts';
import { num } from '../db/schema.ts';
import type { FileNode } from '../files/types.ts';
import { PLAIN_CODEC } from '../storage/blob-store.ts';
import type { StorageFilter, StoredFile } from '../encryption/file-rows.ts';

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

/** Where a trashed node was deleted from: its item's original location, plus its path inside the item. */
export function trashedPath(originalLocation: string, relPath: string): string {
  return relPath === '' ? originalLocation : `${originalLocation}/${relPath}`;
}

/** The queries on `trash_items` and `trash_nodes` (the moves from and to `nodes` are NodeRepository's). */
export class TrashRepository {
  /**
   * Inserts an item; `deletedAt` moves on to the next free second for a name deleted twice in one
   * second. A concurrent transaction taking the same second (PostgreSQL: both read it free) makes
   * the insert do nothing (it waits for that one to commit), and the next second is tried.
   */
  async insertItem(ex: Executor, i: Omit<TrashItem, 'id'>): Promise<TrashItem> {
    const taken = new Set((await ex.selectFrom('trash_items').select('deleted_at')
      .where('owner', '=', i.owner).where('name', '=', i.name).where('deleted_at', '>=', i.deletedAt).execute()).map((r) => num(r.deleted_at)));
    let at = i.deletedAt;
    for (;;) {
      while (taken.has(at)) at++;
      const row = await ex.insertInto('trash_items').values({
        owner: i.owner, fileid: i.fileId, name: i.name, original_location: i.originalLocation, deleted_at: at,
        deleted_by: i.deletedBy, kind: i.kind, size: i.size,
      }).onConflict((oc) => oc.columns(['owner', 'name', 'deleted_at']).doNothing()).returning('id').executeTakeFirst();
      if (row) return { ...i, id: num(row.id), deletedAt: at };
      taken.add(at);
    }
  }

  /**
   * Inserts the nodes of item `itemId` as they are given (an import: the nodes never were in
   * `nodes`), file ids, blobs and seals included.
   */
  async insertNodes(ex: Executor, itemId: number, nodes: readonly Omit<TrashNode, 'itemId' | 'path' | 'favorite'>[]): Promise<void> {
    for (let i = 0; i < nodes.length; i += 100) {
      await ex.insertInto('trash_nodes').values(nodes.slice(i, i + 100).map((n) => ({
        fileid: n.fileId, item_id: itemId, owner: n.owner, parent_id: n.parentId, rel_path: n.relPath, name: n.name, kind: n.kind,
        size: n.size, mtime: n.mtime, etag: n.etag, mimetype: n.mimetype, blob_id: n.blobId, blob_codec: n.blobCodec,
        checksum: n.checksum, favorite: 0, blob_seal: n.blobSeal,
      }))).execute();
    }
  }

  /** Which of `fileIds` are taken by a trashed node. */
  async existingIds(ex: Executor, fileIds: number[]): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < fileIds.length; i += 500) {
      out.push(...(await ex.selectFrom('trash_nodes').select('fileid').where('fileid', 'in', fileIds.slice(i, i + 500)).execute()).map((r) => num(r.fileid)));
    }
    return out;
  }

  /**
   * Items `uid` may see, each with its root node, in one query (PROPFIND of a large trash): their
   * own, and those they deleted from others' shares (TrashService keeps those they still reach); newest first.
   */
  async visibleWithRoots(ex: Executor, uid: string): Promise<{ item: TrashItem; root: TrashNode }[]> {
    const rows = await ex.selectFrom('trash_items as i').innerJoin('trash_nodes as n', (j) => j.onRef('n.item_id', '=', 'i.id').on('n.rel_path', '=', ''))
      .select(['i.id', 'i.owner', 'i.fileid', 'i.name', 'i.original_location', 'i.deleted_at', 'i.deleted_by', 'i.kind', 'i.size',
        'n.item_id', 'n.rel_path', 'n.parent_id', 'n.mtime', 'n.etag', 'n.mimetype', 'n.blob_id', 'n.blob_codec', 'n.checksum', 'n.favorite', 'n.blob_seal'])
      .where((eb) => eb.or([eb('i.owner', '=', uid), eb.and([eb('i.deleted_by', '=', uid), eb('i.deleter_dismissed', '=', 0)])]))
      .orderBy('i.deleted_at', 'desc').orderBy('i.id', 'desc').execute();
    return rows.map((r) => ({ item: toItem(r), root: toTrashNode(r) }));
  }

  /** Items of `owner` (expiry, cleanup), oldest first. */
  async ofOwner(ex: Executor, owner: string): Promise<TrashItem[]> {
    return (await ex.selectFrom('trash_items').selectAll().where('owner', '=', owner).orderBy('deleted_at').orderBy('id').execute()).map(toItem);
  }

  /** The highest item id of `owner` (0: none): expiry works on the items up to it, a snapshot. */
  async maxIdOf(ex: Executor, owner: string): Promise<number> {
    const r = await ex.selectFrom('trash_items').select((eb) => eb.fn.max('id').as('m')).where('owner', '=', owner).executeTakeFirst();
    return num((r?.m ?? 0) as number);
  }

  /** Up to `limit` items of `owner` (id ≤ `maxId`), oldest first after (`after.deletedAt`, `after.id`) (a keyset page). */
  async oldestPage(ex: Executor, owner: string, after: { deletedAt: number; id: number } | undefined, limit: number, maxId: number): Promise<TrashItem[]> {
    let q = ex.selectFrom('trash_items').selectAll().where('owner', '=', owner).where('id', '<=', maxId);
    if (after) q = q.where((eb) => eb.or([eb('deleted_at', '>', after.deletedAt), eb.and([eb('deleted_at', '=', after.deletedAt), eb('id', '>', after.id)])]));
    return (await q.orderBy('deleted_at').orderBy('id').limit(limit).execute()).map(toItem);
  }

  /** Count and bytes of `owner`'s items with id ≤ `maxId`. */
  async usageUpTo(ex: Executor, owner: string, maxId: number): Promise<{ count: number; bytes: number }> {
    const r = await ex.selectFrom('trash_items')
      .select((eb) => [eb.fn.countAll<number | string>().as('n'), sql<number | string | null>`sum(size)`.as('bytes')])
      .where('owner', '=', owner).where('id', '<=', maxId).executeTakeFirstOrThrow();
    return { count: num(r.n), bytes: num(r.bytes) };
  }

  async owners(ex: Executor): Promise<string[]> {
    return (await ex.selectFrom('trash_items').select('owner').distinct().orderBy('owner').execute()).map((r) => r.owner);
  }

  /** The items named `name` deleted at `deletedAt` that `uid` owns or deleted (their own first). */
  async findAll(ex: Executor, uid: string, name: string, deletedAt: number): Promise<TrashItem[]> {
    const rows = await ex.selectFrom('trash_items').selectAll().where('name', '=', name).where('deleted_at', '=', deletedAt)
      .where((eb) => eb.or([eb('owner', '=', uid), eb.and([eb('deleted_by', '=', uid), eb('deleter_dismissed', '=', 0)])])).orderBy('id').execute();
    return rows.map(toItem).sort((a, b) => Number(b.owner === uid) - Number(a.owner === uid));
  }

  /** Removes an item from its deleter's view (the owner keeps it). */
  async dismissForDeleter(ex: Executor, itemId: number): Promise<void> {
    await ex.updateTable('trash_items').set({ deleter_dismissed: 1 }).where('id', '=', itemId).execute();
  }

  /** Removes every item `uid` deleted from others' shares from their view. @returns how many */
  async dismissAllDeletedBy(ex: Executor, uid: string): Promise<number> {
    const r = await ex.updateTable('trash_items').set({ deleter_dismissed: 1 })
      .where('deleted_by', '=', uid).where('owner', '<>', uid).where('deleter_dismissed', '=', 0).executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  async byId(ex: Executor, id: number): Promise<TrashItem | undefined> {
    const r = await ex.selectFrom('trash_items').selectAll().where('id', '=', id).executeTakeFirst();
    return r ? toItem(r) : undefined;
  }

  async node(ex: Executor, itemId: number, relPath: string): Promise<TrashNode | undefined> {
    const r = await ex.selectFrom('trash_nodes').selectAll().where('item_id', '=', itemId).where('rel_path', '=', relPath).executeTakeFirst();
    return r ? toTrashNode(r) : undefined;
  }

  /** Where trashed node `fileId` of `owner` was in the owner's tree when it was deleted, or undefined. */
  async originalPathOf(ex: Executor, owner: string, fileId: number): Promise<string | undefined> {
    const r = await ex.selectFrom('trash_nodes as n').innerJoin('trash_items as i', 'i.id', 'n.item_id')
      .select(['i.original_location', 'n.rel_path']).where('n.fileid', '=', fileId).where('n.owner', '=', owner).executeTakeFirst();
    return r && trashedPath(r.original_location, r.rel_path);
  }

  /**
   * Trashed files of codec `codec` in the items others (share recipients) deleted from `path` of
   * `owner`'s tree or below it, and still see: a shared node's keyring takes their data keys.
   */
  async filesDeletedByOthersBelow(ex: Executor, owner: string, path: string, codec: string): Promise<{ fileId: number; blobId: string }[]> {
    // original_location has no byte-order collation on PostgreSQL: a prefix test, not a range
    const lo = `${path}/`;
    const rows = await ex.selectFrom('trash_nodes as n').innerJoin('trash_items as i', 'i.id', 'n.item_id')
      .select(['n.fileid', 'n.blob_id']).where('i.owner', '=', owner).where('i.deleted_by', '<>', owner).where('i.deleter_dismissed', '=', 0)
      .where('n.kind', '=', 'file').where('n.blob_codec', '=', codec)
      .where((eb) => eb.or([eb('i.original_location', '=', path), eb(sql<string>`substr(i.original_location, 1, ${lo.length})`, '=', lo)])).execute();
    return rows.filter((r) => r.blob_id !== null).map((r) => ({ fileId: num(r.fileid), blobId: r.blob_id! }));
  }

  /** The trashed node with file id `fileId`. */
  async nodeById(ex: Executor, fileId: number): Promise<TrashNode | undefined> {
    const r = await ex.selectFrom('trash_nodes').selectAll().where('fileid', '=', fileId).executeTakeFirst();
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

  #files(ex: Executor, filter: StorageFilter, owner?: string) {
    let q = ex.selectFrom('trash_nodes as t').where('t.kind', '=', 'file').where('t.blob_id', 'is not', null);
    if (filter === 'plain') q = q.where('t.blob_codec', '=', PLAIN_CODEC);
    if (filter === 'encrypted') q = q.where('t.blob_codec', '!=', PLAIN_CODEC);
    return owner ? q.where('t.owner', '=', owner) : q;
  }

  /** How many trashed files `filter` selects (by their blob's codec), and their bytes (encrypt-all, decrypt-all). */
  async countFiles(ex: Executor, filter: StorageFilter, owner?: string): Promise<{ files: number; bytes: number }> {
    const r = await this.#files(ex, filter, owner)
      .select((eb) => [eb.fn.countAll<number | string>().as('n'), sql<number | string | null>`sum(t.size)`.as('bytes')]).executeTakeFirst();
    return { files: num(r?.n ?? 0), bytes: num(r?.bytes ?? 0) };
  }

  /** One page of trashed files by ascending file id after `after`; the path is where the file was deleted from. */
  async filesPage(ex: Executor, filter: StorageFilter, opts: { after?: number; limit?: number; owner?: string } = {}): Promise<StoredFile[]> {
    const rows = await this.#files(ex, filter, opts.owner).innerJoin('trash_items as i', 'i.id', 't.item_id')
      .select(['t.fileid', 't.owner', 't.rel_path', 't.blob_id', 't.blob_codec', 't.blob_seal', 't.size', 'i.original_location'])
      .where('t.fileid', '>', opts.after ?? 0).orderBy('t.fileid').limit(opts.limit ?? 500).execute();
    return rows.map((r) => ({
      holder: 'trash' as const, rowId: num(r.fileid), fileid: num(r.fileid), owner: r.owner,
      path: trashedPath(r.original_location, r.rel_path),
      blobId: r.blob_id!, codec: r.blob_codec ?? PLAIN_CODEC, size: num(r.size), seal: r.blob_seal ?? null,
    }));
  }

  /**
   * Points trashed file `fileId` at another blob holding the same content (encrypt-all, decrypt-all),
   * only if it still names `oldBlobId`. @returns whether it did (false: restored or purged meanwhile).
   */
  async switchBlob(ex: Executor, fileId: number, oldBlobId: string, newBlobId: string, codec: string, seal: string | null): Promise<boolean> {
    const r = await ex.updateTable('trash_nodes').set({ blob_id: newBlobId, blob_codec: codec, blob_seal: seal })
      .where('fileid', '=', fileId).where('blob_id', '=', oldBlobId).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** The blob trashed file `fileId` names, or undefined when it is not in the trash. */
  async blobOf(ex: Executor, fileId: number): Promise<{ blobId: string | null } | undefined> {
    const r = await ex.selectFrom('trash_nodes').select('blob_id').where('fileid', '=', fileId).executeTakeFirst();
    return r && { blobId: r.blob_id ?? null };
  }
}
