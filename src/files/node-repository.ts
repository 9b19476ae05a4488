import { sql } from 'kysely';
import { isPostgres, type Db } from '../db/database.ts';
import { QueryTemplate } from '../db/query-template.ts';
import { ROWS_AS_ARRAYS } from '../db/statement-cache.ts';
import { num } from '../db/schema.ts';
import type { RowSealer } from '../db/row-sealer.ts';
import type { FileNode } from './types.ts';
import { ancestorsOf, parentPath } from './paths.ts';
import { PLAIN_CODEC } from '../storage/blob-store.ts';
import type { StorageFilter, StoredFile } from '../encryption/file-rows.ts';
import { FileIdPool } from './file-id-pool.ts';
import { CHILD_COLUMNS, newEtag, subtreeBounds, toChildNode, toNode, type Executor, type WriteContext } from './node-rows.ts';

// The row type, its mapping and value helpers live in node-rows.ts; callers import them from here too.
export { newEtag, pathAtOrBelow, subtreeBounds, toNode, type Executor, type WriteContext } from './node-rows.ts';

// Hot statements of a small write, compiled once (see QueryTemplate).
const BY_PATH = new QueryTemplate((db, p) => db.selectFrom('nodes').selectAll().where('owner', '=', p[0] as string).where('path', '=', p[1] as string));
const WRITE_CONTEXT = new QueryTemplate((db, p) => db.selectFrom('nodes').selectAll('nodes')
  .select((eb) => eb.selectFrom('users').select('quota').where('uid', '=', p[0] as string).as('user_quota'))
  .where('owner', '=', p[0] as string).where('path', 'in', [p[1], p[2], p[3]] as string[]));
const INSERT_NODE = new QueryTemplate((db, p) => db.insertInto('nodes').values({
  fileid: p[0] as number, owner: p[1] as string, parent_id: p[2] as number, path: p[3] as string, name: p[4] as string,
  kind: p[5] as 'file', size: p[6] as number, mtime: p[7] as number, etag: p[8] as string, mimetype: p[9] as string,
  blob_id: p[10] as string, blob_codec: p[11] as string, checksum: p[12] as string, favorite: p[13] as number, blob_seal: p[14] as string,
}));
/**
 * Updates every ancestor row of a write in one statement. On PostgreSQL the rows are first locked in
 * path order (a materialized CTE: Sort below LockRows): a plain UPDATE … WHERE path IN (…) locks
 * them in the order its scan meets them, which for a bitmap heap scan is their physical order, and
 * that changes as rows get new versions. Two writers into one folder could then each hold one of
 * root and folder while waiting for the other: a deadlock, which PostgreSQL breaks after its
 * deadlock_timeout (1 s) by failing one of them. SQLite has one writer at a time.
 */
function ancestorUpdate(db: Executor, owner: string, paths: string[]) {
  if (!isPostgres(db)) return db.updateTable('nodes').where('owner', '=', owner).where('path', 'in', paths);
  return db.with((wb) => wb('locked').materialized(), (qb) => qb.selectFrom('nodes').select('fileid')
    .where('owner', '=', owner).where('path', 'in', paths).orderBy('path').forUpdate())
    .updateTable('nodes').where('fileid', 'in', (eb) => eb.selectFrom('locked').select('locked.fileid'));
}
/** params: etag, size delta, owner, ...ancestor paths */
const PROPAGATE = new QueryTemplate((db, p) => ancestorUpdate(db, p[2] as string, p.slice(3) as string[])
  .set({ etag: p[0] as string, size: sql`size + ${p[1]}` as never }));
/** params: etag, size delta, direct parent path, its new mtime, owner, ...ancestor paths */
const PROPAGATE_TOUCH = new QueryTemplate((db, p) => ancestorUpdate(db, p[4] as string, p.slice(5) as string[])
  .set({ etag: p[0] as string, size: sql`size + ${p[1]}` as never, mtime: sql`case when path = ${p[2]} then ${p[3]} else mtime end` as never }));

