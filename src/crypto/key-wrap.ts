import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { CryptoError } from '../errors.ts';
import { KEY_SIZE, NONCE_SIZE, TAG_SIZE } from './format.ts';

/**
 * AES-256-GCM key wrap with associated data: returns nonce(12) ‖ ciphertext ‖ tag(16).
 * `nonce` may be injected (test vectors); otherwise it is random.
 * @throws CryptoError when the KEK is not 32 bytes.
 */
export function wrapKey(kek: Buffer, key: Buffer, aad: Buffer, nonce: Buffer = randomBytes(NONCE_SIZE)): Buffer {
  if (kek.length !== KEY_SIZE) throw new Error('key-encryption key must be 32 bytes');
  if (nonce.length !== NONCE_SIZE) throw new Error('wrap nonce must be 12 bytes');
  const c = createCipheriv('aes-256-gcm', kek, nonce);
  c.setAAD(aad);
  const ct = Buffer.concat([c.update(key), c.final()]);
  return Buffer.concat([nonce, ct, c.getAuthTag()]);
}

/**
 * Inverse of `wrapKey`.
 * @throws CryptoError("… could not be unwrapped …") when the KEK, the AAD or the wrapped bytes are wrong.
 */
export function unwrapKey(kek: Buffer, wrapped: Buffer, aad: Buffer, what = 'key'): Buffer {
  if (kek.length !== KEY_SIZE) throw new Error('key-encryption key must be 32 bytes');
  if (wrapped.length < NONCE_SIZE + TAG_SIZE) throw new CryptoError('truncated', `${what} could not be unwrapped: wrapped value is too short`);
  const d = createDecipheriv('aes-256-gcm', kek, wrapped.subarray(0, NONCE_SIZE));
  d.setAAD(aad);
  d.setAuthTag(wrapped.subarray(wrapped.length - TAG_SIZE));
  try {
    return Buffer.concat([d.update(wrapped.subarray(NONCE_SIZE, wrapped.length - TAG_SIZE)), d.final()]);
  } catch (err) {
    throw new CryptoError('tag-mismatch', `${what} could not be unwrapped: wrong key, or the wrapped key or its context was altered`, { cause: err });
  }
}
