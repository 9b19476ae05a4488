import { createHash } from 'node:crypto';
import { close as fsClose, closeSync, createReadStream, fstatSync, open as fsOpen, read as fsRead } from 'node:fs';
import { Readable, pipeline } from 'node:stream';
import { CryptoError, NotFoundError, ValidationError } from '../errors.ts';
import { openFd, readFdAt } from '../storage/fd-io.ts';
import { PLAIN_CODEC, hasLocalPaths, type BlobContext, type BlobEntry, type BlobStore, type ByteRange, type PutResult } from '../storage/blob-store.ts';
import { openHeader, openHeaderWithDek, type KekResolver, type OpenedHeader } from '../crypto/blob-header.ts';
import { chunkRangeFor, encryptedSize, plaintextSize } from '../crypto/blob-sizes.ts';
import { ChunkDecryptStream } from '../crypto/decrypt-stream.ts';
import { EncryptStream } from '../crypto/encrypt-stream.ts';
import { CIPHER_AES_256_GCM, FORMAT_ID, HEADER_SIZE, type CipherId } from '../crypto/format.ts';
import { KeyStore } from '../keys/key-store.ts';
import type { EncryptionState } from './encryption-state.ts';
import type { KeyManager } from './key-manager.ts';
import type { ShareKeys } from './share-keys.ts';

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

/**
 * A stored blob opened for decryption: its stored size and header bytes; all of it when it is small
 * and on local disk; else, on local disk, the open descriptor the body is read from.
 */
interface StoredBlob {
  readonly rawSize: number;
  readonly head: Buffer;
  readonly whole?: Buffer;
  /** Open descriptor, until a stream takes it over (then undefined): whoever holds it closes it. */
  fd?: number;
}

/** Stored blobs up to this size are read whole with the header (one positioned read). */
const SMALL_RAW = 1 << 20;
/** Read buffer for larger blobs streamed from an open descriptor. */
const READ_BUFFER = 1 << 20;

