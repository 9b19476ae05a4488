import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { link, mkdir, open, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { AlreadyExistsError, NotFoundError, ValidationError } from '../errors.ts';
import { writeStreamToFile } from './file-sink.ts';
import { PLAIN_CODEC, type BlobContext, type BlobEntry, type BlobStore, type ByteRange, type LocalBlobPaths, type PutResult, type RawBlobAccess } from './blob-store.ts';

const BLOB_ID = /^[a-z0-9][a-z0-9-]{7,63}$/;

/**
 * Blobs as files under `<root>/<id[0..2]>/<id[2..4]>/<id>`. Writes go to `<root>/.tmp` (batched
 * writev, background flushes while large files stream in: see file-sink.ts), are fsynced and linked
 * into place, so a crash leaves either no blob or a complete one (plus, at worst, a
 * temp file that garbage collection removes).
 */
export class LocalBlobStore implements BlobStore, LocalBlobPaths, RawBlobAccess {
  readonly #root: string;
  readonly #tmp: string;
  readonly #madeDirs = new Set<string>();

  constructor(root: string) {
    this.#root = root;
    this.#tmp = join(root, '.tmp');
  }

  /** Creates the root and temp folders. */
  async init(): Promise<void> {
    await mkdir(this.#tmp, { recursive: true });
  }

  pathOf(blobId: string): string {
    if (!BLOB_ID.test(blobId)) throw new ValidationError(`invalid blob id`);
    return join(this.#root, blobId.slice(0, 2), blobId.slice(2, 4), blobId);
  }

  /** Temp folder (same filesystem as the blobs), for partial writes. */
  get tempDir(): string { return this.#tmp; }

  async put(blobId: string, source: Readable, _ctx?: BlobContext): Promise<PutResult> {
    const dest = this.pathOf(blobId);
    const tmp = join(this.#tmp, `${blobId}.${randomBytes(6).toString('hex')}`);
    const fh = await open(tmp, 'wx', 0o600);
    let size: number;
    try {
      size = await writeStreamToFile(fh, source);
      await fh.sync();
    } catch (err) {
      await fh.close().catch(() => {});
      await unlink(tmp).catch(() => {});
      throw err;
    }
    await fh.close();
    const dir = join(this.#root, blobId.slice(0, 2), blobId.slice(2, 4));
    if (!this.#madeDirs.has(dir)) {
      await mkdir(dir, { recursive: true });
      this.#madeDirs.add(dir);
    }
    // link() instead of rename(): an existing blob is never replaced (blobs are immutable).
    try {
      await link(tmp, dest);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new AlreadyExistsError(`blob ${blobId} already exists`);
      throw err;
    }
    await unlink(tmp);
    return { size, codec: PLAIN_CODEC };
  }

  async get(blobId: string, _codec: string, _ctx: BlobContext, range?: ByteRange): Promise<Readable> {
    const path = this.pathOf(blobId);
    await this.rawSize(blobId);
    return createReadStream(path, { start: range?.start, end: range?.end, highWaterMark: 1 << 20 });
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
          if (!f.isFile()) continue;
          const st = await stat(join(this.#root, a.name, b.name, f.name)).catch(() => null);
          if (st) yield { blobId: f.name, mtimeMs: st.mtimeMs };
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

/** A fresh random blob id (128 bits, hex). */
export function newBlobId(): string {
  return randomBytes(16).toString('hex');
}
