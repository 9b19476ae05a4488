import { Transform, type TransformCallback } from 'node:stream';
import { ByteQueue } from './byte-queue.ts';
import { sealChunk } from './chunk-cipher.ts';
import { sealHeader, type SealParams } from './blob-header.ts';
import { CHUNK_SIZE, type CipherId } from './format.ts';
import { STREAM_BUFFER } from '../storage/buffer-sizes.ts';

/**
 * Streaming cfe1 encoder: plaintext in, header + chunks out. Holds one chunk back so that the last
 * chunk carries the final flag; the empty input becomes the header plus one empty final chunk.
 * Output: the header, then each chunk's ciphertext piece(s) and tag as separate buffers.
 * @throws CryptoError (synchronously) on bad parameters.
 */
export class EncryptStream extends Transform {
  readonly #cipher: CipherId;
  readonly #key: Buffer;
  readonly #queue = new ByteQueue();
  #header: Buffer | undefined;
  #index = 0;
  /** Plaintext bytes consumed so far. */
  plaintextBytes = 0;

  constructor(params: SealParams) {
    super({ readableHighWaterMark: STREAM_BUFFER, writableHighWaterMark: STREAM_BUFFER });
    const sealed = sealHeader(params);
    this.#cipher = sealed.cipher;
    this.#key = sealed.contentKey;
    this.#header = sealed.header;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.plaintextBytes += chunk.length;
    this.#queue.push(chunk);
    if (this.#queue.length <= CHUNK_SIZE) return cb();
    // Ciphertext pieces and tags are pushed as they are (no concatenation: the blob store writes
    // them with writev), all in this tick so that they travel downstream as one batch.
    const out: Buffer[] = [];
    if (this.#header) { out.push(this.#header); this.#header = undefined; }
    while (this.#queue.length > CHUNK_SIZE) {
      sealChunk(this.#cipher, this.#key, this.#index++, false, this.#queue.take(CHUNK_SIZE), out);
    }
    for (const b of out) this.push(b);
    cb();
  }

  override _flush(cb: TransformCallback): void {
    const out: Buffer[] = [];
    if (this.#header) { out.push(this.#header); this.#header = undefined; }
    sealChunk(this.#cipher, this.#key, this.#index++, true, this.#queue.take(this.#queue.length), out);
    this.#key.fill(0);
    cb(null, Buffer.concat(out));
  }
}

/**
 * Encrypts a whole buffer into the pieces of a cfe1 blob: the header, then each chunk's ciphertext
 * and tag, in order (for a writev; no stream machinery, which costs more than the AES of a small
 * file). Same bytes as EncryptStream. @throws CryptoError on bad parameters.
 */
export function encryptToPieces(params: SealParams, plain: Buffer): Buffer[] {
  const sealed = sealHeader(params);
  const out: Buffer[] = [sealed.header];
  const n = plain.length === 0 ? 1 : Math.ceil(plain.length / CHUNK_SIZE);
  for (let i = 0; i < n; i++) {
    sealChunk(sealed.cipher, sealed.contentKey, i, i === n - 1, [plain.subarray(i * CHUNK_SIZE, (i + 1) * CHUNK_SIZE)], out);
  }
  sealed.contentKey.fill(0);
  return out;
}

/** Convenience: encrypts a whole buffer into one (tests, vectors, small key files). @throws CryptoError on bad parameters. */
export function encryptBuffer(params: SealParams, plain: Buffer): Buffer {
  return Buffer.concat(encryptToPieces(params, plain));
}
