import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { systemActor } from '../actor.ts';
import type { App } from '../app.ts';
import { transact, type Db } from '../db/database.ts';
import { ConflictError } from '../errors.ts';
import { ImportPendingError, NC_PENDING_CODEC } from '../encryption/import-pending.ts';
import { NodeRepository, type Executor } from '../files/node-repository.ts';
import type { Logger } from '../logger.ts';
import type { RowSealer } from '../db/row-sealer.ts';
import type { TrashRepository } from '../trash/trash-repository.ts';
import type { VersionRepository } from '../versions/version-repository.ts';
import { newBlobId } from '../storage/blob-id.ts';
import { runPool } from '../encryption/bulk-conversion/task-pool.ts';
import type { BlobContext, BlobStore } from '../storage/blob-store.ts';
import type { NcConfig } from './nextcloud-config.ts';
import { openNcKeyFile } from './nextcloud-crypto.ts';
import type { NcPendingContent } from './nextcloud-pending-content.ts';
import type { NcPendingKeys } from './nextcloud-pending-keys.ts';
import type { NcPendingRepository, PendingBlob } from './nextcloud-pending-repository.ts';
import type { NcEntry } from './nextcloud-source.ts';
import type { KeptHistory, NcHistoryItem } from './nextcloud-history.ts';

const MODULE = 'OC_DEFAULT_MODULE';
const IMPORTER = systemActor('import:nextcloud');
const CONVERTER = systemActor('import:nextcloud conversion');
/** Pending rows read per query. */
const PAGE = 50;
/** Files converted at once per user. */
const CONCURRENCY = 4;

/**
 * Import side: a file, old version or trashed file whose key the importer cannot open (per-user
 * keys, owner without recovery) is kept as Nextcloud stored it: its bytes copied into Coffer's blob
 * store (never referencing the Nextcloud directory afterwards), its row (file, version, trash node)
 * naming that blob with codec `nc-pending` and Nextcloud's ids, etag and sizes, and the owner's
 * share key of it in `import_pending_blobs`, keyed by the blob.
 */
export class NcPendingFiles {
  readonly #app: App;
  readonly #cfg: NcConfig;
  readonly #nodes: NodeRepository;

  constructor(app: App, cfg: NcConfig) {
    this.#app = app;
    this.#cfg = cfg;
    this.#nodes = new NodeRepository(app.db, app.sealer);
  }

