import { open, readFile, readdir, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Db } from '../db/database.ts';
import { ConflictError } from '../errors.ts';
import type { BlobStore } from '../storage/blob-store.ts';

/**
 * Crash journal of encrypt-all / decrypt-all, in the data directory:
 *
 * - `.encryption-convert.lock`: the pid of the running conversion (one at a time per instance).
 * - `.encryption-convert.journal`: `B <newBlobId> <oldBlobId> <fileid>` before a file's new blob is
 *   written, `E <newBlobId>` once its old blob is gone. Only opaque ids, never names.
 *
 * A conversion killed at any instant leaves, per unfinished entry, at most one unreferenced blob
 * (the new one before the row switched, the old one after) and a temp file. `recover()` deletes
 * exactly those: a blob id is never reused, so an id no row references can never become live again.
 * Appends are not fsynced: they survive SIGKILL (page cache); after a power loss the worst case is
 * an orphaned blob, never a lost or half-written file.
 */
export class ConvertJournal {
  readonly #lockPath: string;
  readonly #journalPath: string;
  readonly #db: Db;
  readonly #raw: BlobStore;
  #fh: FileHandle | undefined;
  #locked = false;

  constructor(o: { dir: string; db: Db; rawBlobs: BlobStore }) {
    this.#lockPath = join(o.dir, '.encryption-convert.lock');
    this.#journalPath = join(o.dir, '.encryption-convert.journal');
    this.#db = o.db;
    this.#raw = o.rawBlobs;
  }

  /**
   * Takes the lock (a stale lock of a dead process is taken over).
   * @throws ConflictError when another live process holds it.
   */
  async lock(): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        const fh = await open(this.#lockPath, 'wx', 0o600);
        await fh.writeFile(String(process.pid));
        await fh.close();
        this.#locked = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const pid = Number((await readFile(this.#lockPath, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid)) {
        throw new ConflictError(`another encrypt-all/decrypt-all is running (pid ${pid}); wait for it to finish`);
      }
      await unlink(this.#lockPath).catch(() => {});
    }
    throw new ConflictError('could not take the encrypt-all/decrypt-all lock');
  }

  /**
   * Cleans up after a killed run: for each unfinished entry deletes whichever of the two blobs no
   * row references, and the new blob's temp files. Then starts a fresh journal.
   * @returns the number of unfinished entries found.
   */
  async recover(): Promise<number> {
    const text = await readFile(this.#journalPath, 'utf8').catch(() => '');
    const open_ = new Map<string, string>();
    for (const line of text.split('\n')) {
      const [kind, newId, oldId] = line.split(' ');
      if (kind === 'B' && newId && oldId) open_.set(newId, oldId);
      else if (kind === 'E' && newId) open_.delete(newId);
    }
    for (const [newId, oldId] of open_) {
      for (const id of [newId, oldId]) {
        if (!(await this.#referenced(id))) await this.#raw.delete(id);
      }
      await this.#deleteTemp(newId);
    }
    await unlink(this.#journalPath).catch(() => {});
    this.#fh = await open(this.#journalPath, 'a', 0o600);
    return open_.size;
  }

  async #referenced(blobId: string): Promise<boolean> {
    const a = await this.#db.selectFrom('nodes').select('fileid').where('blob_id', '=', blobId).limit(1).executeTakeFirst();
    if (a) return true;
    const b = await this.#db.selectFrom('upload_chunks').select('blob_id').where('blob_id', '=', blobId).limit(1).executeTakeFirst();
    return b !== undefined;
  }

  async #deleteTemp(blobId: string): Promise<void> {
    const tmp = (this.#raw as { tempDir?: unknown }).tempDir;
    if (typeof tmp !== 'string') return;
    for (const f of await readdir(tmp).catch(() => [] as string[])) {
      if (f.startsWith(`${blobId}.`)) await unlink(join(tmp, f)).catch(() => {});
    }
  }

  /** Records that a new blob for `fileid` is about to be written. */
  async begin(newId: string, oldId: string, fileid: number): Promise<void> {
    await this.#fh?.write(`B ${newId} ${oldId} ${fileid}\n`);
  }

  /** Records that the entry of `newId` is settled (row switched and old blob deleted, or new blob dropped). */
  async end(newId: string): Promise<void> {
    await this.#fh?.write(`E ${newId}\n`);
  }

  /** Closes the journal; removes it when `clean` (nothing pending); releases the lock. */
  async close(clean: boolean): Promise<void> {
    await this.#fh?.close().catch(() => {});
    this.#fh = undefined;
    if (clean) await unlink(this.#journalPath).catch(() => {});
    if (this.#locked) await unlink(this.#lockPath).catch(() => {});
    this.#locked = false;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
