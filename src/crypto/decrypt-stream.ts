import { Transform, type TransformCallback } from 'node:stream';
import { CryptoError } from '../errors.ts';
import { ByteQueue } from './byte-queue.ts';
import { chunkCount } from './blob-sizes.ts';
import { openChunk, tryOpenChunk } from './chunk-cipher.ts';
import { openHeader, type ExpectedIdentity, type KekResolver, type OpenedHeader } from './blob-header.ts';
import { CHUNK_SIZE, HEADER_SIZE, RAW_CHUNK_SIZE, TAG_SIZE, type CipherId } from './format.ts';
import { STREAM_BUFFER } from '../storage/buffer-sizes.ts';

/** Options of the chunk decoder. */
export interface ChunkDecryptOptions {
  readonly cipher: CipherId;
  readonly contentKey: Buffer;
  /** Index of the first chunk in the input (default 0). */
  readonly firstChunk?: number;
  /**
   * Known plaintext size of the whole blob (from the stored size). With it, the decoder knows which
   * chunk is final and exactly how many bytes to expect; without it, the last chunk of the input is
   * the final one (streaming mode).
   */
  readonly plainSize?: number;
  /** Last chunk to decode (inclusive; known-size mode only). Default: the final chunk. */
  readonly lastChunk?: number;
  /** Plaintext window to emit, relative to the first decoded chunk's first byte. */
  readonly sliceStart?: number;
  readonly sliceLength?: number;
}

/**
 * Synchronous core of the chunk decoder: feed raw bytes with write(), call end() at EOF. Hands each
 * chunk's plaintext to `sink` only after its tag verified.
 * Throws CryptoError: "chunk i failed authentication", "blob is truncated …", "data after the final chunk …".
 */
export class ChunkDecoder {
  readonly #sink: (b: Buffer) => void;
  readonly #cipher: CipherId;
  readonly #key: Buffer;
  readonly #queue = new ByteQueue();
  #index: number;
  readonly #finalIndex: number | undefined;
  readonly #plainSize: number | undefined;
  readonly #lastChunk: number | undefined;
  #done = false;
  #skip: number;
  #remaining: number;

  constructor(o: ChunkDecryptOptions, sink: (b: Buffer) => void) {
    this.#sink = sink;
    this.#cipher = o.cipher;
    this.#key = o.contentKey;
    this.#index = o.firstChunk ?? 0;
    this.#plainSize = o.plainSize;
    this.#finalIndex = o.plainSize === undefined ? undefined : chunkCount(o.plainSize) - 1;
    this.#lastChunk = o.plainSize === undefined ? undefined : (o.lastChunk ?? this.#finalIndex);
    this.#skip = o.sliceStart ?? 0;
    this.#remaining = o.sliceLength ?? Number.POSITIVE_INFINITY;
  }

