import { CryptoError } from '../errors.ts';
import { CHUNK_SIZE, HEADER_SIZE, RAW_CHUNK_SIZE, TAG_SIZE } from './format.ts';

/** Number of chunks for a plaintext of `plain` bytes (the empty file is one empty final chunk). */
export function chunkCount(plain: number): number {
  return plain === 0 ? 1 : Math.ceil(plain / CHUNK_SIZE);
}

/** Stored size of a cfe1 blob holding `plain` plaintext bytes: 140 + plain + 16 × chunks. */
export function encryptedSize(plain: number): number {
  if (!Number.isSafeInteger(plain) || plain < 0) throw new CryptoError('malformed', `invalid plaintext size ${plain}`);
  return HEADER_SIZE + plain + TAG_SIZE * chunkCount(plain);
}

/**
 * Plaintext size of a cfe1 blob of `raw` stored bytes.
 * @throws CryptoError("blob is truncated" / "impossible blob size") when no plaintext has that stored size.
 */
export function plaintextSize(raw: number): number {
  if (!Number.isSafeInteger(raw) || raw < 0) throw new CryptoError('malformed', `invalid blob size ${raw}`);
  const body = raw - HEADER_SIZE;
  if (body < TAG_SIZE) throw new CryptoError('truncated', `blob is truncated (${raw} bytes is shorter than a header and one chunk)`);
  const n = Math.ceil(body / RAW_CHUNK_SIZE);
  const last = body - (n - 1) * RAW_CHUNK_SIZE;
  if (last < TAG_SIZE + 1 && !(n === 1 && last === TAG_SIZE)) {
    throw new CryptoError('malformed', `impossible blob size ${raw}: the final chunk would hold ${last - TAG_SIZE} bytes (blob truncated or extended)`);
  }
  return body - n * TAG_SIZE;
}

/** Raw byte range to read for a plaintext range, and how to cut the decrypted chunks. */
export interface ChunkRange {
  /** First and last chunk index to decrypt (inclusive). */
  readonly firstChunk: number;
  readonly lastChunk: number;
  /** Inclusive raw byte offsets of those chunks in the blob. */
  readonly rawStart: number;
  readonly rawEnd: number;
  /** Offset into the decrypted bytes of `firstChunk` where the range starts, and its length. */
  readonly sliceStart: number;
  readonly sliceLength: number;
}

/**
 * Which chunks hold plaintext bytes [start, end] (inclusive) of a blob of `plain` bytes.
 * `end` is clamped to the last byte. @throws CryptoError when start is outside the plaintext.
 */
export function chunkRangeFor(start: number, end: number, plain: number): ChunkRange {
  if (!Number.isSafeInteger(start) || start < 0 || start >= plain || end < start) {
    throw new Error(`range ${start}-${end} is outside a plaintext of ${plain} bytes`);
  }
  const last = Math.min(end, plain - 1);
  const firstChunk = Math.floor(start / CHUNK_SIZE);
  const lastChunk = Math.floor(last / CHUNK_SIZE);
  const rawStart = HEADER_SIZE + firstChunk * RAW_CHUNK_SIZE;
  const lastChunkPlain = Math.min(CHUNK_SIZE, plain - lastChunk * CHUNK_SIZE);
  const rawEnd = HEADER_SIZE + lastChunk * RAW_CHUNK_SIZE + lastChunkPlain + TAG_SIZE - 1;
  return { firstChunk, lastChunk, rawStart, rawEnd, sliceStart: start - firstChunk * CHUNK_SIZE, sliceLength: last - start + 1 };
}
