import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { systemActor } from '../actor.ts';
import type { App } from '../app.ts';
import { transact, type Db } from '../db/database.ts';
import { ConflictError } from '../errors.ts';
import { ImportPendingError, NC_PENDING_CODEC } from '../encryption/import-pending.ts';
import { NodeRepository } from '../files/node-repository.ts';
import type { Logger } from '../logger.ts';
import { newBlobId } from '../storage/blob-id.ts';
import { runPool } from '../encryption/bulk-conversion/task-pool.ts';
import type { BlobContext, BlobStore } from '../storage/blob-store.ts';
import type { NcConfig } from './nextcloud-config.ts';
import { openNcKeyFile } from './nextcloud-crypto.ts';
import type { NcPendingContent } from './nextcloud-pending-content.ts';
import type { NcPendingKeys } from './nextcloud-pending-keys.ts';
import type { NcPendingRepository, PendingFile } from './nextcloud-pending-repository.ts';
import type { NcEntry } from './nextcloud-source.ts';

const MODULE = 'OC_DEFAULT_MODULE';
const IMPORTER = systemActor('import:nextcloud');
const CONVERTER = systemActor('import:nextcloud conversion');
/** Pending rows read per query. */
const PAGE = 50;
/** Files converted at once per user. */
const CONCURRENCY = 4;

/**
 * Import side: a file whose key the importer cannot open (per-user keys, owner without recovery)
 * is kept as Nextcloud stored it: its bytes copied into Coffer's blob store (never referencing the
 * Nextcloud directory afterwards), its row inserted with codec `nc-pending` and the file's ids,
 * etag and sizes, and the owner's share key of it in `import_pending_files`.
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
    const keyFile = join(this.#cfg.dataDirectory, uid, 'files_encryption', 'keys', 'files', rel, MODULE, `${uid}.shareKey`);
    const content = await readFile(keyFile).catch(() => undefined);
    if (!content) return false;
    const shareKey = openNcKeyFile(content, this.#cfg.secret);
    const file = join(this.#cfg.dataDirectory, uid, f.path);
    const onDisk = (await stat(file)).size;
    if (!write) return true;
    const blobId = newBlobId();
    const ctx: BlobContext = { fileId: f.fileId, owner: uid, parentId: f.parentId, actor: IMPORTER, fresh: true };
    const put = await this.#app.rawBlobs.put(blobId, createReadStream(file), ctx);
    try {
      if (put.size !== onDisk) throw new ConflictError(`copied ${put.size} bytes of Nextcloud's encrypted file, expected ${onDisk}`);
      await transact(this.#app.db, async (trx) => {
        await this.#nodes.insert(trx, {
          fileId: f.fileId, owner: uid, parentId: f.parentId, path: rel, name: f.name, kind: 'file', size: f.size, mtime: f.mtime,
          etag: f.etag, mimetype: f.mimetype, blobId, blobCodec: NC_PENDING_CODEC, checksum: f.checksum,
        });
        await this.#app.ncPending.repo.insert(trx, { fileId: f.fileId, owner: uid, shareKey, ncVersion: f.encrypted });
      });
    } catch (err) {
      await this.#app.rawBlobs.delete(blobId).catch(() => {});
      throw err;
    }
    return true;
  }
}

/**
 * Server side: converts a user's pending files into Coffer's format once their keys are unlocked
 * (started by the login hook), one file at a time in the background: decrypt and check the
 * Nextcloud blocks, write a Coffer blob under the owner's keys, swap the row (guarded by the old
 * blob id, so a concurrent overwrite wins) and drop the pending row in one transaction, then delete
 * the old blob. Resumable: a crash leaves the row pending (and at worst an orphan blob for the
 * collector); the next login of the user continues. File ids, etags, mtimes and checksums stay.
 */
export class NcPendingConverter {
  readonly #db: Db;
  readonly #blobs: BlobStore;
  readonly #raw: BlobStore;
  readonly #nodes: NodeRepository;
  readonly #repo: NcPendingRepository;
  readonly #content: NcPendingContent;
  readonly #keys: NcPendingKeys;
  readonly #log: Logger;
  readonly #running = new Map<string, Promise<void>>();
  #stopping = false;

