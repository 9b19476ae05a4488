import { sql } from 'kysely';
import type { Executor } from '../files/node-repository.ts';
import { num } from '../db/schema.ts';
import { pathAtOrBelow } from '../files/node-rows.ts';
import { QueryTemplate } from '../db/query-template.ts';
import { PLAIN_CODEC } from '../storage/blob-store.ts';
import type { StorageFilter, StoredFile } from '../encryption/file-rows.ts';
import { trashedPath } from '../trash/trash-repository.ts';

/** One kept version of a file: the blob the file had, with what its row said about it. */
export interface FileVersion {
  readonly id: number;
  readonly fileId: number;
  readonly owner: string;
  /** Seconds: the content's mtime while it was current; the version's name in the DAV API. */
  readonly version: number;
  readonly blobId: string;
  readonly blobCodec: string;
  readonly blobSeal: string | null;
  readonly size: number;
  readonly mimetype: string;
  readonly etag: string;
  readonly checksum: string | null;
  readonly author: string | null;
  readonly label: string | null;
  /** Seconds: when it became a version. */
  readonly createdAt: number;
}

/** What expiry needs of a version. */
export type VersionRef = Pick<FileVersion, 'id' | 'fileId' | 'version' | 'size'>;

function toVersion(r: Record<string, unknown>): FileVersion {
  return {
    id: num(r.id as number), fileId: num(r.fileid as number), owner: r.owner as string, version: num(r.version as number),
    blobId: r.blob_id as string, blobCodec: r.blob_codec as string, blobSeal: (r.blob_seal ?? null) as string | null,
    size: num(r.size as number), mimetype: r.mimetype as string, etag: r.etag as string, checksum: (r.checksum ?? null) as string | null,
    author: (r.author ?? null) as string | null, label: (r.label ?? null) as string | null, createdAt: num(r.created_at as number),
  };
}

// Templates of what an overwrite runs inside its transaction (a small PUT's hot path).
/** Params: fileid, version. */
const TAKEN_NAMES = new QueryTemplate<{ version: number | string }>((db, [fileId, version]) => db
  .selectFrom('file_versions').select('version').where('fileid', '=', fileId as number).where('version', '>=', version as number));
/** Params: fileid. */
const AUTHOR_OF = new QueryTemplate<{ author: string }>((db, [fileId]) => db
  .selectFrom('file_authors').select('author').where('fileid', '=', fileId as number));
/** Params: fileid, author. */
const SET_AUTHOR = new QueryTemplate((db, [fileId, author]) => db
  .insertInto('file_authors').values({ fileid: fileId as number, author: author as string })
  .onConflict((oc) => oc.column('fileid').doUpdateSet({ author: author as string })));
/** Params: fileid. */
const CLEAR_AUTHOR = new QueryTemplate((db, [fileId]) => db.deleteFrom('file_authors').where('fileid', '=', fileId as number));
/** Params: the columns of a version row, in INSERT_COLUMNS order. */
const INSERT_COLUMNS = ['fileid', 'owner', 'version', 'blob_id', 'blob_codec', 'blob_seal', 'size', 'mimetype', 'etag', 'checksum', 'author', 'label', 'created_at'] as const;
const INSERT_VERSION = new QueryTemplate<{ id: number | string }>((db, p) => db
  .insertInto('file_versions').values(Object.fromEntries(INSERT_COLUMNS.map((c, i) => [c, p[i]])) as never).returning('id'));

/**
 * The queries on `file_versions` and `file_authors`. Every method takes the executor to use.
 * A file without a `file_authors` row was last written by its owner (the common case costs no row).
 */
export class VersionRepository {
  /**
   * Inserts a version. Its name is `version` or, when that second is taken for this file (two
   * overwrites within a second), the next free second: a version is never replaced by another.
   */
  async insert(ex: Executor, v: Omit<FileVersion, 'id' | 'author'>): Promise<FileVersion> {
    const taken = new Set((await TAKEN_NAMES.execute(ex, [v.fileId, v.version])).rows.map((r) => num(r.version)));
    let name = v.version;
    while (taken.has(name)) name++;
    const author = await this.authorOf(ex, v.fileId, v.owner);
    const { rows } = await INSERT_VERSION.execute(ex, [
      v.fileId, v.owner, name, v.blobId, v.blobCodec, v.blobSeal, v.size, v.mimetype, v.etag, v.checksum, author, v.label, v.createdAt,
    ]);
    return { ...v, id: num(rows[0]!.id), version: name, author };
  }

