import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { CryptoError } from '../errors.ts';
import { hkdfSha256 } from './kdf.ts';
import { unwrapKey, wrapKey } from './key-wrap.ts';
import { KEY_SIZE } from './format.ts';

/** Raw X25519 key sizes. */
export const X25519_KEY_SIZE = 32;
const SEAL_INFO = Buffer.from('coffer x25519 seal v1', 'latin1');

/** A raw X25519 key pair (32-byte private scalar, 32-byte public point). */
export interface X25519KeyPair {
  readonly privateKey: Buffer;
  readonly publicKey: Buffer;
}

function privObj(raw: Buffer): KeyObject {
  if (raw.length !== X25519_KEY_SIZE) throw new CryptoError('malformed', 'X25519 private key must be 32 bytes');
  return createPrivateKey({ key: { kty: 'OKP', crv: 'X25519', d: raw.toString('base64url'), x: publicFromPrivate(raw).toString('base64url') }, format: 'jwk' });
}

function pubObj(raw: Buffer): KeyObject {
  if (raw.length !== X25519_KEY_SIZE) throw new CryptoError('malformed', 'X25519 public key must be 32 bytes');
  return createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x: raw.toString('base64url') }, format: 'jwk' });
}

/** A fresh random X25519 key pair. */
export function generateX25519(): X25519KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const jwk = privateKey.export({ format: 'jwk' });
  return { privateKey: Buffer.from(jwk.d!, 'base64url'), publicKey: Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url') };
}

/** The public key of a raw private key. @throws CryptoError for a wrong length. */
export function publicFromPrivate(raw: Buffer): Buffer {
  if (raw.length !== X25519_KEY_SIZE) throw new CryptoError('malformed', 'X25519 private key must be 32 bytes');
  // PKCS#8 DER of an X25519 key: fixed 16-byte prefix ‖ 32-byte scalar.
  const der = Buffer.concat([Buffer.from('302e020100300506032b656e04220420', 'hex'), raw]);
  const k = createPublicKey(createPrivateKey({ key: der, format: 'der', type: 'pkcs8' }));
  return Buffer.from(k.export({ format: 'jwk' }).x!, 'base64url');
}

function sealKey(shared: Buffer, eph: Buffer, recipient: Buffer): Buffer {
  if (shared.every((b) => b === 0)) throw new CryptoError('malformed', 'X25519 produced an all-zero shared secret (small-order public key)');
  return hkdfSha256(shared, Buffer.concat([eph, recipient]), SEAL_INFO, KEY_SIZE);
}

/**
 * Seals `plaintext` to `recipientPublic` (HPKE-style base mode): ephemeral X25519 key pair, ECDH,
 * HKDF-SHA256(shared, salt = ephPub ‖ recipientPub) → AES-256-GCM with `aad`.
 * Returns ephPub(32) ‖ nonce(12) ‖ ciphertext ‖ tag(16).
 * @throws CryptoError for a malformed public key.
 */
export function sealTo(recipientPublic: Buffer, plaintext: Buffer, aad: Buffer): Buffer {
  const eph = generateKeyPairSync('x25519');
  const ephPub = Buffer.from(eph.publicKey.export({ format: 'jwk' }).x!, 'base64url');
  const shared = diffieHellman({ privateKey: eph.privateKey, publicKey: pubObj(recipientPublic) });
  return Buffer.concat([ephPub, wrapKey(sealKey(shared, ephPub, recipientPublic), plaintext, aad)]);
}

/**
 * Opens a value sealed by `sealTo` with the recipient's raw private key.
 * @throws CryptoError when the key, the AAD or the sealed bytes are wrong.
 */
export function openSealed(recipientPrivate: Buffer, sealed: Buffer, aad: Buffer, what = 'sealed key'): Buffer {
  if (sealed.length < X25519_KEY_SIZE + 28) throw new CryptoError('truncated', `${what} could not be opened: sealed value is too short`);
  const ephPub = sealed.subarray(0, X25519_KEY_SIZE);
  const shared = diffieHellman({ privateKey: privObj(recipientPrivate), publicKey: pubObj(ephPub) });
  return unwrapKey(sealKey(shared, ephPub, publicFromPrivate(recipientPrivate)), sealed.subarray(X25519_KEY_SIZE), aad, what);
}