  constructor(o: { db: Db; blobs: BlobStore; raw: BlobStore; nodes: NodeRepository; repo: NcPendingRepository; content: NcPendingContent; keys: NcPendingKeys; log: Logger }) {
    this.#db = o.db;
    this.#blobs = o.blobs;
    this.#raw = o.raw;
    this.#nodes = o.nodes;
    this.#repo = o.repo;
    this.#content = o.content;
    this.#keys = o.keys;
    this.#log = o.log;
  }

  /** Starts converting `uid`'s pending files unless that runs already. Never throws. */
  start(uid: string): void {
    if (this.#stopping || this.#running.has(uid)) return;
    const p = this.#run(uid)
      .catch((err: unknown) => this.#log.warn(`conversion of ${uid}'s imported Nextcloud files paused: ${(err as Error).message}`))
      .finally(() => this.#running.delete(uid));
    this.#running.set(uid, p);
  }

  /** Resolves when no conversion of `uid` runs (tests, status). */
  async idle(uid: string): Promise<void> { await this.#running.get(uid); }

  /** Stops after the files in hand (server shutdown). */
  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all([...this.#running.values()]);
  }

  async #run(uid: string): Promise<void> {
    if (!(await this.#repo.hasAny(uid))) return;
    let done = 0;
    let locked: ImportPendingError | undefined;
    const repo = this.#repo;
    async function* pending(): AsyncGenerator<PendingFile> {
      for (let after = 0; ;) {
        const page = await repo.page(uid, after, PAGE);
        if (page.length === 0) return;
        yield* page;
        after = page[page.length - 1]!.fileId;
      }
    }
    // A few at once: each file's time is mostly an RSA decryption of its share key and fsyncs.
    await runPool(pending(), CONCURRENCY, async (p) => {
      try {
        if (await this.#convert(p)) done++;
      } catch (err) {
        // locked (session expired, logged out): stop; the next login continues
        if (err instanceof ImportPendingError) { locked = err; return; }
        await this.#repo.setError(p.fileId, (err as Error).message);
        this.#log.warn(`imported Nextcloud file ${p.fileId} of ${uid} not converted: ${(err as Error).message}`);
      }
    }, () => this.#stopping || locked !== undefined);
    if (locked) throw locked;
    if (this.#stopping) return;
    if (!(await this.#repo.hasAny(uid))) await this.#keys.dropSealed(uid);
    this.#log.info(`converted ${done} imported Nextcloud files of ${uid}`);
  }

  async #convert(p: PendingFile): Promise<boolean> {
    const node = await this.#nodes.byId(this.#db, p.fileId);
    if (!node) throw new ConflictError('the file is no longer in its owner\'s tree (deleted before its conversion?)');
    if (node.blobCodec !== NC_PENDING_CODEC || !node.blobId) {
      // overwritten since the import: nothing of Nextcloud's is left to convert
      await this.#repo.delete(this.#db, p.fileId);
      return false;
    }
    const old = node.blobId;
    const ctx: BlobContext = { fileId: node.fileId, owner: node.owner, actor: CONVERTER, fresh: true, ...(node.parentId !== null ? { parentId: node.parentId } : {}) };
    const plain = await this.#content.plain(p, old, node.size, ctx);
    const blobId = newBlobId();
    const put = await this.#blobs.put(blobId, plain, ctx);
    let swapped = false;
    try {
      if (put.size !== node.size) throw new ConflictError(`converted to ${put.size} bytes, the row says ${node.size}`);
      swapped = await transact(this.#db, async (trx) => {
        const ok = await this.#nodes.swapContent(trx, node.fileId, old, {
          blobId, blobCodec: put.codec, size: node.size, mtime: node.mtime, etag: node.etag, checksum: node.checksum, mimetype: node.mimetype,
        });
        if (ok) await this.#repo.delete(trx, node.fileId);
        return ok;
      });
    } finally {
      if (!swapped) await this.#blobs.delete(blobId).catch(() => {});
    }
    if (swapped) await this.#raw.delete(old).catch((err: unknown) => this.#log.warn(`old blob ${old} not deleted: ${(err as Error).message}`));
    return swapped;
  }
}