async function readAll(s: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

export interface EncryptedBlobStoreOptions {
  /** The store underneath (local disk, S3). */
  inner: BlobStore;
  keys: KeyManager;
  state: EncryptionState;
  /** Default key storage root (the data directory) when the state names none. */
  defaultKeyRoot: string;
  /** Cipher for new blobs (default AES-256-GCM). */
  cipher?: CipherId;
  /** Called once for every read refused by an integrity check (for the audit log). Must not throw. */
  onIntegrityFailure?: (f: IntegrityFailure) => void;
  /** Per-user-mode sharing keys (share keys, keyrings); absent = owner's root key only. */
  shareKeys?: ShareKeys;
}

/** A refused read: which blob, whose file, and what failed. */
export interface IntegrityFailure {
  readonly blobId: string;
  readonly fileId: number;
  readonly owner: string;
  readonly reason: string;
}

/**
 * BlobStore decorator: encrypts new blobs in the cfe1 format while encryption is enabled (codec
 * 'cfe1'), stores them as they are otherwise (codec 'plain'), and reads both. Sizes are plaintext
 * sizes; ranges read only the chunks they need. Every integrity failure is a CryptoError.
 */
export class EncryptedBlobStore implements BlobStore {
  readonly #inner: BlobStore;
  readonly #keys: KeyManager;
  readonly #state: EncryptionState;
  readonly #defaultRoot: string;
  readonly #cipher: CipherId;
  readonly #onFailure: ((f: IntegrityFailure) => void) | undefined;
  readonly #shareKeys: ShareKeys | undefined;

  constructor(o: EncryptedBlobStoreOptions) {
    this.#inner = o.inner;
    this.#keys = o.keys;
    this.#state = o.state;
    this.#defaultRoot = o.defaultKeyRoot;
    this.#cipher = o.cipher ?? CIPHER_AES_256_GCM;
    this.#onFailure = o.onIntegrityFailure;
    this.#shareKeys = o.shareKeys;
    this.#shareKeys?.attachHeaderReader((blobId, ctx) => this.#readHeaderBytes(blobId, ctx));
  }

  /** The 140 header bytes of a stored blob (one positioned read on local disk, a ranged GET elsewhere). */
  async #readHeaderBytes(blobId: string, ctx: BlobContext): Promise<Buffer> {
    const inner = this.#inner;
    if (hasLocalPaths(inner)) {
      // Callback API, one promise: a FileHandle costs several promise round trips per header.
      return new Promise<Buffer>((resolve, reject) => {
        fsOpen(inner.pathOf(blobId), 'r', (err, fd) => {
          if (err) { reject(err.code === 'ENOENT' ? new NotFoundError(`blob ${blobId} is missing`) : err); return; }
          const buf = Buffer.alloc(HEADER_SIZE);
          fsRead(fd, buf, 0, HEADER_SIZE, 0, (rerr, n) => {
            fsClose(fd, () => (rerr ? reject(rerr) : resolve(buf.subarray(0, n))));
          });
        });
      });
    }
    return readAll(await inner.get(blobId, PLAIN_CODEC, ctx, { start: 0, end: HEADER_SIZE - 1 }));
  }

  /** Resolves user root keys (and master-mode keys) by id, for `ctx.owner`'s blobs. */
  rootResolver(ctx: BlobContext): KekResolver {
    return (keyId) => this.#keys.resolveKey(keyId, ctx.owner);
  }

  #report(blobId: string, ctx: BlobContext, err: unknown): void {
    if (!(err instanceof CryptoError) || !this.#onFailure) return;
    try { this.#onFailure({ blobId, fileId: ctx.fileId, owner: ctx.owner, reason: err.message }); } catch { /* never masks the error */ }
  }

  get inner(): BlobStore { return this.#inner; }

  async #syncState(): Promise<boolean> {
    const s = await this.#state.get();
    const root = s.keyRoot ?? this.#defaultRoot;
    if (this.#keys.keyStore.root !== root) this.#keys.setKeyStore(new KeyStore(root));
    return s.enabled;
  }

  /** @throws as BlobStore.put; CryptoError/NotFoundError when encryption is on but keys are unusable. */
  async put(blobId: string, source: Readable, ctx: BlobContext): Promise<PutResult> {
    if (!(await this.#syncState())) return this.#inner.put(blobId, source, ctx);
    return this.putEncrypted(blobId, source, ctx);
  }

  /** Writes a cfe1 blob regardless of the enabled switch (encrypt-all). */
  async putEncrypted(blobId: string, source: Readable, ctx: BlobContext): Promise<PutResult> {
    await this.#syncState();
    const key = (await this.#shareKeys?.keyForWrite(ctx)) ?? await this.#keys.userKeyForWrite(ctx.owner);
    const enc = new EncryptStream({ cipher: this.#cipher, fileId: ctx.fileId, blobId: blobIdBytes(blobId), keyId: key.id, kek: key.key });
    // pipeline, not pipe: a source that closes without ending (client gone) must fail the put.
    pipeline(source, enc, () => {});
    let res: PutResult;
    try {
      res = await this.#inner.put(blobId, enc, ctx);
    } catch (err) {
      source.unpipe(enc);
      enc.destroy();
      source.destroy();
      throw err;
    }
    if (res.size !== encryptedSize(enc.plaintextBytes)) {
      await this.#inner.delete(blobId);
      throw new CryptoError(`stored size ${res.size} of blob ${blobId} does not match its plaintext size ${enc.plaintextBytes}`);
    }
    return { size: enc.plaintextBytes, codec: FORMAT_ID };
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
    const stored = await this.#openStored(blobId, ctx);
    if (stored.fd !== undefined) closeSync(stored.fd);
    return this.#verifyHeader(stored, blobId, ctx);
  }

  /**
   * Reads a stored blob's size and header. On local disk: open, fstat and one positioned read of
   * the whole blob when it is small (else of the header, and the descriptor is kept open for the
   * body: the caller closes it). fstat and close of a read-only descriptor do no I/O, so they run
   * synchronously instead of costing a thread-pool round trip each. Elsewhere (S3): size, then a
   * ranged get of the header.
   * @throws NotFoundError for a missing blob.
   */
  async #openStored(blobId: string, ctx: BlobContext): Promise<StoredBlob> {
    await this.#syncState();
    const inner = this.#inner;
    if (!hasLocalPaths(inner)) {
      const rawSize = await inner.size(blobId, PLAIN_CODEC, ctx);
      const head = await readAll(await inner.get(blobId, PLAIN_CODEC, ctx, { start: 0, end: HEADER_SIZE - 1 }));
      return { rawSize, head };
    }
    let fd: number;
    try {
      fd = await openFd(inner.pathOf(blobId), 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new NotFoundError(`blob ${blobId} is missing`);
      throw err;
    }
    let keep = false;
    try {
      const rawSize = fstatSync(fd).size;
      if (rawSize <= SMALL_RAW) {
        const whole = await readFdAt(fd, rawSize, 0);
        return { rawSize: whole.length, head: whole.subarray(0, HEADER_SIZE), whole };
      }
      const head = await readFdAt(fd, HEADER_SIZE, 0);
      keep = true;
      return { rawSize, head, fd };
    } finally {
      if (!keep) closeSync(fd);
    }
  }

  /** Checks a stored blob's framing and header (see openHeader). */
  async #verifyHeader(stored: StoredBlob, blobId: string, ctx: BlobContext): Promise<{ opened: OpenedHeader; plainSize: number }> {
    const plainSize = plaintextSize(stored.rawSize);
    const head = stored.head;
    const expected = { fileId: ctx.fileId, blobId: blobIdBytes(blobId) };
    if (this.#shareKeys && await this.#shareKeys.active()) {
      // Per-user mode: share keys for sharees and links, keyrings for blobs older than the share.
      const { header, dek } = await this.#shareKeys.dataKey(head, ctx, expected, this.rootResolver(ctx));
      try { return { opened: openHeaderWithDek(header, dek), plainSize }; } finally { dek.fill(0); }
    }
    const opened = await openHeader(head, this.rootResolver(ctx), expected);
    return { opened, plainSize };
  }

  async get(blobId: string, codec: string, ctx: BlobContext, range?: ByteRange): Promise<Readable> {
    if (codec === PLAIN_CODEC) return this.#inner.get(blobId, codec, ctx, range);
    if (codec !== FORMAT_ID) throw new CryptoError(`unknown blob codec ${JSON.stringify(codec)}`);
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
    const stored = await this.#openStored(blobId, ctx);
    try {
      const { opened, plainSize } = await this.#verifyHeader(stored, blobId, ctx);
      return await this.#decrypt(blobId, ctx, stored, opened, plainSize, range);
    } finally {
      if (stored.fd !== undefined) closeSync(stored.fd); // not taken over by a stream
    }
  }

  /**
   * The stored bytes [start, end] of an opened blob: a slice of a small one, a stream from its open
   * descriptor (which the stream takes over and closes when it ends or is destroyed), or a ranged
   * get (S3).
   */
  async #rawRange(blobId: string, ctx: BlobContext, stored: StoredBlob, start: number, end: number): Promise<Readable> {
    if (stored.whole) return Readable.from([stored.whole.subarray(start, end + 1)], { objectMode: false });
    const fd = stored.fd;
    if (fd !== undefined && hasLocalPaths(this.#inner)) {
      stored.fd = undefined;
      return createReadStream(this.#inner.pathOf(blobId), { fd, start, end, autoClose: true, highWaterMark: Math.max(1024, Math.min(READ_BUFFER, end - start + 1)) });
    }
    return this.#inner.get(blobId, PLAIN_CODEC, ctx, { start, end });
  }

  async #decrypt(blobId: string, ctx: BlobContext, stored: StoredBlob, opened: OpenedHeader, plainSize: number, range?: ByteRange): Promise<Readable> {
    const { cipher } = opened.header;
    const contentKey = opened.contentKey;
    if (range) {
      if (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) || range.start < 0 || range.end < range.start) {
        throw new ValidationError(`invalid byte range ${range.start}-${range.end}`);
      }
      if (plainSize === 0 || range.start >= plainSize) return Readable.from([]);
      const cr = chunkRangeFor(range.start, range.end, plainSize);
      const raw = await this.#rawRange(blobId, ctx, stored, cr.rawStart, cr.rawEnd);
      const dec = new ChunkDecryptStream({ cipher, contentKey, plainSize, firstChunk: cr.firstChunk, lastChunk: cr.lastChunk, sliceStart: cr.sliceStart, sliceLength: cr.sliceLength });
      return primed(pipeline(raw, dec, () => {}));
    }
    const raw = await this.#rawRange(blobId, ctx, stored, HEADER_SIZE, encryptedSize(plainSize) - 1);
    return primed(pipeline(raw, new ChunkDecryptStream({ cipher, contentKey, plainSize }), () => {}));
  }

  async size(blobId: string, codec: string, ctx: BlobContext): Promise<number> {
    if (codec === PLAIN_CODEC) return this.#inner.size(blobId, codec, ctx);
    if (codec !== FORMAT_ID) throw new CryptoError(`unknown blob codec ${JSON.stringify(codec)}`);
    return plaintextSize(await this.#inner.size(blobId, PLAIN_CODEC, ctx));
  }

  delete(blobId: string): Promise<void> { return this.#inner.delete(blobId); }

  list(): AsyncIterable<BlobEntry> { return this.#inner.list(); }
}
