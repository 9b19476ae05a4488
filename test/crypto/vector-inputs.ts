import { createHash } from 'node:crypto';
import { encryptBuffer, CIPHER_AES_256_GCM, CIPHER_CHACHA20_POLY1305, type CipherId } from '../../src/crypto/index.ts';

const seq = (from: number, n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (from + i) & 0xff));
/** Fixed inputs of the known-answer vectors (docs/FORMAT.md §10). */
export const VECTOR_INPUTS = {
  dek: seq(0x00, 32), kek: seq(0x20, 32), wrapNonce: seq(0x40, 12), fileId: 42, blobId: seq(0x50, 16), keyId: seq(0x60, 16),
};
export const plaintextOf = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => i % 251));
export const VECTOR_CASES: { name: string; cipher: CipherId; size: number }[] = [
  { name: 'aes-256-gcm, 0 B', cipher: CIPHER_AES_256_GCM, size: 0 },
  { name: 'aes-256-gcm, 1 B', cipher: CIPHER_AES_256_GCM, size: 1 },
  { name: 'aes-256-gcm, 65,537 B', cipher: CIPHER_AES_256_GCM, size: 65537 },
  { name: 'chacha20-poly1305, 1 B', cipher: CIPHER_CHACHA20_POLY1305, size: 1 },
  { name: 'chacha20-poly1305, 65,537 B', cipher: CIPHER_CHACHA20_POLY1305, size: 65537 },
];
export function computeVector(c: { cipher: CipherId; size: number }) {
  const v = VECTOR_INPUTS;
  const raw = encryptBuffer({ cipher: c.cipher, fileId: v.fileId, blobId: v.blobId, keyId: v.keyId, kek: v.kek, dek: Buffer.from(v.dek), wrapNonce: v.wrapNonce }, plaintextOf(c.size));
  return {
    header: raw.subarray(0, 140).toString('hex'),
    blobSize: raw.length,
    ...(raw.length <= 200 ? { blob: raw.toString('hex') } : {}),
    blobSha256: createHash('sha256').update(raw).digest('hex'),
  };
}