  #emit(pieces: Buffer[]): void {
    for (let p of pieces) {
      if (this.#skip > 0) {
        if (p.length <= this.#skip) { this.#skip -= p.length; continue; }
        p = p.subarray(this.#skip);
        this.#skip = 0;
      }
      if (this.#remaining <= 0) return;
      if (p.length > this.#remaining) p = p.subarray(0, this.#remaining);
      this.#remaining -= p.length;
      this.#sink(p);
    }
  }

  /** Raw size of chunk `i` in known-size mode. */
  #rawSizeOf(i: number): number {
    if (i < this.#finalIndex!) return RAW_CHUNK_SIZE;
    return this.#plainSize! - i * CHUNK_SIZE + TAG_SIZE;
  }

  #open(final: boolean, rawLen: number): void {
    const i = this.#index;
    const ct = this.#queue.take(rawLen - TAG_SIZE);
    const tag = this.#queue.takeContiguous(TAG_SIZE);
    const pt = tryOpenChunk(this.#cipher, this.#key, i, final, ct, tag);
    if (pt) { this.#index++; this.#emit(pt); return; }
    // Name the failure precisely: a valid chunk with the other flag means truncation or extension.
    if (final && rawLen === RAW_CHUNK_SIZE && tryOpenChunk(this.#cipher, this.#key, i, false, ct, tag)) {
      throw new CryptoError('truncated', `blob is truncated (chunk ${i} is not the final chunk)`);
    }
    if (!final && tryOpenChunk(this.#cipher, this.#key, i, true, ct, tag)) {
      throw new CryptoError('extended', `data after the final chunk (chunk ${i} is final; blob was extended)`);
    }
    openChunk(this.#cipher, this.#key, i, final, ct, tag); // throws "chunk i failed authentication"
  }

  #drain(flushing: boolean): void {
    if (this.#finalIndex === undefined) {
      while (this.#queue.length > RAW_CHUNK_SIZE) this.#open(false, RAW_CHUNK_SIZE);
      if (!flushing) return;
      const r = this.#queue.length;
      if (r < TAG_SIZE || (r === TAG_SIZE && this.#index > 0)) {
        throw new CryptoError('truncated', `blob is truncated (chunk ${this.#index} has ${r} bytes)`);
      }
      this.#open(true, r);
      this.#done = true;
      return;
    }
    while (!this.#done) {
      const need = this.#rawSizeOf(this.#index);
      if (this.#queue.length < need) break;
      const isFinal = this.#index === this.#finalIndex;
      this.#open(isFinal, need);
      if (this.#index > this.#lastChunk!) this.#done = true;
    }
    if (this.#done && this.#queue.length > 0) throw new CryptoError('extended', 'data after the final chunk (blob was extended)');
    if (flushing && !this.#done) throw new CryptoError('truncated', `blob is truncated (chunk ${this.#index} is incomplete)`);
  }

  write(chunk: Buffer): void {
    if (this.#done && chunk.length > 0) throw new CryptoError('extended', 'data after the final chunk (blob was extended)');
    this.#queue.push(chunk);
    this.#drain(false);
  }

  end(): void {
    this.#drain(true);
  }
}

/** Transform over ChunkDecoder (raw chunks in, verified plaintext out; errors are CryptoError). */
export class ChunkDecryptStream extends Transform {
  readonly #dec: ChunkDecoder;
  constructor(o: ChunkDecryptOptions) {
    super({ readableHighWaterMark: STREAM_BUFFER, writableHighWaterMark: STREAM_BUFFER });
    this.#dec = new ChunkDecoder(o, (b) => this.push(b));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    try { this.#dec.write(chunk); cb(); } catch (err) { cb(err as Error); }
  }

  override _flush(cb: TransformCallback): void {
    try { this.#dec.end(); cb(); } catch (err) { cb(err as Error); }
  }
}

/** Options of the whole-blob decoder. */
export interface DecryptOptions {
  readonly resolveKek: KekResolver;
  /** Expected file id and blob id (swap and rollback detection); omit only for recovery tools. */
  readonly expected?: ExpectedIdentity;
  /** Called once the header verified (e.g. to learn the file id in recovery). */
  readonly onHeader?: (opened: OpenedHeader) => void;
}

/**
 * Whole-blob decoder (header + chunks, streaming, size unknown). The header is verified before any chunk.
 * Emits CryptoError on every mismatch.
 */
export class DecryptStream extends Transform {
  readonly #opts: DecryptOptions;
  readonly #head = new ByteQueue();
  #inner: ChunkDecoder | undefined;

  constructor(opts: DecryptOptions) {
    super({ readableHighWaterMark: STREAM_BUFFER, writableHighWaterMark: STREAM_BUFFER });
    this.#opts = opts;
  }

  async #start(): Promise<void> {
    const opened = await openHeader(this.#head.takeContiguous(HEADER_SIZE), this.#opts.resolveKek, this.#opts.expected);
    this.#opts.onHeader?.(opened);
    this.#inner = new ChunkDecoder({ cipher: opened.header.cipher, contentKey: opened.contentKey }, (b) => this.push(b));
    for (const rest of this.#head.take(this.#head.length)) this.#inner.write(rest);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.#inner) {
      try { this.#inner.write(chunk); cb(); } catch (err) { cb(err as Error); }
      return;
    }
    this.#head.push(chunk);
    if (this.#head.length < HEADER_SIZE) return cb();
    this.#start().then(() => cb(), cb);
  }

  override _flush(cb: TransformCallback): void {
    if (!this.#inner) {
      cb(new CryptoError('truncated', `blob is truncated (header has ${this.#head.length} of ${HEADER_SIZE} bytes)`));
      return;
    }
    try { this.#inner.end(); cb(); } catch (err) { cb(err as Error); }
  }
}