  /**
   * Inserts a version under exactly its name, with its own author (an import carries both over);
   * does nothing when the file already has a version of that name. @returns whether it inserted
   */
  async insertImported(ex: Executor, v: Omit<FileVersion, 'id'>): Promise<boolean> {
    const row = await ex.insertInto('file_versions').values({
      fileid: v.fileId, owner: v.owner, version: v.version, blob_id: v.blobId, blob_codec: v.blobCodec, blob_seal: v.blobSeal,
      size: v.size, mimetype: v.mimetype, etag: v.etag, checksum: v.checksum, author: v.author, label: v.label, created_at: v.createdAt,
    }).onConflict((oc) => oc.columns(['fileid', 'version']).doNothing()).returning('id').executeTakeFirst();
    return row !== undefined;
  }

  /** Records who wrote the file's current content: a row for anyone but the owner, none for the owner. */
  async setAuthor(ex: Executor, fileId: number, author: string, owner: string): Promise<void> {
    await (author === owner ? CLEAR_AUTHOR.execute(ex, [fileId]) : SET_AUTHOR.execute(ex, [fileId, author]));
  }

  /** Who wrote the file's current content (no row: its owner). */
  async authorOf(ex: Executor, fileId: number, owner: string): Promise<string> {
    return (await AUTHOR_OF.execute(ex, [fileId])).rows[0]?.author ?? owner;
  }

  /** A file's versions, newest first. */
  async list(ex: Executor, fileId: number): Promise<FileVersion[]> {
    return (await ex.selectFrom('file_versions').selectAll().where('fileid', '=', fileId).orderBy('version', 'desc').execute()).map(toVersion);
  }

  async get(ex: Executor, fileId: number, version: number): Promise<FileVersion | undefined> {
    const r = await ex.selectFrom('file_versions').selectAll().where('fileid', '=', fileId).where('version', '=', version).executeTakeFirst();
    return r ? toVersion(r) : undefined;
  }

  /** The highest version row id of `owner` (0: none): expiry works on the rows up to it, a snapshot. */
  async maxIdOf(ex: Executor, owner: string): Promise<number> {
    const r = await ex.selectFrom('file_versions').select((eb) => eb.fn.max('id').as('m')).where('owner', '=', owner).executeTakeFirst();
    return num((r?.m ?? 0) as number);
  }

  /** Up to `limit` ids of `owner`'s files with versions (row id ≤ `maxId`), ascending after `after` (a keyset page). */
  async fileIdsPage(ex: Executor, owner: string, after: number, limit: number, maxId: number): Promise<number[]> {
    return (await ex.selectFrom('file_versions').select('fileid').distinct().where('owner', '=', owner).where('fileid', '>', after)
      .where('id', '<=', maxId).orderBy('fileid').limit(limit).execute()).map((r) => num(r.fileid));
  }

  /** The versions (row id ≤ `maxId`) of `fileIds`, by file, newest first (id, file, time, size only: expiry). */
  async ofFiles(ex: Executor, owner: string, fileIds: number[], maxId: number): Promise<VersionRef[]> {
    if (fileIds.length === 0) return [];
    return (await ex.selectFrom('file_versions').select(['id', 'fileid', 'version', 'size']).where('owner', '=', owner)
      .where('fileid', 'in', fileIds).where('id', '<=', maxId).orderBy('fileid').orderBy('version', 'desc').orderBy('id', 'desc').execute())
      .map((r) => ({ id: num(r.id), fileId: num(r.fileid), version: num(r.version), size: num(r.size) }));
  }