const SWAP_SET = (db: Executor, p: readonly unknown[]) => db.updateTable('nodes').set({
  blob_id: p[0] as string, blob_codec: p[1] as string, size: p[2] as number, mtime: p[3] as number, etag: p[4] as string,
  checksum: p[5] as string, mimetype: p[6] as string, blob_seal: p[8] as string,
}).where('fileid', '=', p[7] as number);
/** params: blob id, codec, size, mtime, etag, checksum, mimetype, fileid, seal[, expected old blob id] */
const SWAP_CONTENT = new QueryTemplate((db, p) => SWAP_SET(db, p).where('blob_id', '=', p[9] as string));
const SWAP_CONTENT_NO_BLOB = new QueryTemplate((db, p) => SWAP_SET(db, p).where('blob_id', 'is', null));

/**
 * The queries on the `nodes` table (and, through FileIdPool, the `file_ids` sequence); every layer
 * that needs a node row asks here. Every method takes the executor to use, so callers compose them
 * inside one transaction. Deleting a subtree also deletes its dead properties (as a foreign key
 * cascade would). The row type and its mapping are in node-rows.ts.
 */
export class NodeRepository {
  readonly #db: Db;
  readonly #ids: FileIdPool;
  readonly #sealer: RowSealer | undefined;
  /** `sealer` seals what each file row says about its blob (without one, rows stay unsealed: unit tests). */
  constructor(db: Db, sealer?: RowSealer) { this.#db = db; this.#ids = new FileIdPool(db); this.#sealer = sealer; }

  #seal(fileId: number, blobId: string | null, codec: string | null, size: number): string | null {
    return blobId === null || !this.#sealer ? null : this.#sealer.node(fileId, blobId, codec ?? 'plain', size);
  }

