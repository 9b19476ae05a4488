import { Readable } from 'node:stream';
import { ValidationError } from '../errors.ts';
import type { Actor } from '../actor.ts';

/**
 * Who a blob belongs to. The encryption decorator binds ciphertext to `fileId` and the blob id
 * (the version), and picks the owner's key; the plain stores ignore it.
 */
export interface BlobContext {
  /** Stable file id (survives MOVE). */
  readonly fileId: number;
  /** The uid whose tree holds the file. */
  readonly owner: string;
  /**
   * Who reads or writes: the encryption layer's key policy picks the keys this actor may use (in
   * per-user-key mode a sharee's seal of a share key, a public link's wrapping, never the owner's
   * key for someone else). Plain stores ignore it.
   */
  readonly actor: Actor;
  /**
   * File id of an existing folder of `owner`'s tree that will contain a NEW file (its row does not
   * exist yet when the blob is written): per-user-key mode wraps the data key under the share key of
   * the nearest shared ancestor. Not needed when `fileId` already has a row.
   */
  readonly parentId?: number;
  /**
   * What the database row that points at this blob says, with its seal (encryption/row-seal.ts):
   * a plain blob is served only when the seal matches. `chunk` ("uid/upload/name") for upload chunks.
   */
  readonly row?: { readonly size: number; readonly seal: string | null; readonly chunk?: string; readonly version?: boolean };
  /** The caller wrote this blob itself in this operation: no database row speaks for it yet. */
  readonly fresh?: boolean;
}

/** Inclusive byte range of the plaintext. */
export interface ByteRange {
  readonly start: number;
  readonly end: number;
}

/**
 * The one check of a ByteRange every store applies (adapters parse Range headers into ranges
 * already clamped to the file: dav/http-util.ts parseRange).
 * @throws ValidationError unless 0 <= start <= end, both safe integers.
 */
export function assertByteRange(range: ByteRange | undefined): void {
  if (range && !(Number.isSafeInteger(range.start) && Number.isSafeInteger(range.end) && range.start >= 0 && range.end >= range.start)) {
    throw new ValidationError(`invalid byte range ${range.start}-${range.end}`);
  }
}

export interface PutResult {
  /** Plaintext bytes written. */
  readonly size: number;
  /**
   * Opaque codec tag ('plain', or the encryption format id). Callers store it with the blob
   * reference and hand it back to get(); they never interpret it.
   */
  readonly codec: string;
  /** Hex id of the key that wraps an encrypted blob's data key (absent for plain blobs). */
  readonly keyId?: string;
}

export interface BlobEntry {
  readonly blobId: string;
  /** Last modification time, ms since the epoch (for garbage collection of orphans). */
  readonly mtimeMs: number;
}

/**
 * Content storage: immutable blobs under opaque ids. A blob is written once and never modified;
 * a new version of a file is a new blob. No file or folder name ever reaches a BlobStore.
 */
export interface BlobStore {
  /**
   * Streams `source` into a new blob, atomically: the blob is either complete and durable, or absent.
   * @throws AlreadyExistsError when the id is taken; the source stream's error if it fails.
   */
  put(blobId: string, source: Readable, ctx: BlobContext): Promise<PutResult>;
  /**
   * Opens the blob's plaintext (or the given inclusive range of it) as a stream. Integrity failures
   * surface as a CryptoError, either thrown here or emitted by the stream, never as wrong bytes.
   * @throws NotFoundError when the blob is missing; CryptoError when it fails authentication.
   */
  get(blobId: string, codec: string, ctx: BlobContext, range?: ByteRange): Promise<Readable>;
  /**
   * Plaintext size of the blob.
   * @throws NotFoundError when the blob is missing; CryptoError when its framing is invalid.
   */
  size(blobId: string, codec: string, ctx: BlobContext): Promise<number>;
  /** Removes the blob; a missing blob is not an error. */
  delete(blobId: string): Promise<void>;
  /** Every blob in the store (for verification and garbage collection). */
  list(): AsyncIterable<BlobEntry>;
}

/** Optional capability: stores that keep blobs as local files can say where. */
export interface LocalBlobPaths {
  /** Absolute path of the blob's file. */
  pathOf(blobId: string): string;
}

export function hasLocalPaths(store: BlobStore): store is BlobStore & LocalBlobPaths {
  return typeof (store as Partial<LocalBlobPaths>).pathOf === 'function';
}

/** Optional capability: stores that write a blob held in memory without a stream (small blobs). */
export interface BufferedBlobPut {
  /**
   * Writes the concatenation of `pieces` as a new blob, with put()'s guarantees (complete and
   * durable, or absent). @throws AlreadyExistsError when the id is taken; write errors.
   */
  putBuffers(blobId: string, pieces: readonly Buffer[], ctx: BlobContext): Promise<PutResult>;
}

/**
 * Writes the blob `pieces` through the store's BufferedBlobPut when it has one, else through put()
 * with a byte stream of them. @throws as BlobStore.put.
 */
export function putPieces(store: BlobStore, blobId: string, pieces: readonly Buffer[], ctx: BlobContext): Promise<PutResult> {
  const direct = (store as Partial<BufferedBlobPut>).putBuffers;
  if (typeof direct === 'function') return direct.call(store, blobId, pieces, ctx);
  return store.put(blobId, Readable.from(pieces, { objectMode: false }), ctx);
}

/** Reads a (small) byte stream to its end into one buffer. @throws the stream's error. */
export async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** The codec tag of blobs stored as they are. */
export const PLAIN_CODEC = 'plain';
