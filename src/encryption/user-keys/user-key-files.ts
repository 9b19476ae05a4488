import { createHash, randomBytes } from 'node:crypto';
import { hashRaw, type Algorithm } from '@node-rs/argon2';
import { CryptoError } from '../../errors.ts';
import { hkdfSha256 } from '../../crypto/kdf.ts';
import { unwrapKey, wrapKey } from '../../crypto/key-wrap.ts';
import { KEY_SIZE } from '../../crypto/format.ts';
import { publicFromPrivate } from '../../crypto/x25519-seal.ts';
import type { KeyScope, KeyStore } from '../../keys/key-store.ts';
import { parseKeyFile } from '../master-key/key-files.ts';

/** argon2id cost of private-key wrapping (KiB, passes, lanes). */
export interface KdfParams {
  readonly memoryCost: number;
  readonly timeCost: number;
  readonly parallelism: number;
}

/** OWASP argon2id option 2 (m = 19 MiB, t = 2, p = 1). */
export const DEFAULT_KDF: KdfParams = Object.freeze({ memoryCost: 19456, timeCost: 2, parallelism: 1 });
const ARGON2ID = 2 as Algorithm;

/** `<uid>.publicKey` / `recovery_<id>.publicKey`. */
export interface PublicKeyFile {
  readonly format: 'coffer-key-v1';
  readonly kind: 'x25519-public';
  /** Owner: a uid, or `recovery`. */
  readonly owner: string;
  /** 16-byte id, hex: first 16 bytes of SHA-256 of the public key. */
  readonly id: string;
  readonly created: string;
  readonly publicKey: string;
}

/** `<uid>.privateKey`, `recovery_<id>.privateKey`, `appPassword_<h>.privateKey`. */
export interface PrivateKeyFile {
  readonly format: 'coffer-key-v1';
  readonly kind: 'x25519-private';
  readonly owner: string;
  readonly id: string;
  readonly created: string;
  /** How `wrapped` is protected. */
  readonly kdf:
    | { readonly alg: 'argon2id'; readonly m: number; readonly t: number; readonly p: number; readonly salt: string }
    | { readonly alg: 'hkdf-sha256'; readonly salt: string };
  /** AES-256-GCM of the 32-byte private key: base64 of nonce ‖ ciphertext ‖ tag. */
  readonly wrapped: string;
}

/** `userRoot.json` (user scope): which sealed root key wraps new data keys. */
export interface UserRootPointer {
  readonly format: 'coffer-key-v1';
  readonly kind: 'user-root-pointer';
  readonly current: string;
}

/** `rootKey_<id>.recovery` (user scope): R_u sealed to the recovery key (the user opted in). */
export interface RecoverySealFile {
  readonly format: 'coffer-key-v1';
  readonly kind: 'user-root-recovery';
  readonly uid: string;
  readonly id: string;
  readonly recoveryKeyId: string;
  readonly sealed: string;
}

/** `keysReset.json` (user scope): key pairs an administrator replaced without recovery. */
export interface KeysResetFile {
  readonly format: 'coffer-key-v1';
  readonly kind: 'keys-reset';
  readonly resets: readonly { readonly at: string; readonly publicKeyId: string }[];
}

export const userPublicName = (uid: string): string => `${uid}.publicKey`;
export const userPrivateName = (uid: string): string => `${uid}.privateKey`;
/** SHA-256 of an app password token, hex: what the database keeps of it. */
export const appPasswordTokenHash = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');
/**
 * Key file of an app password's wrapping, named from the token's hash (which the database keeps), so
 * that revoking an app password by its id can find and delete its wrapping.
 */
export const appPasswordKeyNameFromHash = (tokenHash: string): string => `appPassword_${createHash('sha256').update('coffer app password key v2\0').update(tokenHash, 'latin1').digest('hex').slice(0, 32)}.privateKey`;
export const appPasswordKeyName = (token: string): string => appPasswordKeyNameFromHash(appPasswordTokenHash(token));
/** The name that wrappings made before v2 carry (derived from the token itself); read once and renamed. */
export const legacyAppPasswordKeyName = (token: string): string => `appPassword_${createHash('sha256').update('coffer app password key\0').update(token, 'utf8').digest('hex').slice(0, 32)}.privateKey`;
export const APP_PASSWORD_KEY_FILE = /^appPassword_[0-9a-f]{32}\.privateKey$/;
export const USER_ROOT_POINTER = 'userRoot.json';
export const KEYS_RESET = 'keysReset.json';
export const recoverySealName = (rootIdHex: string): string => `rootKey_${rootIdHex}.recovery`;
export const RECOVERY_SEAL_FILE = /^rootKey_([0-9a-f]{32})\.recovery$/;