  /** Up to `limit` of `owner`'s versions (row id ≤ `maxId`), oldest first after (`after.version`, `after.id`) (a keyset page). */
  async oldestPage(ex: Executor, owner: string, after: { version: number; id: number } | undefined, limit: number, maxId: number): Promise<VersionRef[]> {
    let q = ex.selectFrom('file_versions').select(['id', 'fileid', 'version', 'size']).where('owner', '=', owner).where('id', '<=', maxId);
    if (after) q = q.where((eb) => eb.or([eb('version', '>', after.version), eb.and([eb('version', '=', after.version), eb('id', '>', after.id)])]));
    return (await q.orderBy('version').orderBy('id').limit(limit).execute())
      .map((r) => ({ id: num(r.id), fileId: num(r.fileid), version: num(r.version), size: num(r.size) }));
  }

  /**
   * Up to `limit` of `owner`'s versions (row id ≤ `maxId`) of the files at `path` or below it, by
   * row id; versions of files in the trash are not among them (Nextcloud's CleanUp --path).
   */
  async pageAtOrBelow(ex: Executor, owner: string, path: string, limit: number, maxId: number): Promise<VersionRef[]> {
    return (await ex.selectFrom('file_versions as v').innerJoin('nodes as n', 'n.fileid', 'v.fileid')
      .select(['v.id', 'v.fileid', 'v.version', 'v.size']).where('v.owner', '=', owner).where('v.id', '<=', maxId).where('n.owner', '=', owner)
      .where(pathAtOrBelow('n.path', path))
      .orderBy('v.id').limit(limit).execute())
      .map((r) => ({ id: num(r.id), fileId: num(r.fileid), version: num(r.version), size: num(r.size) }));
  }

  /** How many versions `owner` has with row id ≤ `maxId`, and their bytes. */
  async usageUpTo(ex: Executor, owner: string, maxId: number): Promise<{ count: number; bytes: number }> {
    const r = await ex.selectFrom('file_versions')
      .select((eb) => [eb.fn.countAll<number | string>().as('n'), sql<number | string | null>`sum(size)`.as('bytes')])
      .where('owner', '=', owner).where('id', '<=', maxId).executeTakeFirstOrThrow();
    return { count: num(r.n), bytes: num(r.bytes) };
  }

  /** Owners that have versions. */
  async owners(ex: Executor): Promise<string[]> {
    return (await ex.selectFrom('file_versions').select('owner').distinct().orderBy('owner').execute()).map((r) => r.owner);
  }

  /**
   * The versions of codec `codec` of `owner`'s files at `path` or strictly below it (file id and
   * blob id): a shared node's keyring takes their data keys with the files' current ones.
   */
  async blobsAtOrBelow(ex: Executor, owner: string, path: string, codec: string): Promise<{ fileId: number; blobId: string }[]> {
    const rows = await ex.selectFrom('file_versions as v').innerJoin('nodes as n', 'n.fileid', 'v.fileid')
      .select(['v.fileid', 'v.blob_id']).where('n.owner', '=', owner).where('v.blob_codec', '=', codec)
      .where(pathAtOrBelow('n.path', path)).execute();
    return rows.map((r) => ({ fileId: num(r.fileid), blobId: r.blob_id }));
  }

  /** Bytes the versions of `owner` hold, and how many there are. */
  async usage(ex: Executor, owner: string): Promise<{ count: number; bytes: number }> {
    const r = await ex.selectFrom('file_versions')
      .select((eb) => [eb.fn.countAll<number | string>().as('n'), sql<number | string | null>`sum(size)`.as('bytes')])
      .where('owner', '=', owner).executeTakeFirstOrThrow();
    return { count: num(r.n), bytes: num(r.bytes) };
  }

  async setLabel(ex: Executor, id: number, label: string | null): Promise<void> {
    await ex.updateTable('file_versions').set({ label }).where('id', '=', id).execute();
  }

  /** Deletes versions by id; returns their blob ids. */
  async remove(ex: Executor, ids: number[]): Promise<string[]> {
    const blobs: string[] = [];
    for (let i = 0; i < ids.length; i += 500) {
      const part = ids.slice(i, i + 500);
      blobs.push(...(await ex.selectFrom('file_versions').select('blob_id').where('id', 'in', part).execute()).map((r) => r.blob_id));
      await ex.deleteFrom('file_versions').where('id', 'in', part).execute();
    }
    return blobs;
  }

