import { open, readFile, readdir, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileRows } from '../file-rows.ts';
import { ConflictError, NotFoundError } from '../../errors.ts';
import { PLAIN_CODEC, type BlobStore } from '../../storage/blob-store.ts';
import { systemActor } from '../../actor.ts';

/** The journal's existence checks read nothing through the key policy. */
const JOURNAL = systemActor('convert-journal');

/**
 * Crash journal of encrypt-all / decrypt-all, in the data directory:
 *
 * - `.encryption-convert.lock`: the pid of the running conversion (one at a time per instance).
 * - `.encryption-convert.journal`: `B <newBlobId> <oldBlobId> <fileid>` before a file's new blob is
 *   written (a page of files per append), `E <newBlobId>` once its old blob is gone (a committed
 *   batch per append). Only opaque ids, never names.
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
  readonly #rows: FileRows;
  readonly #raw: BlobStore;
  #fh: FileHandle | undefined;
  #locked = false;

  constructor(o: { dir: string; rows: FileRows; rawBlobs: BlobStore }) {
    this.#lockPath = join(o.dir, '.encryption-convert.lock');
    this.#journalPath = join(o.dir, '.encryption-convert.journal');
    this.#rows = o.rows;
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
   * Cleans up after a killed run: for each open entry deletes whichever of the two blobs no row
   * references, and the new blob's temp files. Then starts a fresh journal.
   * @returns the number of conversions that were in progress (left a blob, a temp file or a switched row).
   */
  async recover(): Promise<number> {
    const text = await readFile(this.#journalPath, 'utf8').catch(() => '');
    const open_ = new Map<string, string>();
    for (const line of text.split('\n')) {
      const [kind, newId, oldId] = line.split(' ');
      if (kind === 'B' && newId && oldId) open_.set(newId, oldId);
      else if (kind === 'E' && newId) open_.delete(newId);
    }
    // Entries are journaled a page at a time, so most open ones may never have been started: count
    // only those that left something behind (a switched row, a new blob, a temp file).
    const unfinished = await this.#deleteTemps(new Set(open_.keys()));
    for (const [newId, oldId] of open_) {
      if (await this.#rows.isReferenced(newId)) {
        unfinished.add(newId);
      } else if (await this.#exists(newId)) {
        unfinished.add(newId);
        await this.#raw.delete(newId);
      }
      if (!(await this.#rows.isReferenced(oldId))) await this.#raw.delete(oldId);
    }
    await unlink(this.#journalPath).catch(() => {});
    this.#fh = await open(this.#journalPath, 'a', 0o600);
    return unfinished.size;
  }

  async #exists(blobId: string): Promise<boolean> {
    try {
      await this.#raw.size(blobId, PLAIN_CODEC, { fileId: 0, owner: '', actor: JOURNAL });
      return true;
    } catch (err) {
      if (err instanceof NotFoundError) return false;
      throw err;
    }
  }


  /** Deletes the temp files (`<blobId>.<random>`) of the given new blobs; returns the ids that had one. */
  async #deleteTemps(blobIds: ReadonlySet<string>): Promise<Set<string>> {
    const found = new Set<string>();
    const tmp = (this.#raw as { tempDir?: unknown }).tempDir;
    if (typeof tmp !== 'string' || blobIds.size === 0) return found;
    for (const f of await readdir(tmp).catch(() => [] as string[])) {
      const id = f.slice(0, Math.max(0, f.indexOf('.')));
      if (!blobIds.has(id)) continue;
      found.add(id);
      await unlink(join(tmp, f)).catch(() => {});
    }
    return found;
  }

  /** Records, with one append, that new blobs are about to be written for these files. */
  async beginMany(entries: readonly { newId: string; oldId: string; fileid: number }[]): Promise<void> {
    if (entries.length === 0) return;
    await this.#fh?.write(entries.map((e) => `B ${e.newId} ${e.oldId} ${e.fileid}\n`).join(''));
  }

  /** Records, with one append, that these entries are settled (row switched and old blob deleted, or new blob dropped). */
  async endMany(newIds: readonly string[]): Promise<void> {
    if (newIds.length === 0) return;
    await this.#fh?.write(newIds.map((id) => `E ${id}\n`).join(''));
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