/** Id of a public key: SHA-256(pub)[0..16), hex. */
export function publicKeyId(pub: Buffer): string {
  return createHash('sha256').update(pub).digest().subarray(0, 16).toString('hex');
}

function privateAad(owner: string, id: string): Buffer {
  return Buffer.concat([Buffer.from('coffer x25519 private key\0', 'latin1'), Buffer.from(owner, 'utf8'), Buffer.from([0]), Buffer.from(id, 'hex')]);
}

/** argon2id(password, salt) → 32-byte KEK. */
export async function passwordKek(password: string, salt: Buffer, p: KdfParams): Promise<Buffer> {
  return hashRaw(password, { algorithm: ARGON2ID, memoryCost: p.memoryCost, timeCost: p.timeCost, parallelism: p.parallelism, outputLen: KEY_SIZE, salt });
}

/** A private key file wrapped under argon2id(password). */
export async function wrapPrivateWithPassword(owner: string, priv: Buffer, password: string, p: KdfParams): Promise<PrivateKeyFile> {
  const salt = randomBytes(16);
  const id = publicKeyId(publicFromPrivate(priv));
  const kek = await passwordKek(password, salt, p);
  return {
    format: 'coffer-key-v1', kind: 'x25519-private', owner, id, created: new Date().toISOString(),
    kdf: { alg: 'argon2id', m: p.memoryCost, t: p.timeCost, p: p.parallelism, salt: salt.toString('base64') },
    wrapped: wrapKey(kek, priv, privateAad(owner, id)).toString('base64'),
  };
}

/** A private key file wrapped under HKDF(app-password token): tokens carry ~428 bits, no slow KDF needed. */
export function wrapPrivateWithToken(owner: string, priv: Buffer, token: string): PrivateKeyFile {
  const salt = randomBytes(16);
  const id = publicKeyId(publicFromPrivate(priv));
  const kek = hkdfSha256(Buffer.from(token, 'utf8'), salt, Buffer.from('coffer app password private key v1', 'latin1'), KEY_SIZE);
  return {
    format: 'coffer-key-v1', kind: 'x25519-private', owner, id, created: new Date().toISOString(),
    kdf: { alg: 'hkdf-sha256', salt: salt.toString('base64') },
    wrapped: wrapKey(kek, priv, privateAad(owner, id)).toString('base64'),
  };
}

/**
 * Unwraps a private key file with a password (argon2id files) or an app-password token (hkdf files).
 * @throws CryptoError for a wrong secret or an altered file.
 */
export async function unwrapPrivate(f: PrivateKeyFile, secret: string): Promise<Buffer> {
  const salt = Buffer.from(f.kdf.salt, 'base64');
  const kek = f.kdf.alg === 'argon2id'
    ? await passwordKek(secret, salt, { memoryCost: f.kdf.m, timeCost: f.kdf.t, parallelism: f.kdf.p })
    : hkdfSha256(Buffer.from(secret, 'utf8'), salt, Buffer.from('coffer app password private key v1', 'latin1'), KEY_SIZE);
  const priv = unwrapKey(kek, Buffer.from(f.wrapped, 'base64'), privateAad(f.owner, f.id), `private key of ${f.owner}`);
  if (publicKeyId(publicFromPrivate(priv)) !== f.id) throw new CryptoError('wrong-binding', `private key file of ${f.owner} does not match its id`);
  return priv;
}

/** A public key file. */
export function publicKeyFile(owner: string, pub: Buffer): PublicKeyFile {
  return { format: 'coffer-key-v1', kind: 'x25519-public', owner, id: publicKeyId(pub), created: new Date().toISOString(), publicKey: pub.toString('base64') };
}

/** Reads and parses a key file of `kind`, or undefined when missing. @throws CryptoError when damaged. */
export async function readJson<T extends { kind: string }>(store: KeyStore, scope: KeyScope, name: string, kind: T['kind']): Promise<T | undefined> {
  const buf = await store.tryRead(scope, name);
  return buf ? parseKeyFile<T>(buf, kind, name) : undefined;
}

/** Writes a key file as JSON (atomic). */
export async function writeJson(store: KeyStore, scope: KeyScope, name: string, value: object): Promise<void> {
  await store.write(scope, name, JSON.stringify(value, null, 1));
}