  /** Deletes every version (and the author record) of `fileIds`; returns the versions' blob ids. */
  async removeForFiles(ex: Executor, fileIds: number[]): Promise<string[]> {
    const blobs: string[] = [];
    for (let i = 0; i < fileIds.length; i += 500) {
      const part = fileIds.slice(i, i + 500);
      blobs.push(...(await ex.selectFrom('file_versions').select('blob_id').where('fileid', 'in', part).execute()).map((r) => r.blob_id));
      await ex.deleteFrom('file_versions').where('fileid', 'in', part).execute();
      await ex.deleteFrom('file_authors').where('fileid', 'in', part).execute();
    }
    return blobs;
  }

  /** Of `blobIds`, those a version references (garbage collection keeps them). */
  async referenced(ex: Executor, blobIds: string[]): Promise<Set<string>> {
    const out = new Set<string>();
    if (blobIds.length === 0) return out;
    for (const r of await ex.selectFrom('file_versions').select('blob_id').where('blob_id', 'in', blobIds).execute()) out.add(r.blob_id);
    return out;
  }

  #blobs(ex: Executor, filter: StorageFilter, owner?: string) {
    let q = ex.selectFrom('file_versions as v');
    if (filter === 'plain') q = q.where('v.blob_codec', '=', PLAIN_CODEC);
    if (filter === 'encrypted') q = q.where('v.blob_codec', '!=', PLAIN_CODEC);
    return owner ? q.where('v.owner', '=', owner) : q;
  }

  /** How many versions `filter` selects (by their blob's codec), and their bytes (encrypt-all, decrypt-all). */
  async countBlobs(ex: Executor, filter: StorageFilter, owner?: string): Promise<{ files: number; bytes: number }> {
    const r = await this.#blobs(ex, filter, owner)
      .select((eb) => [eb.fn.countAll<number | string>().as('n'), sql<number | string | null>`sum(v.size)`.as('bytes')]).executeTakeFirst();
    return { files: num(r?.n ?? 0), bytes: num(r?.bytes ?? 0) };
  }

  /**
   * One page of versions by ascending row id after `after`, as blobs to convert or verify: bound to
   * their file's id; the path is the file's with `.v<version>` (as Nextcloud names version files),
   * for a file in the trash the path it was deleted from (verify names a damaged version by it).
   */
  async blobsPage(ex: Executor, filter: StorageFilter, opts: { after?: number; limit?: number; owner?: string } = {}): Promise<StoredFile[]> {
    const rows = await this.#blobs(ex, filter, opts.owner).leftJoin('nodes as n', 'n.fileid', 'v.fileid')
      .leftJoin('trash_nodes as t', 't.fileid', 'v.fileid').leftJoin('trash_items as i', 'i.id', 't.item_id')
      .select(['v.id', 'v.fileid', 'v.owner', 'v.version', 'v.blob_id', 'v.blob_codec', 'v.blob_seal', 'v.size', 'n.path', 't.rel_path', 'i.original_location'])
      .where('v.id', '>', opts.after ?? 0).orderBy('v.id').limit(opts.limit ?? 500).execute();
    return rows.map((r) => ({
      holder: 'version' as const, rowId: num(r.id), fileid: num(r.fileid), owner: r.owner,
      path: `${r.path ?? (r.original_location != null && r.rel_path != null ? trashedPath(r.original_location, r.rel_path) : '')}.v${num(r.version)}`,
      blobId: r.blob_id, codec: r.blob_codec, size: num(r.size), seal: r.blob_seal ?? null,
    }));
  }

  /**
   * Points version `id` at another blob holding the same content (encrypt-all, decrypt-all), only
   * if it still names `oldBlobId`. @returns whether it did (false: the version was removed or restored meanwhile).
   */
  async switchBlob(ex: Executor, id: number, oldBlobId: string, newBlobId: string, codec: string, seal: string | null): Promise<boolean> {
    const r = await ex.updateTable('file_versions').set({ blob_id: newBlobId, blob_codec: codec, blob_seal: seal })
      .where('id', '=', id).where('blob_id', '=', oldBlobId).executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  /** The blob version `id` names, or undefined when it is gone. */
  async blobOf(ex: Executor, id: number): Promise<string | undefined> {
    return (await ex.selectFrom('file_versions').select('blob_id').where('id', '=', id).executeTakeFirst())?.blob_id;
  }
}
