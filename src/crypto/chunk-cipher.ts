import { createCipheriv, createDecipheriv } from 'node:crypto';
import { CryptoError } from '../errors.ts';
import { NONCE_SIZE, TAG_SIZE, cipherName, type CipherId } from './format.ts';

/** nonce_i = uint64_be(i) ‖ 0x000000 ‖ final (0x00 | 0x01). */
export function chunkNonce(index: number, final: boolean, out: Buffer = Buffer.alloc(NONCE_SIZE)): Buffer {
  // two 32-bit halves: no BigInt per chunk (a chunk index is a safe integer)
  out.writeUInt32BE(Math.floor(index / 0x1_0000_0000), 0);
  out.writeUInt32BE(index >>> 0, 4);
  out[8] = 0; out[9] = 0; out[10] = 0;
  out[11] = final ? 1 : 0;
  return out;
}

// Per chunk, node:crypto copies the nonce into the cipher it creates: one scratch nonce and one
// options object serve every chunk (all of this runs synchronously).
const NONCE = Buffer.alloc(NONCE_SIZE);
const GCM_OPTIONS = { authTagLength: TAG_SIZE };

/**
 * Seals one chunk given as one or more plaintext pieces; appends ciphertext pieces and the tag to `out`.
 */
export function sealChunk(cipher: CipherId, key: Buffer, index: number, final: boolean, pieces: readonly Buffer[], out: Buffer[]): void {
  const c = createCipheriv(cipherName(cipher) as 'aes-256-gcm', key, chunkNonce(index, final, NONCE), GCM_OPTIONS);
  for (const p of pieces) {
    const ct = c.update(p);
    if (ct.length) out.push(ct);
  }
  const fin = c.final();
  if (fin.length) out.push(fin);
  out.push(c.getAuthTag());
}

/**
 * Opens one chunk; returns the plaintext pieces only once the tag has verified.
 * @throws CryptoError("chunk i failed authentication")
 */
export function openChunk(cipher: CipherId, key: Buffer, index: number, final: boolean, pieces: readonly Buffer[], tag: Buffer): Buffer[] {
  const d = createDecipheriv(cipherName(cipher) as 'aes-256-gcm', key, chunkNonce(index, final, NONCE), GCM_OPTIONS);
  d.setAuthTag(tag);
  const out: Buffer[] = [];
  try {
    for (const p of pieces) {
      const pt = d.update(p);
      if (pt.length) out.push(pt);
    }
    const fin = d.final();
    if (fin.length) out.push(fin);
  } catch (err) {
    throw new CryptoError('tag-mismatch', `chunk ${index} failed authentication`, { cause: err });
  }
  return out;
}

/** Like openChunk, but returns undefined instead of throwing (used to name the failure precisely). */
export function tryOpenChunk(cipher: CipherId, key: Buffer, index: number, final: boolean, pieces: readonly Buffer[], tag: Buffer): Buffer[] | undefined {
  try { return openChunk(cipher, key, index, final, pieces, tag); } catch { return undefined; }
}
