import { Readable } from 'node:stream';
import { PLAIN_CODEC, readAll, type BlobContext, type BlobStore } from './blob-store.ts';

/**
 * A stored blob opened for reading its stored bytes: its size, its first bytes, and ranges of it
 * (the encryption layer reads a header, then the chunks it needs). Local disk holds one descriptor
 * for all of it; other stores answer with a size and ranged gets.
 */
export interface OpenedRawBlob {
  /** Stored size in bytes. */
  readonly size: number;
  /** The whole blob when its size is at most the `wholeUpTo` it was opened with, else the first `headBytes`. */
  readonly head: Buffer;
  /** True when `head` is the whole blob. */
  readonly whole: boolean;
  /** The stored bytes [start, end] (inclusive, within the blob). @throws the store's read error */
  range(start: number, end: number): Promise<Readable>;
  /** Releases what the opened blob holds (idempotent); a stream range() returned keeps working. */
  close(): void;
}

/** Optional capability: stores that open a blob once for several reads. */
export interface RawBlobOpener {
  /** @throws NotFoundError when the blob is missing */
  openRaw(blobId: string, headBytes: number, wholeUpTo: number): Promise<OpenedRawBlob>;
}

function hasRawOpener(store: BlobStore): store is BlobStore & RawBlobOpener {
  return typeof (store as Partial<RawBlobOpener>).openRaw === 'function';
}

/**
 * Opens blob `blobId` of `store` for reading its stored bytes: the store's own opener when it has
 * one, else its size and a ranged get of the first `headBytes` (or all of a blob up to `wholeUpTo`).
 * @throws NotFoundError when the blob is missing
 */
export async function openRawBlob(store: BlobStore, blobId: string, ctx: BlobContext, headBytes: number, wholeUpTo: number): Promise<OpenedRawBlob> {
  if (hasRawOpener(store)) return store.openRaw(blobId, headBytes, wholeUpTo);
  const size = await store.size(blobId, PLAIN_CODEC, ctx);
  const whole = size <= wholeUpTo;
  const wanted = whole ? size : Math.min(headBytes, size);
  const head = wanted === 0 ? Buffer.alloc(0) : await readAll(await store.get(blobId, PLAIN_CODEC, ctx, { start: 0, end: wanted - 1 }));
  return {
    size, head, whole,
    range: async (start, end) => (whole
      ? Readable.from([head.subarray(start, end + 1)], { objectMode: false })
      : store.get(blobId, PLAIN_CODEC, ctx, { start, end })),
    close: () => {},
  };
}
