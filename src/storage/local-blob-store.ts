import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync } from 'node:fs';
import { link, open, readdir, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { AlreadyExistsError, NotFoundError } from '../errors.ts';
import { DirSyncer } from './durable-fs.ts';
import { blobIdAt, shardedPath } from './blob-id.ts';
import { fsyncFd, openFd, readFdAt, writevFdAll } from './fd-io.ts';
import { FileRangeStream } from './file-range-stream.ts';
import { readHead, writeStreamToFile, type SourceHead } from './file-sink.ts';
import type { OpenedRawBlob, RawBlobOpener } from './raw-blob.ts';
import { PLAIN_CODEC, assertByteRange, type BlobContext, type BufferedBlobPut, type BlobEntry, type BlobStore, type ByteRange, type LocalBlobPaths, type PutResult } from './blob-store.ts';
import { SMALL_BLOB, STREAM_BUFFER } from './buffer-sizes.ts';

const HEX4 = /^[0-9a-f]{4}$/;

/**
 * Blobs as files under `<root>/<id[0..2]>/<id[2..4]>/<id>`. A small blob (the source ends within
 * SMALL_BLOB bytes) is written with one open('wx') / writev / fsync / close at its final path; a
 * larger one streams into `<root>/.tmp` (batched writev, background flushes: see file-sink.ts), is
 * fsynced and linked into place. Either way get() of a referenced id only ever sees complete
 * content, and a crash leaves at worst an unreferenced partial blob or temp file that garbage
 * collection removes (see put()).
 */
export class LocalBlobStore implements BlobStore, LocalBlobPaths, RawBlobOpener, BufferedBlobPut {
  readonly #root: string;
  readonly #tmp: string;
  /** Shard folders known to exist: bit i of a 4-hex-digit shard `id[0..4]` = i, or by name (other ids). */
  readonly #shardBits = new Uint8Array(65_536 / 8);
  readonly #shardNames = new Set<string>();
  /** Top-level shard folders whose subfolders were listed into the sets above (by `id[0..2]`). */
  readonly #scanned = new Map<string, Promise<void>>();
  /** Folder fsyncs, shared by the puts into one shard folder at the same time. */
  readonly #dirs = new DirSyncer();

  constructor(root: string) {
    this.#root = root;
    this.#tmp = join(root, '.tmp');
  }

  /** Creates the root and temp folders. */
  async init(): Promise<void> {
    await this.#dirs.mkdirp(this.#tmp);
  }

  pathOf(blobId: string): string {
    return join(this.#root, ...shardedPath(blobId));
  }

  /** Temp folder (same filesystem as the blobs), for partial writes. */
  get tempDir(): string { return this.#tmp; }

  /**
   * Writes the blob. A source that ends within SMALL_BLOB bytes is written at its final path
   * directly (open 'wx', writev, fsync: three thread-pool round trips instead of seven, the close
   * after fsync runs synchronously, and an existing shard folder costs none, see #ensureShard);
   * anything larger streams into a temp file that is linked into place once complete.
   *
   * Why writing a small blob under its final name is atomic enough: a partial file can exist
   * under the id only while this put() runs or after a crash during it, and in both cases no row
   * references the id — rows (nodes, upload_chunks) reference a blob only after put() resolved, i.e.
   * after the content was fsynced and the file closed, and ids are fresh random values never reused
   * (an existing id fails with EEXIST, leaving that file untouched). So get() of a referenced id
   * never sees partial content. The garbage collector sees the file in list(), but it is younger
   * than the grace period while being written; after a crash it is an unreferenced orphan that the
   * collector (or ConvertJournal.recover for encrypt-all) deletes like any other. A failed write
   * unlinks it at once. Durability: put() resolves only after the content, the blob's entry in its
   * shard folder and any shard folder it created were fsynced (POSIX promises nothing for an entry
   * without an fsync of its folder, whatever ext4 happens to do), so the row committed after put()
   * never points at a missing file after a power cut (docs/DURABILITY.md). The source is read in full before the file is created, so a client that goes
   * away mid-upload leaves nothing at all.
   * @throws AlreadyExistsError when the id is taken; the source's error; write errors.
   */
  async put(blobId: string, source: Readable, _ctx?: BlobContext): Promise<PutResult> {
    const dest = this.pathOf(blobId);
    const head = await readHead(source, SMALL_BLOB);
    await this.#ensureShard(blobId);
    if (head.ended) return this.#putSmall(blobId, dest, head);
    const tmp = join(this.#tmp, `${blobId}.${randomBytes(6).toString('hex')}`);
    const fh = await open(tmp, 'wx', 0o600);
    let size: number;
    try {
      size = await writeStreamToFile(fh, source, head);
      await fh.sync();
    } catch (err) {
      await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw err;
    }
    await fh.close();
    // link() instead of rename(): an existing blob is never replaced (blobs are immutable).
    try {
      await this.#retryInShard(blobId, () => link(tmp, dest));
    } catch (err) {
      await unlink(tmp).catch(() => {});
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new AlreadyExistsError(`blob ${blobId} already exists`);
      throw err;
    }
    await unlink(tmp);
    await this.#syncEntry(dest);
    return { size, codec: PLAIN_CODEC };
  }

  /**
   * BufferedBlobPut: writes a blob held in memory like a small one (open 'wx' at its final path,
   * writev, fsync), whatever its size: it is complete before the file is created, so put()'s
   * reasoning about partial files holds. @throws AlreadyExistsError when the id is taken; write errors.
   */
  async putBuffers(blobId: string, pieces: readonly Buffer[], _ctx?: BlobContext): Promise<PutResult> {
    const dest = this.pathOf(blobId);
    await this.#ensureShard(blobId);
    let size = 0;
    for (const p of pieces) size += p.length;
    return this.#putSmall(blobId, dest, { chunks: [...pieces], size, ended: true });
  }

  async #putSmall(blobId: string, dest: string, head: SourceHead): Promise<PutResult> {
    let fd: number;
    try {
      fd = await this.#retryInShard(blobId, () => openFd(dest, 'wx'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new AlreadyExistsError(`blob ${blobId} already exists`);
      throw err;
    }
    try {
      await writevFdAll(fd, head.chunks);
      await fsyncFd(fd);
    } catch (err) {
      closeSync(fd);
      await unlink(dest).catch(() => {});
      throw err;
    }
    closeSync(fd); // after fsync: nothing left to write back, so no thread-pool round trip for it
    await this.#syncEntry(dest);
    return { size: head.size, codec: PLAIN_CODEC };
  }

  /** fsyncs the folder of a blob just made; if that fails the blob goes (nobody references it yet). @throws the flush error. */
  async #syncEntry(dest: string): Promise<void> {
    try {
      await this.#dirs.sync(dirname(dest));
    } catch (err) {
      await unlink(dest).catch(() => {});
      throw err;
    }
  }

  /**
   * Makes sure the blob's shard folder exists. Which ones do is learnt by listing a top-level
   * folder once (the first time a blob goes into it), so on a store of any age a put into an
   * existing folder costs no system call, and a new folder one mkdir. Nothing removes shard folders.
   */
  async #ensureShard(blobId: string): Promise<void> {
    const a = blobId.slice(0, 2);
    const b = blobId.slice(2, 4);
    if (this.#hasShard(a + b)) return;
    let scan = this.#scanned.get(a);
    if (!scan) {
      scan = readdir(join(this.#root, a)).then((names) => { for (const n of names) this.#addShard(a + n); }, (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') this.#scanned.delete(a); // listed again next time
      });
      this.#scanned.set(a, scan);
    }
    await scan;
    if (this.#hasShard(a + b)) return;
    await this.#dirs.mkdirp(join(this.#root, a, b));
    this.#addShard(a + b);
  }

  /** Runs `op`, and once more after creating the shard folder if it failed with ENOENT (folder removed behind our back). */
  async #retryInShard<T>(blobId: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await this.#dirs.mkdirp(dirname(this.pathOf(blobId)));
      return op();
    }
  }

  #hasShard(shard: string): boolean {
    if (!HEX4.test(shard)) return this.#shardNames.has(shard);
    const i = parseInt(shard, 16);
    return (this.#shardBits[i >> 3] & (1 << (i & 7))) !== 0;
  }

  #addShard(shard: string): void {
    if (!HEX4.test(shard)) { this.#shardNames.add(shard); return; }
    const i = parseInt(shard, 16);
    this.#shardBits[i >> 3] |= 1 << (i & 7);
  }

  /**
   * Streams the blob (or the inclusive range of it) through openRaw: one open, a synchronous fstat,
   * then one positioned read of up to READ_BUFFER bytes into a buffer of their size, or a stream
   * from the same descriptor for more.
   * @throws NotFoundError when the blob is missing; ValidationError for an invalid range.
   */
  async get(blobId: string, _codec: string, _ctx: BlobContext, range?: ByteRange): Promise<Readable> {
    assertByteRange(range);
    const raw = await this.openRaw(blobId, 0, 0);
    try {
      const start = range?.start ?? 0;
      const end = Math.min(range?.end ?? raw.size - 1, raw.size - 1);
      return start > end ? Readable.from([]) : await raw.range(start, end);
    } finally {
      raw.close();
    }
  }

  /**
   * Opens the blob once for several reads (RawBlobOpener): open, then fstat and close of the
   * read-only descriptor, which do no I/O, run synchronously instead of costing a thread-pool round
   * trip each. A blob of at most `wholeUpTo` bytes is read whole in one positioned read; else the
   * first `headBytes`. A range of up to READ_BUFFER bytes is one positioned read; a longer one is a
   * stream that takes the descriptor over (later ranges reopen the file).
   * @throws NotFoundError when the blob is missing.
   */
  async openRaw(blobId: string, headBytes: number, wholeUpTo: number): Promise<OpenedRawBlob> {
    const path = this.pathOf(blobId);
    let fd: number | undefined;
    try {
      fd = await openFd(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`blob ${blobId} is missing`);
      throw err;
    }
    const release = () => { if (fd !== undefined) { closeSync(fd); fd = undefined; } };
    try {
      const size = fstatSync(fd).size;
      const whole = size <= wholeUpTo;
      const wanted = whole ? size : Math.min(headBytes, size);
      const head = wanted === 0 ? Buffer.alloc(0) : await readFdAt(fd, wanted, 0);
      return {
        size, head, whole,
        range: async (start, end) => {
          if (whole) return Readable.from([head.subarray(start, end + 1)], { objectMode: false });
          const len = end - start + 1;
          if (fd === undefined) fd = await openFd(path, 'r');
          if (len <= STREAM_BUFFER) return Readable.from([await readFdAt(fd, len, start)], { objectMode: false });
          const taken = fd;
          fd = undefined; // the stream closes it
          return new FileRangeStream(taken, start, end);
        },
        close: release,
      };
    } catch (err) {
      release();
      throw err;
    }
  }

  async size(blobId: string): Promise<number> {
    return this.rawSize(blobId);
  }

  async rawSize(blobId: string): Promise<number> {
    try {
      return (await stat(this.pathOf(blobId))).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`blob ${blobId} is missing`);
      throw err;
    }
  }

  async delete(blobId: string): Promise<void> {
    await unlink(this.pathOf(blobId)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  async *list(): AsyncIterable<BlobEntry> {
    const level = async (dir: string) => (await readdir(dir, { withFileTypes: true }).catch(() => []));
    for (const a of await level(this.#root)) {
      if (!a.isDirectory() || a.name.startsWith('.')) continue;
      for (const b of await level(join(this.#root, a.name))) {
        if (!b.isDirectory()) continue;
        for (const f of await level(join(this.#root, a.name, b.name))) {
          const blobId = f.isFile() ? blobIdAt(a.name, b.name, f.name) : null;
          if (blobId === null) continue;
          const st = await stat(join(this.#root, a.name, b.name, f.name)).catch(() => null);
          if (st) yield { blobId, mtimeMs: st.mtimeMs };
        }
      }
    }
  }

  /** Temp files older than `olderThanMs` (left by crashed writes). */
  async *staleTempFiles(olderThanMs: number): AsyncIterable<string> {
    const now = Date.now();
    for (const f of await readdir(this.#tmp).catch(() => [] as string[])) {
      const p = join(this.#tmp, f);
      const st = await stat(p).catch(() => null);
      if (st && now - st.mtimeMs > olderThanMs) yield p;
    }
  }
}
