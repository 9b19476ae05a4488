import { createHash } from 'node:crypto';
import { ImportPendingError, NC_PENDING_CODEC, type PendingContentReader } from './import-pending.ts';
import { Readable, pipeline } from 'node:stream';
import { pipeSource } from '../storage/source-pipe.ts';
import { CryptoError } from '../errors.ts';
import { openRawBlob, type OpenedRawBlob } from '../storage/raw-blob.ts';
import { PLAIN_CODEC, assertByteRange, putPieces, type BlobContext, type BlobEntry, type BlobStore, type ByteRange, type PutResult } from '../storage/blob-store.ts';
import type { OpenedHeader } from '../crypto/blob-header.ts';
import { chunkRangeFor, encryptedSize, plaintextSize } from '../crypto/blob-sizes.ts';
import { ChunkDecryptStream } from '../crypto/decrypt-stream.ts';
import { EncryptStream, encryptToPieces } from '../crypto/encrypt-stream.ts';
import { CIPHER_AES_256_GCM, FORMAT_ID, HEADER_SIZE, type CipherId } from '../crypto/format.ts';
import { readHead } from '../storage/file-sink.ts';
import { followKeyRoot, type EncryptionState } from './encryption-state.ts';
import type { KeyManager } from './master-key/key-manager.ts';
import type { KeyPolicy } from './key-policy/key-policy.ts';
import type { RowSeal } from './row-seal.ts';
import { SMALL_BLOB } from '../storage/buffer-sizes.ts';

/**
 * The 16 header bytes that stand for a blob id: the id itself when it is 32 hex digits (newBlobId),
 * else the first 16 bytes of SHA-256("coffer blob id" ‖ 0 ‖ id).
 */
export function blobIdBytes(blobId: string): Buffer {
  if (/^[0-9a-f]{32}$/.test(blobId)) return Buffer.from(blobId, 'hex');
  return createHash('sha256').update('coffer blob id\0').update(blobId, 'utf8').digest().subarray(0, 16);
}

/**
 * Waits until `s` has its first verified bytes (or ended), so that a blob whose first chunk fails
 * authentication is refused before the caller commits to a response; rejects with the stream's error.
 */
async function primed(s: Readable): Promise<Readable> {
  await new Promise<void>((resolve, reject) => {
    const done = () => { s.off('readable', done); s.off('error', fail); resolve(); };
    const fail = (err: Error) => { s.off('readable', done); reject(err); };
    s.on('readable', done);
    s.once('error', fail);
  });
  return s;
}


export interface EncryptedBlobStoreOptions {
  /** The store underneath (local disk, S3). */
  inner: BlobStore;
  /** Which key wraps new blobs and unwraps stored ones, for the actor of each call. */
  policy: KeyPolicy;
  /** Follows the key storage root of the encryption state (change-key-storage-root in another process). */
  keys: KeyManager;
  state: EncryptionState;
  /** Default key storage root (the data directory) when the state names none. */
  defaultKeyRoot: string;
  /** Cipher for new blobs (default AES-256-GCM). */
  cipher?: CipherId;

  /**
   * Row seals (row-seal.ts): with them, a plain blob is served only for a row whose seal matches,
   * so a database altered to call an encrypted file plain is refused. Absent in unit tests.
   */
  seal?: RowSeal;
  /** Reads blobs still in Nextcloud's form after a per-user-key import (import-pending.ts); without it they are refused. */
  pending?: PendingContentReader;
}


/**
 * BlobStore decorator: encrypts new blobs in the cfe1 format while encryption is enabled (codec
 * 'cfe1'), stores them as they are otherwise (codec 'plain'), and reads both. Sizes are plaintext
 * sizes; ranges read only the chunks they need. Every integrity failure is a CryptoError.
 */
export class EncryptedBlobStore implements BlobStore {
  readonly #inner: BlobStore;
  readonly #pending: PendingContentReader | undefined;
  readonly #keys: KeyManager;
  readonly #policy: KeyPolicy;
  readonly #state: EncryptionState;
  readonly #defaultRoot: string;
  readonly #cipher: CipherId;

  /** Row seals, when configured (see EncryptedBlobStoreOptions.seal). */
  readonly seal: RowSeal | undefined;

  constructor(o: EncryptedBlobStoreOptions) {
    this.seal = o.seal;
    this.#inner = o.inner;
    this.#pending = o.pending;
    this.#keys = o.keys;
    this.#policy = o.policy;
    this.#state = o.state;
    this.#defaultRoot = o.defaultKeyRoot;
    this.#cipher = o.cipher ?? CIPHER_AES_256_GCM;

  }

  get policy(): KeyPolicy { return this.#policy; }

  /** Names the blob in a refused read's CryptoError: the adapter that answers the request audits it. */
  #report(blobId: string, ctx: BlobContext, err: unknown): void {
    if (err instanceof CryptoError) err.blob ??= { blobId, fileId: ctx.fileId, owner: ctx.owner };
  }

