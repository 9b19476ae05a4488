import { CryptoError } from '../errors.ts';

/**
 * Constants and header layout of the Coffer content format "cfe1" (docs/FORMAT.md).
 *
 * ```
 * off len field
 *   0   4 magic "CFE1"
 *   4   1 format version (1)
 *   5   1 cipher id (1 = AES-256-GCM, 2 = ChaCha20-Poly1305)
 *   6   1 chunk size exponent (16 → 64 KiB)
 *   7   1 flags (0; reserved)
 *   8   8 file id, uint64 big-endian
 *  16  16 blob (version) id
 *  32  16 key id (the key that wraps the DEK)
 *  48  12 wrap nonce
 *  60  32 wrapped DEK (AES-256-GCM ciphertext)
 *  92  16 wrap tag
 * 108  32 commitment = HMAC-SHA256(K_commit, header[0..108))
 * 140     first chunk
 * ```
 */

/** Codec tag stored by callers for blobs in this format. */
export const FORMAT_ID = 'cfe1';
export const MAGIC = Buffer.from('CFE1', 'latin1');
export const FORMAT_VERSION = 1;
export const CIPHER_AES_256_GCM = 1;
export const CIPHER_CHACHA20_POLY1305 = 2;
export type CipherId = typeof CIPHER_AES_256_GCM | typeof CIPHER_CHACHA20_POLY1305;
export const CHUNK_SHIFT = 16;
export const CHUNK_SIZE = 1 << CHUNK_SHIFT;
export const TAG_SIZE = 16;
export const NONCE_SIZE = 12;
export const KEY_SIZE = 32;
export const BLOB_ID_SIZE = 16;
export const KEY_ID_SIZE = 16;
/** Raw (stored) size of one full chunk: ciphertext + tag. */
export const RAW_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE;
/** Bytes of the header covered by the commitment. */
export const HEADER_BODY_SIZE = 108;
export const COMMITMENT_SIZE = 32;
export const HEADER_SIZE = HEADER_BODY_SIZE + COMMITMENT_SIZE;
/** Largest file id the header can carry (uint64, but JS numbers are exact to 2^53). */
export const MAX_FILE_ID = Number.MAX_SAFE_INTEGER;

/** Parsed fields of a cfe1 header. */
export interface BlobHeader {
  readonly version: number;
  readonly cipher: CipherId;
  readonly chunkShift: number;
  readonly flags: number;
  readonly fileId: number;
  readonly blobId: Buffer;
  readonly keyId: Buffer;
  /** nonce(12) ‖ ciphertext(32) ‖ tag(16). */
  readonly wrappedDek: Buffer;
  readonly commitment: Buffer;
  /** The 108 header bytes the commitment covers. */
  readonly body: Buffer;
}

export function cipherName(id: CipherId): 'aes-256-gcm' | 'chacha20-poly1305' {
  return id === CIPHER_AES_256_GCM ? 'aes-256-gcm' : 'chacha20-poly1305';
}

/** @throws CryptoError when the file id is not a safe non-negative integer. */
export function encodeFileId(fileId: number): Buffer {
  if (!Number.isSafeInteger(fileId) || fileId < 0) throw new Error(`file id ${fileId} is not a valid uint64`);
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(fileId));
  return b;
}

/**
 * Serialises the header body (everything but the commitment).
 * @throws CryptoError on wrong field sizes.
 */
export function encodeHeaderBody(f: { cipher: CipherId; fileId: number; blobId: Buffer; keyId: Buffer; wrappedDek: Buffer }): Buffer {
  if (f.blobId.length !== BLOB_ID_SIZE) throw new Error('blob id must be 16 bytes');
  if (f.keyId.length !== KEY_ID_SIZE) throw new Error('key id must be 16 bytes');
  if (f.wrappedDek.length !== NONCE_SIZE + KEY_SIZE + TAG_SIZE) throw new Error('wrapped data key must be 60 bytes');
  const b = Buffer.alloc(HEADER_BODY_SIZE);
  MAGIC.copy(b, 0);
  b[4] = FORMAT_VERSION;
  b[5] = f.cipher;
  b[6] = CHUNK_SHIFT;
  b[7] = 0;
  encodeFileId(f.fileId).copy(b, 8);
  f.blobId.copy(b, 16);
  f.keyId.copy(b, 32);
  f.wrappedDek.copy(b, 48);
  return b;
}

/**
 * Parses and syntax-checks a header (no cryptographic check: see `openHeader` in blob-header.ts).
 * @throws CryptoError naming the bad field (not a cfe1 blob, unsupported version/cipher/chunk size, truncated).
 */
export function parseHeader(buf: Buffer): BlobHeader {
  if (buf.length < HEADER_SIZE) {
    if (buf.length >= 4 && !buf.subarray(0, 4).equals(MAGIC)) throw new CryptoError('malformed', 'not a cfe1 blob (bad magic)');
    throw new CryptoError('truncated', `blob is truncated (header has ${buf.length} of ${HEADER_SIZE} bytes)`);
  }
  if (!buf.subarray(0, 4).equals(MAGIC)) throw new CryptoError('malformed', 'not a cfe1 blob (bad magic)');
  const version = buf[4];
  if (version !== FORMAT_VERSION) throw new CryptoError('unsupported', `unsupported cfe1 format version ${version}`);
  const cipher = buf[5];
  if (cipher !== CIPHER_AES_256_GCM && cipher !== CIPHER_CHACHA20_POLY1305) throw new CryptoError('unsupported', `unsupported cipher id ${cipher}`);
  const chunkShift = buf[6];
  if (chunkShift !== CHUNK_SHIFT) throw new CryptoError('unsupported', `unsupported chunk size exponent ${chunkShift}`);
  const flags = buf[7];
  if (flags !== 0) throw new CryptoError('unsupported', `unsupported header flags ${flags}`);
  const fid = buf.readBigUInt64BE(8);
  if (fid > BigInt(MAX_FILE_ID)) throw new CryptoError('malformed', 'file id in header is out of range');
  const copy = Buffer.from(buf.subarray(0, HEADER_SIZE));
  return {
    version, cipher, chunkShift, flags,
    fileId: Number(fid),
    blobId: copy.subarray(16, 32),
    keyId: copy.subarray(32, 48),
    wrappedDek: copy.subarray(48, 108),
    commitment: copy.subarray(108, 140),
    body: copy.subarray(0, HEADER_BODY_SIZE),
  };
}