  /**
   * Keeps `f` of `uid` for conversion at the owner's first login (dry run: only checks that it
   * can be). Returns false when the owner has no share key for it (nothing could ever open it).
   * @throws ConflictError when the copy's size differs; storage and database errors
   */
  async keep(uid: string, f: NcEntry, write: boolean): Promise<boolean> {
    const rel = f.path.slice('files/'.length);
    const shareKey = await this.#shareKey(uid, 'files', rel);
    if (!shareKey) return false;
    if (!write) return (await stat(join(this.#cfg.dataDirectory, uid, f.path))).isFile();
    await this.#copy(uid, f.path, f.size, f.fileId, f.parentId, async (trx, blobId) => {
      await this.#nodes.insert(trx, {
        fileId: f.fileId, owner: uid, parentId: f.parentId, path: rel, name: f.name, kind: 'file', size: f.size, mtime: f.mtime,
        etag: f.etag, mimetype: f.mimetype, blobId, blobCodec: NC_PENDING_CODEC, checksum: f.checksum,
      });
      await this.#app.ncPending.repo.insert(trx, { blobId, fileId: f.fileId, owner: uid, shareKey, ncVersion: f.encrypted, size: f.size });
    });
    return true;
  }

  /**
   * Old versions and trashed files of an owner whose keys the importer lacks: their Nextcloud bytes
   * as they are (an `nc-pending` blob with its share key) for the history writer, which inserts the
   * version or trash rows. The share key is the one of `<keyArea>/<keyPath>` (a version's is its
   * live file's, as Nextcloud keeps it).
   * @returns undefined when the owner has no share key for it
   */
  async keepHistory(item: NcHistoryItem, encrypted: number, keyArea: string, keyPath: string): Promise<KeptHistory | undefined> {
    const shareKey = await this.#shareKey(item.owner, keyArea, keyPath);
    if (!shareKey) return undefined;
    return { shareKey, ncVersion: encrypted, put: (ctxFileId) => this.#putRaw(item.owner, item.physical, item.size, ctxFileId) };
  }

  async #shareKey(uid: string, area: string, rel: string): Promise<Buffer | undefined> {
    const keyFile = join(this.#cfg.dataDirectory, uid, 'files_encryption', 'keys', area, rel, MODULE, `${uid}.shareKey`);
    const content = await readFile(keyFile).catch(() => undefined);
    return content ? openNcKeyFile(content, this.#cfg.secret) : undefined;
  }

  /** Copies `<uid>/<physical>` into the blob store as it is. @throws ConflictError when the copy's size differs */
  async #putRaw(uid: string, physical: string, plainSize: number, fileId: number, parentId?: number): Promise<{ blobId: string; codec: string }> {
    const file = join(this.#cfg.dataDirectory, uid, physical);
    const onDisk = (await stat(file)).size;
    const blobId = newBlobId();
    const ctx: BlobContext = { fileId, owner: uid, actor: IMPORTER, fresh: true, ...(parentId !== undefined ? { parentId } : {}) };
    const put = await this.#app.rawBlobs.put(blobId, createReadStream(file), ctx);
    if (put.size !== onDisk) {
      await this.#app.rawBlobs.delete(blobId).catch(() => {});
      throw new ConflictError(`copied ${put.size} bytes of Nextcloud's encrypted file, expected ${onDisk} (plaintext ${plainSize})`);
    }
    return { blobId, codec: NC_PENDING_CODEC };
  }

  async #copy(uid: string, physical: string, size: number, fileId: number, parentId: number, rows: (trx: Executor, blobId: string) => Promise<void>): Promise<void> {
    const { blobId } = await this.#putRaw(uid, physical, size, fileId, parentId);
    try {
      await transact(this.#app.db, (trx) => rows(trx, blobId));
    } catch (err) {
      await this.#app.rawBlobs.delete(blobId).catch(() => {});
      throw err;
    }
  }
}

/**
 * Server side: converts a user's pending blobs into Coffer's format once their keys are unlocked
 * (started by the login hook), in the background: decrypt and check the Nextcloud blocks, write a
 * Coffer blob under the owner's keys, point the row that names the old blob at the new one (the
 * file's row, a version's, a trashed file's; guarded by the old blob id, so a concurrent overwrite,
 * restore or delete wins) and drop the pending row in one transaction, then delete the old blob.
 * A pending file overwritten (or deleted) before its conversion left its blob to a version (trash
 * node): that row is converted then. Resumable: a crash leaves the row pending (and at worst an
 * orphan blob for the collector); the next login of the user continues. File ids, etags, mtimes and
 * checksums stay.
 */
export class NcPendingConverter {
  readonly #db: Db;
  readonly #blobs: BlobStore;
  readonly #raw: BlobStore;
  readonly #nodes: NodeRepository;
  readonly #versions: VersionRepository;
  readonly #trash: TrashRepository;
  readonly #sealer: RowSealer;
  readonly #repo: NcPendingRepository;
  readonly #content: NcPendingContent;
  readonly #keys: NcPendingKeys;
  readonly #log: Logger;
  readonly #running = new Map<string, Promise<void>>();
  #stopping = false;

  constructor(o: {
    db: Db; blobs: BlobStore; raw: BlobStore; nodes: NodeRepository; versions: VersionRepository; trash: TrashRepository; sealer: RowSealer;
    repo: NcPendingRepository; content: NcPendingContent; keys: NcPendingKeys; log: Logger;
  }) {
    this.#db = o.db;
    this.#blobs = o.blobs;
    this.#raw = o.raw;
    this.#nodes = o.nodes;
    this.#versions = o.versions;
    this.#trash = o.trash;
    this.#sealer = o.sealer;
    this.#repo = o.repo;
    this.#content = o.content;
    this.#keys = o.keys;
    this.#log = o.log;
  }

  /** Starts converting `uid`'s pending blobs unless that runs already. Never throws. */
  start(uid: string): void {
    if (this.#stopping || this.#running.has(uid)) return;
    const p = this.#run(uid)
      .catch((err: unknown) => this.#log.warn(`conversion of ${uid}'s imported Nextcloud files paused: ${(err as Error).message}`))
      .finally(() => this.#running.delete(uid));
    this.#running.set(uid, p);
  }

  /** Resolves when no conversion of `uid` runs (tests, status). */
  async idle(uid: string): Promise<void> { await this.#running.get(uid); }

  /** Stops after the blobs in hand (server shutdown). */
  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all([...this.#running.values()]);
  }

  async #run(uid: string): Promise<void> {
    if (!(await this.#repo.hasAny(uid))) return;
    let done = 0;
    let locked: ImportPendingError | undefined;
    const repo = this.#repo;
    async function* pending(): AsyncGenerator<PendingBlob> {
      for (let after = ''; ;) {
        const page = await repo.page(uid, after, PAGE);
        if (page.length === 0) return;
        yield* page;
        after = page[page.length - 1]!.blobId;
      }
    }
    // A few at once: each blob's time is mostly an RSA decryption of its share key and fsyncs.
    await runPool(pending(), CONCURRENCY, async (p) => {
      try {
        if (await this.#convert(p)) done++;
      } catch (err) {
        // locked (session expired, logged out): stop; the next login continues
        if (err instanceof ImportPendingError) { locked = err; return; }
        await this.#repo.setError(p.blobId, (err as Error).message);
        this.#log.warn(`imported Nextcloud blob ${p.blobId} (file ${p.fileId}) of ${uid} not converted: ${(err as Error).message}`);
      }
    }, () => this.#stopping || locked !== undefined);
    if (locked) throw locked;
    if (this.#stopping) return;
    if (!(await this.#repo.hasAny(uid))) await this.#keys.dropSealed(uid);
    this.#log.info(`converted ${done} imported Nextcloud files, versions and trashed files of ${uid}`);
  }

  /** The row naming `p`'s blob, with how to point it at the converted blob (in a transaction). */
  async #holder(p: PendingBlob): Promise<{ parentId?: number; swap: (trx: Executor, blobId: string, codec: string) => Promise<boolean> } | undefined> {
    const node = await this.#nodes.byId(this.#db, p.fileId);
    if (node?.blobId === p.blobId && node.blobCodec === NC_PENDING_CODEC) {
      return {
        ...(node.parentId !== null ? { parentId: node.parentId } : {}),
        swap: (trx, blobId, codec) => this.#nodes.swapContent(trx, node.fileId, p.blobId, {
          blobId, blobCodec: codec, size: node.size, mtime: node.mtime, etag: node.etag, checksum: node.checksum, mimetype: node.mimetype,
        }),
      };
    }
    const version = (await this.#versions.list(this.#db, p.fileId)).find((v) => v.blobId === p.blobId && v.blobCodec === NC_PENDING_CODEC);
    if (version) {
      return { swap: (trx, blobId, codec) => this.#versions.switchBlob(trx, version.id, p.blobId, blobId, codec, this.#sealer.version(p.fileId, blobId, codec, version.size)) };
    }
    const trashed = await this.#trash.nodeById(this.#db, p.fileId);
    if (trashed?.blobId === p.blobId && trashed.blobCodec === NC_PENDING_CODEC) {
      return { swap: (trx, blobId, codec) => this.#trash.switchBlob(trx, p.fileId, p.blobId, blobId, codec, this.#sealer.node(p.fileId, blobId, codec, trashed.size)) };
    }
    return undefined;
  }

  async #convert(p: PendingBlob): Promise<boolean> {
    const holder = await this.#holder(p);
    if (!holder) {
      // no row names the blob any more (deleted, expired, or overwritten with versions off): its
      // owner of the moment released the blob; nothing of Nextcloud's is left to convert
      await this.#repo.delete(this.#db, p.blobId);
      return false;
    }
    const ctx: BlobContext = { fileId: p.fileId, owner: p.owner, actor: CONVERTER, fresh: true, ...(holder.parentId !== undefined ? { parentId: holder.parentId } : {}) };
    const plain = await this.#content.plain(p, ctx);
    const blobId = newBlobId();
    const put = await this.#blobs.put(blobId, plain, ctx);
    let swapped = false;
    try {
      if (put.size !== p.size) throw new ConflictError(`converted to ${put.size} bytes, the row says ${p.size}`);
      swapped = await transact(this.#db, async (trx) => {
        const ok = await holder.swap(trx, blobId, put.codec);
        if (ok) await this.#repo.delete(trx, p.blobId);
        return ok;
      });
    } finally {
      if (!swapped) await this.#blobs.delete(blobId).catch(() => {});
    }
    if (swapped) await this.#raw.delete(p.blobId).catch((err: unknown) => this.#log.warn(`old blob ${p.blobId} not deleted: ${(err as Error).message}`));
    return swapped;
  }
}