  get inner(): BlobStore { return this.#inner; }

  async #syncState(): Promise<boolean> {
    return (await followKeyRoot(this.#keys, this.#state, this.#defaultRoot)).enabled;
  }

  /** @throws as BlobStore.put; CryptoError/NotFoundError when encryption is on but keys are unusable. */
  async put(blobId: string, source: Readable, ctx: BlobContext): Promise<PutResult> {
    if (!(await this.#syncState())) return this.#inner.put(blobId, source, ctx);
    return this.putEncrypted(blobId, source, ctx);
  }

  /**
   * Writes a cfe1 blob regardless of the enabled switch (encrypt-all). A source that ends within
   * SMALL_BLOB bytes (most uploads) is sealed in one go and written without a stream
   * (putEncryptedBuffer); a longer one streams through EncryptStream.
   * @throws the source's error; CryptoError/NotFoundError when keys are unusable; write errors.
   */
  async putEncrypted(blobId: string, source: Readable, ctx: BlobContext): Promise<PutResult> {
    const head = await readHead(source, SMALL_BLOB);
    if (head.ended) {
      const parts = head.chunks.map((c) => (Buffer.isBuffer(c) ? c : Buffer.from(c as unknown as string)));
      return this.putEncryptedBuffer(blobId, parts.length === 1 ? parts[0]! : Buffer.concat(parts), ctx);
    }
    await this.#syncState();
    const key = await this.#policy.keyForWrite(ctx);
    const enc = new EncryptStream({ cipher: this.#cipher, fileId: ctx.fileId, blobId: blobIdBytes(blobId), keyId: key.id, kek: key.key });
    // The head first, then the rest of the source (readHead left it paused).
    for (const c of head.chunks) enc.write(c);
    // A source that closes without ending (client gone) fails the put; a failed put leaves the
    // source (the request) alive, so that the client still gets its answer.
    pipeSource(source, enc);
    let res: PutResult;
    try {
      res = await this.#inner.put(blobId, enc, ctx);
    } catch (err) {
      enc.destroy();
      throw err;
    }
    if (res.size !== encryptedSize(enc.plaintextBytes)) {
      await this.#inner.delete(blobId);
      throw new CryptoError('size-mismatch', `stored size ${res.size} of blob ${blobId} does not match its plaintext size ${enc.plaintextBytes}`);
    }
    return { size: enc.plaintextBytes, codec: FORMAT_ID, keyId: key.id.toString('hex') };
  }

  /**
   * Writes `plain` (held in memory) as a cfe1 blob regardless of the enabled switch: the same bytes
   * as putEncrypted, sealed in one go and written without streams (encrypt-all's small files).
   * @throws as putEncrypted.
   */
  async putEncryptedBuffer(blobId: string, plain: Buffer, ctx: BlobContext): Promise<PutResult> {
    await this.#syncState();
    const key = await this.#policy.keyForWrite(ctx);
    const pieces = encryptToPieces({ cipher: this.#cipher, fileId: ctx.fileId, blobId: blobIdBytes(blobId), keyId: key.id, kek: key.key }, plain);
    const res = await putPieces(this.#inner, blobId, pieces, ctx);
    if (res.size !== encryptedSize(plain.length)) {
      await this.#inner.delete(blobId);
      throw new CryptoError('size-mismatch', `stored size ${res.size} of blob ${blobId} does not match its plaintext size ${plain.length}`);
    }
    return { size: plain.length, codec: FORMAT_ID, keyId: key.id.toString('hex') };
  }

  /** Writes a plain blob regardless of the enabled switch (decrypt-all). */
  async putPlain(blobId: string, source: Readable, ctx: BlobContext): Promise<PutResult> {
    return this.#inner.put(blobId, source, ctx);
  }

  /**
   * Reads and verifies a blob's header (before any byte is served).
   * @throws CryptoError for swapped/rolled-back/tampered headers or missing keys; NotFoundError for a missing blob.
   */
  async openHeader(blobId: string, ctx: BlobContext): Promise<{ opened: OpenedHeader; plainSize: number }> {
    const raw = await this.#openStored(blobId, ctx, 0);
    try {
      return await this.#verifyHeader(raw, blobId, ctx);
    } finally {
      raw.close();
    }
  }

  /** Opens a stored blob with its header bytes (all of it when at most `wholeUpTo`). @throws NotFoundError */
  async #openStored(blobId: string, ctx: BlobContext, wholeUpTo: number): Promise<OpenedRawBlob> {
    await this.#syncState();
    return openRawBlob(this.#inner, blobId, ctx, HEADER_SIZE, wholeUpTo);
  }

  /** Checks a stored blob's framing and header (see openHeader). */
  async #verifyHeader(raw: OpenedRawBlob, blobId: string, ctx: BlobContext): Promise<{ opened: OpenedHeader; plainSize: number }> {
    const plainSize = plaintextSize(raw.size);
    const head = raw.head.subarray(0, HEADER_SIZE);
    const opened = await this.#policy.openHeader(head, ctx, { fileId: ctx.fileId, blobId: blobIdBytes(blobId) });
    return { opened, plainSize };
  }

  /**
   * Checks what the row in `ctx.row` says about the blob (codec, blob id, file id or chunk, size)
   * against its seal. Needed for a plain blob (nothing else authenticates it), checked for an
   * encrypted one when given (its size). Nothing to check without row seals, or for a blob the
   * caller has just written (`ctx.fresh`).
   * @throws CryptoError (naming the blob) when the row has no seal or another one.
   */
  checkRow(blobId: string, codec: string, ctx: BlobContext): void {
    if (!this.seal || ctx.fresh) return;
    const row = ctx.row;
    if (!row) {
      if (codec !== PLAIN_CODEC) return; // the header binds an encrypted blob to file id and blob id
      const err = new CryptoError('wrong-binding', `plain blob ${blobId} of file ${ctx.fileId} read without its database row: refused`);
      this.#report(blobId, ctx, err);
      throw err;
    }
    const expected = row.chunk !== undefined
      ? this.seal.chunk(row.chunk, blobId, codec, row.size)
      : this.seal.ofHolder(row.version ? 'version' : 'node', ctx.fileId, blobId, codec, row.size);
    if (this.seal.matches(expected, row.seal)) return;
    const err = new CryptoError('wrong-binding', `the database row of file ${row.chunk ?? ctx.fileId} (blob ${blobId}, ${codec}, ${row.size} bytes) does not match its seal: the database was altered`);
    this.#report(blobId, ctx, err);
    throw err;
  }

  async get(blobId: string, codec: string, ctx: BlobContext, range?: ByteRange): Promise<Readable> {
    if (codec === PLAIN_CODEC) {
      this.checkRow(blobId, codec, ctx);
      return this.#inner.get(blobId, codec, ctx, range);
    }
    if (codec === FORMAT_ID) this.checkRow(blobId, codec, ctx);
    if (codec === NC_PENDING_CODEC) {
      if (!this.#pending) throw new ImportPendingError(ctx.owner, ctx.fileId, 'it becomes readable once its owner logs in with their password');
      return this.#pending.open(blobId, ctx, range);
    }
    if (codec !== FORMAT_ID) throw new CryptoError('unsupported', `unknown blob codec ${JSON.stringify(codec)}`);
    try {
      const s = await this.#getEncrypted(blobId, ctx, range);
      s.once('error', (err) => this.#report(blobId, ctx, err));
      return s;
    } catch (err) {
      this.#report(blobId, ctx, err);
      throw err;
    }
  }

  async #getEncrypted(blobId: string, ctx: BlobContext, range?: ByteRange): Promise<Readable> {
    const raw = await this.#openStored(blobId, ctx, SMALL_BLOB);
    try {
      const { opened, plainSize } = await this.#verifyHeader(raw, blobId, ctx);
      return await this.#decrypt(raw, opened, plainSize, range);
    } finally {
      raw.close(); // a body stream already took over what it needs
    }
  }

  async #decrypt(raw: OpenedRawBlob, opened: OpenedHeader, plainSize: number, range?: ByteRange): Promise<Readable> {
    const { cipher } = opened.header;
    const contentKey = opened.contentKey;
    if (range) {
      assertByteRange(range);
      if (plainSize === 0 || range.start >= plainSize) return Readable.from([]);
      const cr = chunkRangeFor(range.start, range.end, plainSize);
      const stored = await raw.range(cr.rawStart, cr.rawEnd);
      const dec = new ChunkDecryptStream({ cipher, contentKey, plainSize, firstChunk: cr.firstChunk, lastChunk: cr.lastChunk, sliceStart: cr.sliceStart, sliceLength: cr.sliceLength });
      return primed(pipeline(stored, dec, () => {}));
    }
    const body = await raw.range(HEADER_SIZE, encryptedSize(plainSize) - 1);
    return primed(pipeline(body, new ChunkDecryptStream({ cipher, contentKey, plainSize }), () => {}));
  }

  async size(blobId: string, codec: string, ctx: BlobContext): Promise<number> {
    if (codec === PLAIN_CODEC) return this.#inner.size(blobId, codec, ctx);
    if (codec === NC_PENDING_CODEC && ctx.row) return ctx.row.size;
    if (codec !== FORMAT_ID) throw new CryptoError('unsupported', `unknown blob codec ${JSON.stringify(codec)}`);
    return plaintextSize(await this.#inner.size(blobId, PLAIN_CODEC, ctx));
  }

  delete(blobId: string): Promise<void> { return this.#inner.delete(blobId); }

  list(): AsyncIterable<BlobEntry> { return this.#inner.list(); }
}
