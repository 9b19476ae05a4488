import { createHmac, hkdfSync } from 'node:crypto';
import { CHUNK_SHIFT, FORMAT_VERSION, KEY_SIZE, type CipherId, encodeFileId } from './format.ts';

/** HKDF-SHA256 (RFC 5869) returning a Buffer of `length` bytes. */
export function hkdfSha256(ikm: Buffer, salt: Buffer, info: Buffer, length: number): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, length));
}

/** HMAC-SHA256. */
export function hmacSha256(key: Buffer, ...parts: Buffer[]): Buffer {
  const h = createHmac('sha256', key);
  for (const p of parts) h.update(p);
  return h.digest();
}

const INFO_LABEL = Buffer.from('coffer cfe1 content', 'latin1');

/** The HKDF info string binding a blob's keys to its format, cipher, chunk size, file and version. */
export function blobKeyInfo(cipher: CipherId, fileId: number, blobId: Buffer): Buffer {
  return Buffer.concat([INFO_LABEL, Buffer.from([FORMAT_VERSION, cipher, CHUNK_SHIFT, 0]), encodeFileId(fileId), blobId]);
}

/** Content key and commitment key of one blob. */
export interface BlobKeys {
  readonly contentKey: Buffer;
  readonly commitKey: Buffer;
}

/** K_c ‖ K_commit = HKDF-SHA256(IKM = DEK, salt = "", info = blobKeyInfo, L = 64). */
export function deriveBlobKeys(dek: Buffer, cipher: CipherId, fileId: number, blobId: Buffer): BlobKeys {
  const okm = hkdfSha256(dek, Buffer.alloc(0), blobKeyInfo(cipher, fileId, blobId), 2 * KEY_SIZE);
  return { contentKey: okm.subarray(0, KEY_SIZE), commitKey: okm.subarray(KEY_SIZE) };
}