  get db(): Db { return this.#db; }

  /**
   * Allocates a new file id (ids are needed before content is written); without an executor from
   * an in-process pool filled in batches (see FileIdPool.allocate).
   * @throws database errors
   */
  allocateFileId(ex?: Executor): Promise<number> {
    return this.#ids.allocate(ex);
  }

  /**
   * What a write of `path` needs, in one query: the node at `path`, its parent folder, the user's
   * root (its size is the quota usage) and the user's quota (null = unlimited).
   */
  async writeContext(ex: Executor, owner: string, path: string): Promise<WriteContext> {
    const pp = parentPath(path);
    const { rows } = await WRITE_CONTEXT.execute(ex, [owner, path, pp, '']);
    const out: WriteContext = { node: undefined, parent: undefined, root: undefined, quota: null };
    for (const r of rows) {
      const n = toNode(r);
      if (n.path === path) out.node = n;
      if (n.path === pp && path !== '') out.parent = n;
      if (n.path === '') out.root = n;
      out.quota = r.user_quota === null || r.user_quota === undefined ? null : num(r.user_quota);
    }
    return out;
  }

  async byPath(ex: Executor, owner: string, path: string): Promise<FileNode | undefined> {
    const row = (await BY_PATH.execute(ex, [owner, path])).rows[0];
    return row ? toNode(row) : undefined;
  }

  async byId(ex: Executor, fileId: number): Promise<FileNode | undefined> {
    const row = await ex.selectFrom('nodes').selectAll().where('fileid', '=', fileId).executeTakeFirst();
    return row ? toNode(row) : undefined;
  }

  /**
   * Members of a folder, sorted by name. Given the folder itself, owner, parent and path are not
   * read back for each member (they follow from the folder), and SQLite hands the rows over as
   * arrays: listing a large folder is the hot path of PROPFIND Depth 1.
   */
  async children(ex: Executor, parentId: number, parent?: Pick<FileNode, 'owner' | 'path'>): Promise<FileNode[]> {
    if (!parent) {
      const rows = await ex.selectFrom('nodes').selectAll().where('parent_id', '=', parentId).orderBy('name').execute();
      return rows.map(toNode);
    }
    const { rows } = await sql<unknown[] | Record<string, unknown>>`select ${sql.raw(CHILD_COLUMNS.join(', '))} from nodes where parent_id = ${parentId} order by name ${sql.raw(ROWS_AS_ARRAYS)}`.execute(ex);
    return rows.map((r) => toChildNode(r, parent, parentId));
  }

  /** All nodes strictly below `path`, ordered by path. */
  async descendants(ex: Executor, owner: string, path: string): Promise<FileNode[]> {
    const { lo, hi } = subtreeBounds(path);
    let q = ex.selectFrom('nodes').selectAll().where('owner', '=', owner).where('path', '>=', lo).where('path', '<', hi);
    if (path === '') q = q.where('path', '<>', '');
    return (await q.orderBy('path').execute()).map(toNode);
  }

  async insert(ex: Executor, n: Omit<FileNode, 'favorite'> & { favorite?: boolean }): Promise<FileNode> {
    const blobSeal = this.#seal(n.fileId, n.blobId, n.blobCodec, n.size);
    await INSERT_NODE.execute(ex, [
      n.fileId, n.owner, n.parentId, n.path, n.name, n.kind, n.size, n.mtime, n.etag, n.mimetype, n.blobId, n.blobCodec,
      n.checksum, n.favorite ? 1 : 0, blobSeal,
    ]);
    return { ...n, favorite: n.favorite ?? false, blobSeal };
  }

  /**
   * Adds `sizeDelta` to every ancestor of `path` and gives them a new etag, so that sync clients
   * see the change from the root down. `touchParentMtime` also sets the direct parent's mtime.
   */
  async propagate(ex: Executor, owner: string, path: string, sizeDelta: number, touchParentMtime?: number): Promise<void> {
    const ancestors = ancestorsOf(path);
    if (ancestors.length === 0) return;
    const etag = newEtag();
    // One statement for the whole chain (size, etag, and the direct parent's mtime).
    if (touchParentMtime === undefined) await PROPAGATE.execute(ex, [etag, sizeDelta, owner, ...ancestors]);
    else await PROPAGATE_TOUCH.execute(ex, [etag, sizeDelta, ancestors[ancestors.length - 1], touchParentMtime, owner, ...ancestors]);
  }

  /**
   * Points file `fileId` at new content, only if it still references `oldBlobId` (a compare-and-swap:
   * under PostgreSQL READ COMMITTED two writers may have read the same row). Returns whether it did.
   */
  async swapContent(ex: Executor, fileId: number, oldBlobId: string | null,
    c: { blobId: string; blobCodec: string; size: number; mtime: number; etag: string; checksum: string | null; mimetype: string }): Promise<boolean> {
    const params = [c.blobId, c.blobCodec, c.size, c.mtime, c.etag, c.checksum, c.mimetype, fileId, this.#seal(fileId, c.blobId, c.blobCodec, c.size)];
    const r = oldBlobId === null
      ? await SWAP_CONTENT_NO_BLOB.execute(ex, params)
      : await SWAP_CONTENT.execute(ex, [...params, oldBlobId]);
    return Number(r.numAffectedRows ?? 0n) === 1;
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

  /** Sets a node's mtime and etag (the ancestors are the caller's: propagate). */
  async setMtime(ex: Executor, fileId: number, mtime: number, etag: string): Promise<void> {
    await ex.updateTable('nodes').set({ mtime, etag }).where('fileid', '=', fileId).execute();
  }

  async setFavorite(ex: Executor, fileId: number, favorite: boolean): Promise<void> {
    await ex.updateTable('nodes').set({ favorite: favorite ? 1 : 0 }).where('fileid', '=', fileId).execute();
  }

  /** Records checksums for the content `blobId`; a row rewritten meanwhile keeps its own. */
  async setChecksum(ex: Executor, fileId: number, blobId: string, checksum: string | null): Promise<void> {
    await ex.updateTable('nodes').set({ checksum }).where('fileid', '=', fileId).where('blob_id', '=', blobId).execute();
  }

  /**
   * Points file `fileId` from `oldBlobId` at `newBlobId` holding the same content in another codec
   * (encrypt-all, decrypt-all), with the seal the caller computed. Returns false when the file was
   * rewritten or deleted meanwhile.
   */
  async switchBlob(ex: Executor, fileId: number, oldBlobId: string, newBlobId: string, codec: string, seal: string | null): Promise<boolean> {
    const r = await ex.updateTable('nodes').set({ blob_id: newBlobId, blob_codec: codec, blob_seal: seal })
      .where('fileid', '=', fileId).where('blob_id', '=', oldBlobId).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** Which of `blobIds` a file row names (the others are, as far as nodes go, orphans). */
  async referencedBlobs(ex: Executor, blobIds: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    if (blobIds.length === 0) return out;
    for (const r of await ex.selectFrom('nodes').select('blob_id').where('blob_id', 'in', blobIds).execute()) if (r.blob_id) out.add(r.blob_id);
    return out;
  }

  /** Bytes `owner` uses: the size of their root (0 before their first write). */
  async usedBytes(ex: Executor, owner: string): Promise<number> {
    const row = await ex.selectFrom('nodes').select('size').where('owner', '=', owner).where('path', '=', '').executeTakeFirst();
    return row ? num(row.size) : 0;
  }

  #files(ex: Executor, filter: StorageFilter, owner?: string) {
    let q = ex.selectFrom('nodes').where('kind', '=', 'file').where('blob_id', 'is not', null);
    if (filter === 'plain') q = q.where('blob_codec', '=', PLAIN_CODEC);
    if (filter === 'encrypted') q = q.where('blob_codec', '!=', PLAIN_CODEC);
    return owner ? q.where('owner', '=', owner) : q;
  }

  /** How many files with content `filter` selects, and their bytes. */
  async countFiles(ex: Executor, filter: StorageFilter, owner?: string): Promise<{ files: number; bytes: number }> {
    const r = await this.#files(ex, filter, owner)
      .select((eb) => [eb.fn.countAll().as('n'), eb.fn.sum('size').as('bytes')]).executeTakeFirst();
    return { files: num((r?.n ?? 0) as number), bytes: num((r?.bytes ?? 0) as number) };
  }

  /** One page of files with content, by ascending file id after `after` (keyset pagination). */
  async filesPage(ex: Executor, filter: StorageFilter, opts: { after?: number; limit?: number; owner?: string } = {}): Promise<StoredFile[]> {
    const rows = await this.#files(ex, filter, opts.owner)
      .select(['fileid', 'owner', 'path', 'blob_id', 'blob_codec', 'size', 'blob_seal'])
      .where('fileid', '>', opts.after ?? 0).orderBy('fileid').limit(opts.limit ?? 500).execute();
    return rows.map((r) => ({
      holder: 'node' as const, rowId: num(r.fileid),
      fileid: num(r.fileid), owner: r.owner, path: r.path, blobId: r.blob_id!, codec: r.blob_codec ?? PLAIN_CODEC, size: num(r.size), seal: r.blob_seal,
    }));
  }

  /** Of `owner`'s nodes at `paths`, or strictly below `below`, the ids of those with a share row, with their paths. */
  async sharedNodes(ex: Executor, owner: string, where: { paths: string[] } | { below: string }): Promise<{ fileId: number; path: string }[]> {
    let q = ex.selectFrom('nodes as n').innerJoin('shares as s', 's.file_id', 'n.fileid')
      .select(['n.fileid', 'n.path']).distinct().where('n.owner', '=', owner);
    if ('paths' in where) q = q.where('n.path', 'in', where.paths);
    else {
      const { lo, hi } = subtreeBounds(where.below);
      q = q.where('n.path', '>=', lo).where('n.path', '<', hi);
    }
    return (await q.execute()).map((r) => ({ fileId: num(r.fileid), path: r.path }));
  }

  /** `owner`'s files of codec `codec` strictly below `path`. */
  async filesBelowWithCodec(ex: Executor, owner: string, path: string, codec: string): Promise<{ fileId: number; blobId: string }[]> {
    const { lo, hi } = subtreeBounds(path);
    const rows = await ex.selectFrom('nodes').select(['fileid', 'blob_id'])
      .where('owner', '=', owner).where('kind', '=', 'file').where('blob_codec', '=', codec)
      .where('path', '>=', lo).where('path', '<', hi).execute();
    return rows.filter((r) => r.blob_id !== null).map((r) => ({ fileId: num(r.fileid), blobId: r.blob_id! }));
  }

  /**
   * Makes the file id counter hand out only ids above `maxId` (after an import; see
   * FileIdPool.reserveThrough).
   * @throws database errors
   */
  reserveFileIdsThrough(ex: Executor, maxId: number): Promise<void> {
    return this.#ids.reserveThrough(ex, maxId);
  }

  /** Which of `fileIds` already name a node (the importer refuses to reuse them). */
  async existingIds(ex: Executor, fileIds: number[]): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < fileIds.length; i += 500) {
      const rows = await ex.selectFrom('nodes').select('fileid').where('fileid', 'in', fileIds.slice(i, i + 500)).execute();
      out.push(...rows.map((r) => num(r.fileid)));
    }
    return out;
  }

  /** Sets every folder of `owner` to the total size of the files below it (after a bulk import). */
  async recomputeFolderSizes(ex: Executor, owner: string): Promise<void> {
    await sql`update nodes set size = (select coalesce(sum(f.size), 0) from nodes f where f.owner = nodes.owner and f.kind = 'file'
      and (nodes.path = '' or (f.path >= nodes.path || '/' and f.path < nodes.path || '0')))
      where owner = ${owner} and kind = 'dir'`.execute(ex);
  }

  /**
   * Trash bin (issue #15): moves `node` and its subtree from `nodes` into `trash_nodes` under trash
   * item `itemId`, paths made relative to `node` ('' for itself). Two statements whatever the
   * subtree's size; file ids, blobs and row seals stay as they were (no content is touched).
   */
  async moveSubtreeToTrash(ex: Executor, node: FileNode, itemId: number): Promise<void> {
    const { lo, hi } = subtreeBounds(node.path);
    const cut = node.path.length + 2;
    await sql`insert into trash_nodes (fileid, item_id, owner, parent_id, rel_path, name, kind, size, mtime, etag, mimetype, blob_id, blob_codec, checksum, favorite, blob_seal)
      select fileid, ${itemId}, owner, parent_id, case when fileid = ${node.fileId} then '' else substr(path, ${cut}) end,
        name, kind, size, mtime, etag, mimetype, blob_id, blob_codec, checksum, favorite, blob_seal
      from nodes where owner = ${node.owner} and (fileid = ${node.fileId} or (path >= ${lo} and path < ${hi}))`.execute(ex);
    await ex.deleteFrom('nodes').where('owner', '=', node.owner).where('path', '>=', lo).where('path', '<', hi).execute();
    await ex.deleteFrom('nodes').where('fileid', '=', node.fileId).execute();
  }

  /**
   * Trash bin: moves the trashed node at `relPath` of item `itemId` (and what is below it) back into
   * `nodes` as `dstPath` (named `dstName`, under `dstParentId`), with the file ids it had.
   */
  async restoreSubtreeFromTrash(ex: Executor, itemId: number, relPath: string, owner: string, dstPath: string, dstName: string, dstParentId: number): Promise<void> {
    const { lo, hi } = subtreeBounds(relPath);
    const below = relPath === ''
      ? sql`rel_path <> ''`
      : sql`rel_path >= ${lo} and rel_path < ${hi}`;
    const newPath = relPath === ''
      ? sql`${dstPath} || '/' || rel_path`
      : sql`${dstPath} || substr(rel_path, ${relPath.length + 1})`;
    await sql`insert into nodes (fileid, owner, parent_id, path, name, kind, size, mtime, etag, mimetype, blob_id, blob_codec, checksum, favorite, blob_seal)
      select fileid, ${owner}, case when rel_path = ${relPath} then ${dstParentId} else parent_id end,
        case when rel_path = ${relPath} then ${dstPath} else ${newPath} end,
        case when rel_path = ${relPath} then ${dstName} else name end,
        kind, size, mtime, etag, mimetype, blob_id, blob_codec, checksum, favorite, blob_seal
      from trash_nodes where item_id = ${itemId} and (rel_path = ${relPath} or (${below}))`.execute(ex);
    await sql`delete from trash_nodes where item_id = ${itemId} and (rel_path = ${relPath} or (${below}))`.execute(ex);
  }

  /** Deletes the dead properties of `fileIds` (files deleted for good from the trash). */
  async deleteProperties(ex: Executor, fileIds: number[]): Promise<void> {
    for (let i = 0; i < fileIds.length; i += 500) {
      await ex.deleteFrom('properties').where('fileid', 'in', fileIds.slice(i, i + 500)).execute();
    }
  }

  async userQuota(ex: Executor, uid: string): Promise<number | null> {
    const row = await ex.selectFrom('users').select('quota').where('uid', '=', uid).executeTakeFirst();
    return row?.quota === null || row?.quota === undefined ? null : num(row.quota);
  }
}
